"""Runner overhead: wall time of `run_benchmark` (one worker) vs. the sum of the raw codec and metric calls
for the same work. Target: overhead <= 5 %. Both are repeated alternately and the fastest of each is
compared, which keeps other load on the machine from deciding the result.

    python -m codecbench.benchmarks.runner_overhead --limit 20
"""

from __future__ import annotations

import argparse
import tempfile
import time

from codecbench.alignment import align, estimate_delay
from codecbench.audio import load_audio, resample
from codecbench.codecs import load_codec
from codecbench.datasets import select
from codecbench.metrics import evaluate
from codecbench.pipeline import WORKING_RATE, max_lag
from codecbench.runner import run_benchmark


def raw_seconds(selection, specs: list[str], metrics: list[str]) -> tuple[float, float]:
    """Seconds spent in codec encode+decode and in metric computation, called directly."""
    codec_s = metric_s = 0.0
    codecs = [load_codec(s) for s in specs]
    for utt in selection.utterances:
        audio = load_audio(utt.path, WORKING_RATE).samples
        for codec in codecs:
            x = resample(audio, WORKING_RATE, codec.sample_rate)
            start = time.perf_counter()
            decoded = codec.decode(codec.encode(x))
            codec_s += time.perf_counter() - start
            y = resample(decoded, codec.sample_rate, WORKING_RATE)
            ref, deg = align(audio, y, estimate_delay(audio, y, max_lag()))
            start = time.perf_counter()
            evaluate(metrics, ref, deg, WORKING_RATE)
            metric_s += time.perf_counter() - start
    return codec_s, metric_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None)
    parser.add_argument("--split", default="test-other")
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
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            run_benchmark(selection, specs, metrics, out, workers=1, progress=False)
            runs.append(time.perf_counter() - start)
    codec_s, metric_s = min(raws, key=sum)
    run_s = min(runs)
    raw = codec_s + metric_s
    print(f"utterances={len(selection.utterances)} specs={len(specs)} metrics={metrics}")
    print(f"raw codec {codec_s:.2f} s + raw metrics {metric_s:.2f} s = {raw:.2f} s")
    print(f"runner (1 worker) {run_s:.2f} s -> overhead {100 * (run_s - raw) / raw:+.1f} %")


if __name__ == "__main__":
    main()
