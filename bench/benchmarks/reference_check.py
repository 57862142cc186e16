"""Independent reference computation of PESQ-WB / STOI / kbps for Opus and Codec 2, compared with a run.

Shares no code with the runner: Opus goes through an Ogg file written and read by PyAV's container API
(FFmpeg's own resampler brings 48 kHz back to 16 kHz), Codec 2 through pycodec2 with scipy's polyphase
resampler and one byte-aligned frame at a time, PESQ with its own time alignment, STOI through pystoi's
own resampler after trimming the known Opus pre-skip, and bitrate from the Ogg packets' sizes.

    python -m codecbench.benchmarks.reference_check --run results/demo
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pycodec2
import soundfile as sf
from pesq import pesq
from pystoi import stoi
from scipy.signal import resample_poly
from tqdm import tqdm

from codecbench.codecs import parse_spec

CODEC2_MODES = {"codec2@2.4": 2400, "codec2@1.2": 1200, "codec2@3.2": 3200}


def opus_reference(x: np.ndarray, kbps: float) -> tuple[np.ndarray, float]:
    """Encode to an in-memory Ogg/Opus file and decode it back to 16 kHz with FFmpeg's resampler."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=16000, layout="mono")
        stream.bit_rate = int(kbps * 1000)
        stream.codec_context.options = {"application": "voip", "frame_duration": "20", "vbr": "off"}
        pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = 16000
        payload = 0
        for packet in list(stream.encode(frame)) + list(stream.encode(None)):
            payload += packet.size
            container.mux(packet)
    buffer.seek(0)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    chunks = []
    with av.open(buffer, "r") as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float64) / 32767, 8 * payload / (len(x) / 16000) / 1000


def codec2_reference(x: np.ndarray, mode: int) -> tuple[np.ndarray, float]:
    """pycodec2 at 8 kHz with scipy polyphase resampling; kbps from the mode's bits per frame."""
    codec = pycodec2.Codec2(mode)
    n = codec.samples_per_frame()
    x8 = resample_poly(x, 1, 2)
    x8 = np.pad(x8, (0, -len(x8) % n))
    pcm = (np.clip(x8, -1, 1) * 32767).astype(np.int16)
    frames = [codec.encode(pcm[i : i + n]) for i in range(0, len(pcm), n)]
    decoder = pycodec2.Codec2(mode)
    y8 = np.concatenate([decoder.decode(f) for f in frames]).astype(np.float64) / 32767
    bits = codec.bits_per_frame() * len(frames)
    return resample_poly(y8, 2, 1), bits / (len(x) / 16000) / 1000


def reference_scores(path: Path, spec: str) -> dict[str, float]:
    x, rate = sf.read(path, dtype="float64")
    assert rate == 16000, path
    parsed = parse_spec(spec)
    if parsed.name == "opus":
        y, kbps = opus_reference(x, float(parsed.point))
    else:
        y, kbps = codec2_reference(x, CODEC2_MODES[spec])
    corr = np.correlate(y[:48000], x[:48000 - 2000], mode="valid") if len(x) > 50000 else None
    lag = int(np.argmax(corr)) if corr is not None else 0
    y = y[lag:]
    n = min(len(x), len(y))
    return {"pesq_wb": pesq(16000, x[:n], y[:n], "wb"), "stoi": stoi(x[:n], y[:n], 16000), "measured_kbps": kbps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a run directory with these specs and pesq_wb, stoi")
    parser.add_argument("--specs", default="opus@6,opus@12,codec2@2.4")
    args = parser.parse_args()
    run = Path(args.run)
    rows = pd.read_parquet(run / "utterances.parquet")
    files = pd.read_csv(run / "manifest.csv").set_index("utterance")["path"]
    table = []
    for spec in args.specs.split(","):
        mine = rows[rows["spec"] == spec]
        ref = pd.DataFrame([reference_scores(Path(files[u]), spec) for u in tqdm(mine["utterance"], desc=spec)])
        for column, tolerance in (("pesq_wb", 0.06), ("stoi", 0.015), ("measured_kbps", None)):
            ours, theirs = mine[column].mean(), ref[column].mean()
            limit = tolerance if tolerance is not None else 0.02 * theirs
            table.append({"spec": spec, "metric": column, "codecbench": ours, "reference": theirs,
                          "difference": ours - theirs, "tolerance": limit, "agrees": abs(ours - theirs) <= limit})
    print(pd.DataFrame(table).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
