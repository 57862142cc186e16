"""Runner overhead: `run_benchmark` (one worker) vs. the sum of the raw codec and metric calls for the same
work. Target: overhead <= 5 %. Both are repeated alternately and the fastest of each is compared, as wall
time and as CPU time of this process and its children (the fairer figure on a machine other jobs share).

    python -m codecbench.benchmarks.runner_overhead --limit 20
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from codecbench.alignment import align, estimate_delay
from codecbench.audio import load_audio, resample
from codecbench.codecs import load_codec
from codecbench.datasets import select
from codecbench.metrics import evaluate
from codecbench.pipeline import WORKING_RATE, max_lag
from codecbench.runner import run_benchmark


def cpu_seconds() -> float:
    """User + system time of this process and its waited-for children (Codec 2 decodes in a child)."""
    return sum(os.times()[:4])


class Clock:
    """Wall and CPU seconds accumulated over timed spans."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> "Clock":
        self._wall, self._cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += cpu_seconds() - self._cpu


def raw_seconds(selection, specs: list[str], metrics: list[str]) -> tuple[Clock, Clock]:
    """Time spent in codec encode+decode and in metric computation, called directly."""
    codec_clock, metric_clock = Clock(), Clock()
    codecs = [load_codec(s) for s in specs]
    for utt in selection.utterances:
        audio = load_audio(utt.path, WORKING_RATE).samples
        for codec in codecs:
            x = resample(audio, WORKING_RATE, codec.sample_rate)
            with codec_clock:
                decoded = codec.decode(codec.encode(x))
            y = resample(decoded, codec.sample_rate, WORKING_RATE)
            ref, deg = align(audio, y, estimate_delay(audio, y, max_lag()))
            with metric_clock:
                evaluate(metrics, ref, deg, WORKING_RATE)
    return codec_clock, metric_clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None)
    parser.add_argument("--split", default=None, help="default: the embedded sample (test-other with --root)")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--codecs", default="opus@6,opus@12,codec2@2.4,codec2@1.2")
    parser.add_argument("--metrics", default="pesq_wb,pesq_nb,stoi,estoi")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    selection = select("librispeech", args.root, args.split, args.limit)
    specs, metrics = args.codecs.split(","), args.metrics.split(",")
    raws, runs = [], []
    for _ in range(args.repeats):
        raws.append(raw_seconds(selection, specs, metrics))
        with tempfile.TemporaryDirectory() as out, Clock() as run:
            run_benchmark(selection, specs, metrics, out, workers=1, progress=False)
        runs.append(run)
    print(f"{selection.dataset} {selection.split}: utterances={len(selection.utterances)} specs={len(specs)} "
          f"metrics={metrics}")
    for what in ("wall", "cpu"):
        codec_s, metric_s = min(((getattr(c, what), getattr(m, what)) for c, m in raws), key=sum)
        run_s, raw = min(getattr(r, what) for r in runs), codec_s + metric_s
        print(f"{what}: raw codec {codec_s:.2f} s + raw metrics {metric_s:.2f} s = {raw:.2f} s; "
              f"runner (1 worker) {run_s:.2f} s -> overhead {100 * (run_s - raw) / raw:+.1f} %")


if __name__ == "__main__":
    main()
