"""CPU (or GPU) speed of the neural codecs on real speech: encode and decode as multiples of real time.

Lyra runs its published weights. EnCodec and DAC run their real transformers architectures with RANDOM
weights when the published checkpoints are not available (as on the development machines): the same
computation, so the same speed, but their audio means nothing. `encodec batched` codes all utterances in
one padded batch (EnCodec is causal; see `TransformersRVQCodec.batches`).

    python benchmarks/neural_speed.py --limit 10 --threads 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from codecbench.audio import load_audio, resample
from codecbench.codecs import Codec, codec_availability, load_codec, parse_spec
from codecbench.codecs import dac, encodec
from codecbench.datasets import select


RANDOM_WEIGHTS = {"encodec": (encodec.EncodecCodec, "EncodecModel", encodec.published_config),
                  "dac": (dac.DacCodec, "DacModel", dac.published_config)}


def build(spec: str, threads: int, device: str) -> tuple[Codec, str]:
    """The codec of `spec` with its published weights if available, else (EnCodec, DAC) random weights."""
    parsed = parse_spec(spec)
    name, point = parsed.name, parsed.point
    if name == "lyra":
        return load_codec(f"{spec}:threads={threads}"), "published"
    if codec_availability(name).available:
        return load_codec(spec).to(device), "published"
    codec_class, model_class, config = RANDOM_WEIGHTS[name]
    model = getattr(__import__("transformers"), model_class)(config())
    return codec_class(float(point), model=model).to(device), "RANDOM (plumbing)"


def timed(fn, *args):
    """Result, wall seconds and process CPU seconds (CPU time is robust to other load on the machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def time_codec(codec: Codec, signals: list[np.ndarray]) -> np.ndarray:
    """[encode wall, encode cpu, decode wall, decode cpu] seconds summed over the signals."""
    codec.decode(codec.encode(signals[0]))  # warm-up, not counted
    totals = np.zeros(4)
    for x in signals:
        encoded, *encode_times = timed(codec.encode, x)
        _, *decode_times = timed(codec.decode, encoded)
        totals += [*encode_times, *decode_times]
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--specs", default="lyra@3.2,lyra@6,lyra@9.2,encodec@6,dac@6")
    parser.add_argument("--limit", type=int, default=10, help="test-other utterances (sorted order)")
    parser.add_argument("--threads", type=int, default=1, help="torch and TFLite threads")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    selection = select("librispeech", None, "test-other", args.limit)
    speech = [load_audio(u.path, 16000).samples for u in selection.utterances]
    audio_s = sum(len(x) for x in speech) / 16000
    print(f"{len(speech)} utterances, {audio_s:.1f} s of audio, {args.threads} thread(s), {args.device}")
    print(f"{'spec':18} {'weights':18} {'encode xRT wall / cpu':>22} {'decode xRT wall / cpu':>22}")
    for spec in args.specs.split(","):
        codec, weights = build(spec, args.threads, args.device)
        signals = [resample(x, 16000, codec.sample_rate) for x in speech]
        rows = [(spec, time_codec(codec, signals))]
        if spec.startswith("encodec"):
            encoded, *encode_times = timed(codec.encode_batch, signals)
            _, *decode_times = timed(codec.decode_batch, encoded)
            rows.append((spec + " batched", np.array([*encode_times, *decode_times])))
        for label, seconds in rows:
            speed = audio_s / seconds
            print(f"{label:18} {weights:18} {speed[0]:10.1f} / {speed[1]:9.1f} {speed[2]:10.1f} / {speed[3]:9.1f}")


if __name__ == "__main__":
    main()
