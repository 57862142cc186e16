"""Fresh TPDF dither at the 16-bit LSB for every stimulus a listener receives.

The stimuli files are 16-bit PCM, and the hidden reference's file is the open reference's file. Served
as they are, a script finds the hidden reference by comparing bytes. So every time a stimulus goes out
under its key (one key per listener, trial and stimulus), triangular (TPDF) dither of +-1 LSB peak is
added and the sum rounded back to 16 bits: about one sample in four moves by one LSB, the added noise is
white at -101 dBFS RMS (a quarter LSB squared, the noise of proper TPDF-dithered 16-bit quantisation),
and BS.1770 loudness moves by less than 0.001 LU. No two stimuli a listener (or any two listeners)
receive are equal in bytes or samples, yet none is audibly different from its file.

The dither of a key is seeded by HMAC-SHA256(database secret, key): a key always gets the same bytes
(re-fetching and averaging cannot strip the dither), and without the secret, which never leaves the
database, nobody can recompute it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from pathlib import Path

import numpy as np
import soundfile as sf


def dither_seed(secret: bytes, key: str) -> int:
    """The dither seed of one stimulus key."""
    return int.from_bytes(hmac.new(secret, key.encode(), hashlib.sha256).digest()[:8], "little")


def tpdf_dither(pcm: np.ndarray, seed: int) -> np.ndarray:
    """`pcm` (int16, any shape) plus TPDF dither of +-1 LSB peak, rounded back to int16."""
    rng = np.random.default_rng(seed)
    noise = rng.random(pcm.shape) - rng.random(pcm.shape)  # triangular on (-1, 1) LSB
    return np.clip(pcm + np.rint(noise), -32768, 32767).astype(np.int16)


def dithered_wav(path: Path, seed: int) -> bytes:
    """The 16-bit WAV file at `path`, freshly dithered with `seed`, as WAV bytes of the same length."""
    pcm, rate = sf.read(str(path), dtype="int16", always_2d=True)
    buffer = io.BytesIO()
    sf.write(buffer, tpdf_dither(pcm, seed), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
