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

from codecbench.datasets import select
from codecbench.engines import make_engine
from codecbench.runner import run_benchmark


def load() -> str:
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def timed_run(selection, specs: list[str], metrics: list[str], engine_name: str, workers: int) -> tuple[float, float]:
    """(start-up seconds, run seconds) of one run in a fresh folder; start-up is the engine's own (Ray's init)."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        with make_engine(engine_name, workers) as engine:
            engine.start()
            started = time.perf_counter()
            run_benchmark(selection, specs, metrics, out, workers=workers, progress=False, engine=engine)
            finished = time.perf_counter()
    return started - start, finished - started


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
    best: dict[str, tuple[float, float]] = {}
    for repeat in range(args.repeats):
        for name in engines:
            before = load()
            startup, run = timed_run(selection, specs, metrics, name, args.workers)
            print(f"repeat {repeat + 1} {name}: run {run:.2f} s (+ start-up {startup:.2f} s)  "
                  f"[{before}; after: {load()}]", flush=True)
            if name not in best or run < best[name][1]:
                best[name] = (startup, run)
    for name, (startup, run) in best.items():
        ratio = f"  ({run / best[engines[0]][1]:.2f} x {engines[0]})" if name != engines[0] else ""
        print(f"fastest {name}: run {run:.2f} s, start-up {startup:.2f} s{ratio}")


if __name__ == "__main__":
    main()
