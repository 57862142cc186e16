"""Engine wall time: the same run (utterances x codec specs x metrics) through each engine, repeated
alternately; the fastest repeat of each is compared. The machine's load average is printed next to every
timing (other jobs on a shared machine slow every repeat).

    python -m codecbench.benchmarks.engine_speed --root ../shared/data/LibriSpeech --split test-other \\
        --codecs opus@6 --metrics pesq_wb,stoi --workers 2 --engines local,ray
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass

import pandas as pd

from codecbench.datasets import select
from codecbench.engines import make_engine
from codecbench.runner import run_benchmark


def load() -> str:
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


@dataclass(frozen=True)
class Timing:
    """One run: the engine's start-up (Ray's init), the run itself, and its rows (per-stage seconds)."""

    startup_s: float
    run_s: float
    rows: pd.DataFrame


def timed_run(selection, specs: list[str], metrics: list[str], engine_name: str, workers: int) -> Timing:
    """Time one run in a fresh folder (torch codecs on one thread in every engine)."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        with make_engine(engine_name, workers, threads=1) as engine:
            engine.start()
            started = time.perf_counter()
            result = run_benchmark(selection, specs, metrics, out, workers=workers, progress=False, engine=engine)
            finished = time.perf_counter()
    return Timing(started - start, finished - started, result.rows)


def stage_costs(rows: pd.DataFrame) -> str:
    """Seconds of coding (encode + decode) and of scoring per second of audio, per spec (the scale model's input)."""
    per_spec = rows.groupby("spec", sort=False)[["duration_s", "encode_s", "decode_s", "metrics_s"]].sum()
    return "; ".join(f"{spec}: code {(r.encode_s + r.decode_s) / r.duration_s * 1000:.1f} ms/s, "
                     f"score {r.metrics_s / r.duration_s * 1000:.1f} ms/s" for spec, r in per_spec.iterrows())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None)
    parser.add_argument("--split", default=None, help="default: the embedded sample (test-other with --root)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--codecs", default="opus@6")
    parser.add_argument("--metrics", default="pesq_wb,stoi")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engines", default="local", help="comma-separated engine names")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    selection = select("librispeech", args.root, args.split, args.limit)
    specs, metrics, engines = args.codecs.split(","), args.metrics.split(","), args.engines.split(",")
    print(f"{selection.dataset} {selection.split}: utterances={len(selection.utterances)} specs={specs} "
          f"metrics={metrics} workers={args.workers}")
    best: dict[str, Timing] = {}
    for repeat in range(args.repeats):
        for name in engines:
            before = load()
            timing = timed_run(selection, specs, metrics, name, args.workers)
            print(f"repeat {repeat + 1} {name}: run {timing.run_s:.2f} s (+ start-up {timing.startup_s:.2f} s)  "
                  f"[{before}; after: {load()}]", flush=True)
            print(f"  stage costs (wall, in the workers): {stage_costs(timing.rows)}", flush=True)
            if name not in best or timing.run_s < best[name].run_s:
                best[name] = timing
    for name, timing in best.items():
        ratio = f"  ({timing.run_s / best[engines[0]].run_s:.2f} x {engines[0]})" if name != engines[0] else ""
        print(f"fastest {name}: run {timing.run_s:.2f} s, start-up {timing.startup_s:.2f} s{ratio}")


if __name__ == "__main__":
    main()
