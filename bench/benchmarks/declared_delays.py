"""Declared output delays against the phase-blind estimate and the metrics, on the embedded LibriSpeech sample.

Per codec spec: every utterance coded once (seed 0); the envelope estimate of each decode against its input
(median, min, max, its methods and confidence range); then, on the utterances shorter than `--scan-max-s`, mean STOI
and PESQ-WB with the decode aligned at the declared delay plus each offset of `--shifts` (the declared delay, or 0,
plus 0 is what `--align auto` removes), and the offset where each peaks. A zero-delay
phase-free control (each utterance resynthesised by a centred 1024/256 STFT with random phases) is reported as the
spec `control` (its true delay is 0 by construction).

    python -m codecbench.benchmarks.declared_delays --codecs gan-mel,mel2mel:steps=8,latent2mel:steps=10

Prints one line per spec with the estimate, and one per (spec, metric) with the mean at each shift.
"""

from __future__ import annotations

import argparse

import numpy as np

from codecbench.alignment import align, estimate_envelope_delay
from codecbench.metrics import evaluate
from codecbench.pipeline import WORKING_RATE, max_lag

METRICS = ["stoi", "pesq_wb"]


def phase_free_control(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """`x` from its own centred 1024/256 STFT magnitudes with random phases: true delay 0, no waveform match."""
    import torch

    window = torch.hann_window(1024)
    spec = torch.stft(torch.from_numpy(x), 1024, 256, window=window, center=True, return_complex=True)
    phase = (torch.rand(spec.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1) * np.pi
    return torch.istft(torch.polar(spec.abs(), phase), 1024, 256, window=window, center=True, length=len(x)).numpy()


def _decodes(spec: str, audio: list) -> tuple[int | None, list[np.ndarray]]:
    """(declared delay at 16 kHz, the seed-0 decode of each utterance)."""
    if spec == "control":
        return 0, [phase_free_control(a.samples) for a in audio]
    from codecbench.codecs import load_codec
    from codecbench.pipeline import code

    codec = load_codec(spec)
    return codec.known_delay_at(WORKING_RATE), [code(codec, a, seed=0).decodes[0] for a in audio]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codecs", required=True, help="comma-separated codec specs (and/or `control`)")
    parser.add_argument("--shifts", default="-128:129:16",
                        help="start:stop:step of the offsets from the declared delay scanned (samples)")
    parser.add_argument("--scan-max-s", type=float, default=5.2, help="scan utterances shorter than this")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    import torch

    from codecbench.audio import load_audio
    from codecbench.datasets import select
    from codecbench.datasets.librispeech import EMBEDDED_ROOT, SAMPLE_SPLIT

    torch.set_num_threads(args.threads)
    shifts = list(range(*(int(v) for v in args.shifts.split(":"))))
    audio = [load_audio(u.path, WORKING_RATE) for u in select("librispeech", EMBEDDED_ROOT, SAMPLE_SPLIT).utterances]
    for spec in [s.strip() for s in args.codecs.split(",") if s.strip()]:
        declared, decoded = _decodes(spec, audio)
        estimates = [estimate_envelope_delay(a.samples, d, max_lag(WORKING_RATE), WORKING_RATE)
                     for a, d in zip(audio, decoded)]
        lags = np.array([e.samples for e in estimates])
        methods = {m: sum(e.method == m for e in estimates) for m in sorted({e.method for e in estimates})}
        confidence = [e.confidence for e in estimates]
        print(f"{spec}: declared {declared}, estimate median {np.median(lags):g} (min {lags.min()}, max {lags.max()}), "
              f"confidence {min(confidence):.2f}-{max(confidence):.2f}, {methods}", flush=True)
        scanned = [(a.samples, d) for a, d in zip(audio, decoded) if len(a.samples) < args.scan_max_s * WORKING_RATE]
        if not scanned or not shifts:
            continue
        means = {m: np.zeros(len(shifts)) for m in METRICS}
        for reference, degraded in scanned:
            for i, shift in enumerate(shifts):
                values = evaluate(METRICS, *align(reference, degraded, (declared or 0) + shift), WORKING_RATE).values
                for metric in METRICS:
                    means[metric][i] += values[metric] / len(scanned)
        for metric, mean in means.items():
            row = " ".join(f"{s}:{v:.4f}" for s, v in zip(shifts, mean))
            print(f"  {metric} (n={len(scanned)}) peak at declared{shifts[int(np.argmax(mean))]:+d}: {row}", flush=True)


if __name__ == "__main__":
    main()
