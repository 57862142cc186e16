"""Bit-exact packing of fixed-width unsigned integers (side information, codebook indices) into bytes."""

from __future__ import annotations

import numpy as np


def _bits_of(values: np.ndarray, bits: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    if not 1 <= bits <= 32:
        raise ValueError(f"bits must be 1-32, not {bits}")
    if values.size and (values.min() < 0 or values.max() >= 1 << bits):
        raise ValueError(f"values must lie in [0, {1 << bits}) to pack into {bits} bits")
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
