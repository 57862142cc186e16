"""CPU time of one decode per diffusion-codec spec: the cost of samplers and their step counts.

Decodes the first 3 s of the embedded utterance 1688-142285-0003 once per spec, after an untimed warm-up
decode of the same parts (DDIM, 2 steps), and prints the network evaluations the decode made and its
process CPU time per second of audio (robust to other load on the machine, though a loaded machine
still inflates it; compare specs measured in one session).

    python -m codecbench.benchmarks.sampler_cost "ladiffcodec@1.5:sampler=midway,tau=100" \\
        "ladiffcodec@1.5:sampler=infill-forward,tau=100" --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

from codecbench.audio import load_audio
from codecbench.codecs import load_codec, parse_spec
from codecbench.datasets.librispeech import EMBEDDED_ROOT, SAMPLE_SPLIT

CLIP = EMBEDDED_ROOT / SAMPLE_SPLIT / "1688" / "142285" / "1688-142285-0003.flac"
SECONDS = 3.0


def decode_cost(spec: str, signal) -> tuple[float, float]:
    """(network evaluations, CPU ms per second of audio) of one decode of `signal` by `spec`."""
    codec = load_codec(spec)
    encoded = codec.encode(signal)
    load_codec(f"{parse_spec(spec).name}@{codec.kbps:g}:sampler=ddim,steps=2").decode(encoded)  # warm-up
    cpu = time.process_time()
    codec.decode(encoded)
    cpu = time.process_time() - cpu
    return codec.decode_info().get("denoiser_calls", 0.0), 1000 * cpu / (len(signal) / codec.sample_rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("specs", nargs="+", help="diffusion codec specs (DDPM/DDIM-capable codecs)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    signal = load_audio(CLIP, 16000).samples[: int(SECONDS * 16000)]
    print(f"{CLIP.stem}, first {SECONDS:g} s, {args.threads} thread(s)")
    for spec in args.specs:
        calls, cost = decode_cost(spec, signal)
        print(f"{spec}\t{calls:.0f} network evaluations\t{cost:.0f} CPU ms per s of audio", flush=True)


if __name__ == "__main__":
    main()
