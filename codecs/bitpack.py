"""Transmitted bits: bit-exact packing of fixed-width unsigned fields (codebook indices, side information)
and the empirical entropy of codebook indices."""

from __future__ import annotations

import numpy as np


def packed_size(frames: int, codebooks: int, bits: int) -> int:
    """Bytes that `pack_indices` writes for `frames` x `codebooks` indices of `bits` bits."""
    return -(-frames * codebooks * bits // 8)


def _bits_of(values: np.ndarray, bits: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    if not 1 <= bits <= 32:
        raise ValueError(f"bits must be 1-32, not {bits}")
    if values.size and (values.min() < 0 or values.max() >= 1 << bits):
        raise ValueError(f"{bits}-bit packing needs values in [0, {1 << bits}); got {values.min()}..{values.max()}")
    shifts = np.arange(bits - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] >> shifts) & 1).astype(np.uint8).reshape(-1)


def pack_fields(fields: list[tuple[np.ndarray, int]]) -> bytes:
    """Concatenate fields of (values, bits per value), most significant bit first, into one bitstream;
    only the last byte is zero-padded: `len(result) == ceil(sum(values.size * bits) / 8)`.

    Raises:
        ValueError: a value does not fit in its width.
    """
    stream = [_bits_of(values, bits) for values, bits in fields]
    return np.packbits(np.concatenate(stream) if stream else np.zeros(0, np.uint8)).tobytes()


def unpack_fields(data: bytes, layout: list[tuple[int, int]]) -> list[np.ndarray]:
    """Inverse of `pack_fields`: one int64 array per (count, bits) entry of `layout`.

    Raises:
        ValueError: `data` holds fewer bits than the layout needs (a truncated bitstream).
    """
    flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    needed = sum(count * bits for count, bits in layout)
    if flat.size < needed:
        raise ValueError(f"truncated bitstream: {flat.size} bits, the layout needs {needed}")
    fields, offset = [], 0
    for count, bits in layout:
        matrix = flat[offset: offset + count * bits].reshape(count, bits).astype(np.int64)
        fields.append(matrix @ (1 << np.arange(bits - 1, -1, -1, dtype=np.int64)))
        offset += count * bits
    return fields


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
    return pack_fields([(indices, bits)])


def unpack_indices(data: bytes, bits: int, frames: int, codebooks: int) -> np.ndarray:
    """The inverse of `pack_indices`: int64 indices [frames, codebooks].

    Raises:
        ValueError: `data` is not exactly `packed_size(frames, codebooks, bits)` bytes.
    """
    expected = packed_size(frames, codebooks, bits)
    if len(data) != expected:
        raise ValueError(f"corrupt or truncated bitstream: {len(data)} bytes where {frames} frames of "
                         f"{codebooks} x {bits}-bit indices need {expected}")
    return unpack_fields(data, [(frames * codebooks, bits)])[0].reshape(frames, codebooks)


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
