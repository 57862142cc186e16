"""Alignment on a public listening set: per condition of `../shared/data/mushra/stahl2024` (16 items, the
files time-aligned by their authors except AudioDec, which keeps its ~9 ms delay), the lags each `--align` mode
chooses and STOI / PESQ-WB after that alignment vs. unaligned, every file resampled to 16 kHz.

    python -m codecbench.benchmarks.alignment_check [--root ../shared/data/mushra/stahl2024] [--modes auto,xcorr]

Prints one line per (condition, mode): lags (min / median / max, samples at 16 kHz), items flagged, and the mean
of each metric aligned, unaligned and their mean paired difference with its largest drop.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from codecbench.alignment import align, delay_rule
from codecbench.audio import load_audio
from codecbench.metrics import evaluate
from codecbench.pipeline import WORKING_RATE, max_lag

METRICS = ["stoi", "pesq_wb"]


def _shared_root() -> Path:
    from codecbench.resources import shared_dirs

    found = [d / "data" / "mushra" / "stahl2024" for d in shared_dirs()]
    return next((d for d in found if d.is_dir()), Path("../shared/data/mushra/stahl2024"))


def _scores(reference: np.ndarray, degraded: np.ndarray, delay: int) -> dict[str, float]:
    ref, deg = align(reference, degraded, delay)
    return dict(evaluate(METRICS, ref, deg, WORKING_RATE).values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=None, help="the stahl2024 folder (default: ../shared/...)")
    parser.add_argument("--modes", default="auto,xcorr", help="comma-separated --align modes to compare")
    parser.add_argument("--items", type=int, default=16, help="use the first N items")
    args = parser.parse_args()
    root = args.root or _shared_root()
    stims = sorted((root / "audio").glob("stim_*"))[: args.items]
    if not stims:
        raise SystemExit(f"no stim_* folders under {root / 'audio'}")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    conditions = sorted(p.stem for p in stims[0].glob("*.wav") if p.stem != "ref")
    lag = max_lag(WORKING_RATE)
    for condition in conditions:
        unaligned, results = defaultdict(list), {m: defaultdict(list) for m in modes}
        for stim in stims:
            reference = load_audio(stim / "ref.wav", WORKING_RATE, check=False).samples
            degraded = load_audio(stim / f"{condition}.wav", WORKING_RATE, check=False).samples
            for metric, value in _scores(reference, degraded, 0).items():
                unaligned[metric].append(value)
            for mode in modes:
                delay = delay_rule(reference, degraded, mode, None, lag, WORKING_RATE)
                results[mode]["lag"].append(delay.samples)
                results[mode]["flagged"].append(bool(delay.flag))
                results[mode]["confidence"].append(delay.confidence)
                results[mode]["method"].append(delay.method)
                for metric, value in _scores(reference, degraded, delay.samples).items():
                    results[mode][metric].append(value)
        for mode in modes:
            r = results[mode]
            lags = np.array(r["lag"])
            parts = [f"{condition:14s} {mode:9s} lag {lags.min():5d} / {int(np.median(lags)):5d} / {lags.max():5d}",
                     f"flagged {sum(r['flagged']):2d}/{len(lags)}",
                     "methods " + ",".join(f"{m}:{r['method'].count(m)}" for m in sorted(set(r["method"])))]
            for metric in METRICS:
                after, before = np.array(r[metric]), np.array(unaligned[metric])
                diff = after - before
                parts.append(f"{metric} {np.nanmean(after):.3f} vs {np.nanmean(before):.3f} "
                             f"(diff {np.nanmean(diff):+.3f}, worst {np.nanmin(diff):+.3f})")
            print("  ".join(parts), flush=True)


if __name__ == "__main__":
    main()
