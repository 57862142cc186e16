"""Benchmark of the metric stage: cost of each metric in ms per second of audio, and the parallel
efficiency of the metric stage (`score_pair` in a process pool) with 1 and 2 workers.

    python benchmarks/metric_cost.py [--utterances 12] [--pairs 24]

Pairs are real test-other utterances against their opus@6 decoding. Models and JIT-compiled code are
warmed up before timing. Efficiency(n) = T(1 worker) / (n x T(n workers)). Prints one JSON object.
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
    from codecbench.runner import score_pair

    seconds = sum(len(ref) for ref, _ in pairs) / 16000
    cost = {}
    for name in names:
        score_pair(pairs[0][0][:32000], pairs[0][1][:32000], 16000, [name], 4000)  # load models, JIT
        start = time.perf_counter()
        for ref, deg in pairs:
            score_pair(ref, deg, 16000, [name], 4000)
        first = time.perf_counter() - start
        start = time.perf_counter()
        for ref, deg in pairs:  # the same references again: what every further codec of a run pays
            score_pair(ref, deg, 16000, [name], 4000)
        again = time.perf_counter() - start
        cost[name] = {"ms_per_s": round(1000 * first / seconds, 1), "ms_per_s_cached_ref": round(1000 * again / seconds, 1)}
        print(name, cost[name], flush=True)
    return cost


def _warm(names: list[str]) -> None:
    """Load every model and compile every JIT in this worker, then hold it so the next warm-up goes
    to another worker."""
    from codecbench.metrics import evaluate

    x = np.sin(np.linspace(0, 2000, 32000)).astype(np.float32) * np.hanning(32000).astype(np.float32)
    evaluate(names, x, x * 0.9, 16000)
    time.sleep(2)


def stage_time(names: list[str], pairs: list[tuple[np.ndarray, np.ndarray]], workers: int) -> float:
    """Wall time of scoring every pair in the runner's pool of `workers` warmed-up processes."""
    from codecbench.runner import metric_pool, score_pair

    with metric_pool(workers) as pool:
        for future in [pool.submit(_warm, names) for _ in range(workers)]:
            future.result()
        start = time.perf_counter()
        futures = [pool.submit(score_pair, ref, deg, 16000, names, 4000) for ref, deg in pairs]
        for future in futures:
            future.result()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utterances", type=int, default=12, help="pairs for the per-metric cost")
    parser.add_argument("--pairs", type=int, default=24, help="pairs for the parallel-efficiency measurement")
    parser.add_argument("--metrics", default=None, help="metrics (default: every available one)")
    args = parser.parse_args()

    from codecbench.metrics import default_metric_names, metric_availability, metric_names

    names = args.metrics.split(",") if args.metrics else [n for n in metric_names() if metric_availability(n).available]
    pairs = coded_pairs(max(args.utterances, args.pairs))
    load_before = os.getloadavg()
    cost = per_metric_cost(names, pairs[: args.utterances])
    stage = default_metric_names()
    # Distinct references per pair: each worker computes reference-side features itself.
    one = stage_time(stage, pairs[: args.pairs], 1)
    two = stage_time(stage, pairs[: args.pairs], 2)
    result = {
        "audio_s_per_metric": round(sum(len(r) for r, _ in pairs[: args.utterances]) / 16000, 1),
        "ms_per_second_of_audio": cost,
        "stage_metrics": stage,
        "stage_pairs": args.pairs,
        "stage_s": {"1": round(one, 2), "2": round(two, 2)},
        "parallel_efficiency": {"1": 1.0, "2": round(one / (2 * two), 3)},
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
