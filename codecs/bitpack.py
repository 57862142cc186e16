"""Codebook indices as transmitted bits: fixed-width packing and the empirical entropy of the indices."""

from __future__ import annotations

import numpy as np


def packed_size(frames: int, codebooks: int, bits: int) -> int:
    """Bytes that `pack_indices` writes for `frames` x `codebooks` indices of `bits` bits."""
    return -(-frames * codebooks * bits // 8)


def pack_indices(indices: np.ndarray, bits: int) -> bytes:
    """Pack indices [frames, codebooks] into bytes, `bits` bits each.

    Frame-major; within a frame the first codebook comes first and every index is written most
    significant bit first (Lyra's bit order); the stream is zero-padded to a whole byte at the end only.

    Raises:
        ValueError: not a 2-D array, or an index outside [0, 2**bits).
    """
    indices = np.asarray(indices)
    if indices.ndim != 2:
        raise ValueError(f"expected indices [frames, codebooks], got shape {indices.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= 1 << bits):
        raise ValueError(f"{bits}-bit packing needs indices in [0, {1 << bits}); got {indices.min()}..{indices.max()}")
    shifts = np.arange(bits - 1, -1, -1)
    bit_array = (indices.astype(np.int64)[..., None] >> shifts) & 1
    return np.packbits(bit_array.reshape(-1).astype(np.uint8)).tobytes()


def unpack_indices(data: bytes, bits: int, frames: int, codebooks: int) -> np.ndarray:
    """The inverse of `pack_indices`: int64 indices [frames, codebooks].

    Raises:
        ValueError: `data` is not exactly `packed_size(frames, codebooks, bits)` bytes.
    """
    expected = packed_size(frames, codebooks, bits)
    if len(data) != expected:
        raise ValueError(f"corrupt or truncated bitstream: {len(data)} bytes where {frames} frames of "
                         f"{codebooks} x {bits}-bit indices need {expected}")
    bit_array = np.unpackbits(np.frombuffer(data, np.uint8))[: frames * codebooks * bits]
    weights = 1 << np.arange(bits - 1, -1, -1)
    return (bit_array.reshape(frames, codebooks, bits).astype(np.int64) * weights).sum(axis=-1)


def index_entropy_kbps(indices: np.ndarray, duration_s: float) -> float:
    """Empirical (plug-in) entropy of each codebook's indices over one signal, summed over codebooks, in kbps.

    The rate an ideal memoryless entropy coder adapted to this very signal would reach: a lower bound
    on what a real, pre-trained entropy coder gets, and biased low for short signals.

    Args:
        indices: [frames, codebooks].
        duration_s: the signal's duration (the same normalisation as `measured_kbps`).
    """
    indices = np.asarray(indices)
    total_bits = 0.0
    for column in indices.T:
        _, counts = np.unique(column, return_counts=True)
        p = counts / counts.sum()
        total_bits += float(-(p * np.log2(p)).sum()) * len(column)
    return total_bits / duration_s / 1000.0
