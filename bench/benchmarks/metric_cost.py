"""Benchmark of the metric stage: cost of each metric in ms per second of audio, and the parallel
efficiency of the metric stage (`pipeline.score` in the local engine's process pool) with 1 and 2 workers.

    python -m codecbench.benchmarks.metric_cost [--utterances 8] [--pairs 16] [--repeats 3]

Pairs are real test-other utterances against their opus@6 decoding. Models and JIT-compiled code are
warmed up before timing. Per-metric cost is given as CPU time of this process (robust to other load on a
shared machine) and as wall time. Efficiency(n) = T(1 worker) / (n x T(n workers)), wall times, the best
of `--repeats` alternating runs; on a machine that other work keeps busy it cannot reach 1, so the
total worker CPU time is reported too (work efficiency = CPU(1) / CPU(n): the work parallelism adds). Prints one JSON object (and progress lines before it).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import numpy as np


def coded_pairs(limit: int, spec: str = "opus@6") -> list[tuple[np.ndarray, np.ndarray]]:
    """(reference, decoded) pairs at 16 kHz from the bundled LibriSpeech test-other sample."""
    from codecbench.audio import load_audio, resample
    from codecbench.codecs import load_codec
    from codecbench.datasets import select

    codec = load_codec(spec)
    pairs = []
    for utt in select("librispeech", None, "test-other", limit).utterances:
        x = load_audio(utt.path, 16000).samples
        decoded = codec.decode(codec.encode(resample(x, 16000, codec.sample_rate)))
        pairs.append((x, resample(decoded, codec.sample_rate, 16000)))
    return pairs


def per_metric_cost(names: list[str], pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, dict[str, float]]:
    """ms per second of audio of each metric alone, warmed up; reference caches count as in a run."""
    from codecbench.pipeline import Coded, score

    seconds = sum(len(ref) for ref, _ in pairs) / 16000

    def timed() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for ref, deg in pairs:
            score(Coded.external(ref, deg), [name])
        return 1000 * (time.process_time() - cpu) / seconds, 1000 * (time.perf_counter() - wall) / seconds

    cost = {}
    for name in names:
        score(Coded.external(pairs[0][0][:32000], pairs[0][1][:32000]), [name])  # load models, JIT
        cpu, wall = timed()
        cpu_again, wall_again = timed()  # the same references again: what every further codec of a run pays
        cost[name] = {"cpu_ms_per_s": round(cpu, 1), "cpu_ms_per_s_cached_ref": round(cpu_again, 1),
                      "wall_ms_per_s": round(wall, 1), "wall_ms_per_s_cached_ref": round(wall_again, 1)}
        print(name, cost[name], flush=True)
    return cost


def _warm(names: list[str]) -> None:
    """Load every model and compile every JIT in this worker, then hold it so the next warm-up goes
    to another worker."""
    from codecbench.metrics import evaluate

    x = np.sin(np.linspace(0, 2000, 32000)).astype(np.float32) * np.hanning(32000).astype(np.float32)
    evaluate(names, x, x * 0.9, 16000)
    time.sleep(2)


def _cpu_timed_score(ref: np.ndarray, deg: np.ndarray, names: list[str]) -> float:
    """CPU seconds a worker spends scoring one pair."""
    from codecbench.pipeline import Coded, score

    start = time.process_time()
    score(Coded.external(ref, deg), names)
    return time.process_time() - start


def stage_time(names: list[str], pairs: list[tuple[np.ndarray, np.ndarray]], workers: int) -> tuple[float, float]:
    """Wall time and total worker CPU time of scoring every pair in the runner's pool of `workers`
    warmed-up processes."""
    from codecbench.engines.local import metric_pool

    with metric_pool(workers) as pool:
        for future in [pool.submit(_warm, names) for _ in range(workers)]:
            future.result()
        start = time.perf_counter()
        futures = [pool.submit(_cpu_timed_score, ref, deg, names) for ref, deg in pairs]
        cpu = sum(future.result() for future in futures)
        return time.perf_counter() - start, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utterances", type=int, default=8, help="pairs for the per-metric cost")
    parser.add_argument("--pairs", type=int, default=16, help="pairs for the parallel-efficiency measurement")
    parser.add_argument("--repeats", type=int, default=3, help="alternating 1- and 2-worker runs (best counts)")
    parser.add_argument("--skip-cost", action="store_true", help="measure only the parallel efficiency")
    parser.add_argument("--metrics", default=None, help="metrics (default: every available one)")
    args = parser.parse_args()

    from codecbench.metrics import default_metric_names, metric_availability, metric_names

    names = args.metrics.split(",") if args.metrics else [n for n in metric_names() if metric_availability(n).available]
    pairs = coded_pairs(max(args.utterances, args.pairs))
    load_before = os.getloadavg()
    cost = {} if args.skip_cost else per_metric_cost(names, pairs[: args.utterances])
    stage = default_metric_names()
    # Distinct references per pair: each worker computes reference-side features itself.
    times: dict[int, list[float]] = {1: [], 2: []}
    cpu_times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.repeats):
        for workers in (1, 2):
            wall, cpu = stage_time(stage, pairs[: args.pairs], workers)
            times[workers].append(wall)
            cpu_times[workers].append(cpu)
            print(f"{workers} worker(s): {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    one, two = min(times[1]), min(times[2])
    result = {
        "audio_s_per_metric": round(sum(len(r) for r, _ in pairs[: args.utterances]) / 16000, 1),
        "ms_per_second_of_audio": cost,
        "stage_metrics": stage,
        "stage_pairs": args.pairs,
        "stage_s": {str(w): [round(t, 2) for t in ts] for w, ts in times.items()},
        "stage_cpu_s": {str(w): [round(t, 2) for t in ts] for w, ts in cpu_times.items()},
        "parallel_efficiency": {"1": 1.0, "2": round(one / (2 * two), 3)},
        # Work added by the second worker (duplicated model loads, reference features, IPC): 1.0 = none.
        "work_efficiency": {"1": 1.0, "2": round(min(cpu_times[1]) / min(cpu_times[2]), 3)},
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
