"""What the served dither does to every stimulus of a MUSHRA test: loudness change, noise level, samples moved.

Each stimulus file is dithered as `serve` dithers it (TPDF, +-1 LSB peak, 16 bits), with a fresh random
seed per file, and compared with the file: BS.1770 loudness change (LU), RMS of the added noise (dBFS,
full scale = 1), share of samples that moved.

    python -m codecbench.benchmarks.mushra_dither results/mushra-demo
"""

from __future__ import annotations

import argparse
import secrets

import numpy as np
import soundfile as sf

from codecbench.listening_test.dither import tpdf_dither
from codecbench.listening_test.stimuli import integrated_loudness
from codecbench.listening_test.testdef import STIMULI_DIR, load_test


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("test_dir", metavar="TESTDIR", help="a test folder written by `codecbench mushra build`")
    args = parser.parse_args(argv)
    test = load_test(args.test_dir)
    changes, noise, moved = [], [], []
    for path in sorted(test.path(STIMULI_DIR).rglob("*.wav")):
        pcm, rate = sf.read(str(path), dtype="int16", always_2d=True)
        dithered = tpdf_dither(pcm, secrets.randbits(63))
        difference = (dithered.astype(np.int64) - pcm) / 32768.0
        changes.append(integrated_loudness(dithered / 32767.0, rate) - integrated_loudness(pcm / 32767.0, rate))
        noise.append(20 * np.log10(np.sqrt(np.mean(difference ** 2))))
        moved.append(np.mean(difference != 0))
    changes = np.abs(changes)
    print(f"{len(changes)} stimuli: loudness change median {np.median(changes):.5f} LU, max {changes.max():.5f} LU; "
          f"added noise {np.mean(noise):.1f} dBFS RMS; samples moved {np.mean(moved) * 100:.1f} %")


if __name__ == "__main__":
    main()
