"""Fixed-width packing of codebook indices and their empirical entropy."""

import numpy as np
import pytest

from codecbench.codecs.bitpack import index_entropy_kbps, pack_indices, packed_size, unpack_indices


@pytest.mark.parametrize("bits, frames, codebooks", [(4, 250, 16), (4, 1, 46), (10, 151, 2), (10, 75, 32), (3, 7, 5)])
def test_round_trip_and_size(bits, frames, codebooks):
    indices = np.random.default_rng(bits).integers(0, 1 << bits, (frames, codebooks))
    data = pack_indices(indices, bits)
    assert len(data) == packed_size(frames, codebooks, bits) == -(-frames * codebooks * bits // 8)
    np.testing.assert_array_equal(unpack_indices(data, bits, frames, codebooks), indices)


def test_bit_order_is_msb_first_first_codebook_first():
    assert pack_indices(np.array([[1, 2]]), 4) == b"\x12"  # Lyra: the first quantizer in the high bits
    assert pack_indices(np.array([[1023, 0]]), 10) == b"\xff\xc0\x00"  # 20 bits, zero-padded to 3 bytes


@pytest.mark.parametrize("bad", [[[-1, 0]], [[16, 0]]])
def test_indices_out_of_range_are_refused(bad):
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        pack_indices(np.array(bad), 4)


def test_wrong_length_is_a_clear_error():
    data = pack_indices(np.zeros((10, 2), int), 10)
    with pytest.raises(ValueError, match="truncated"):
        unpack_indices(data[:-1], 10, 10, 2)
    with pytest.raises(ValueError, match="truncated"):
        unpack_indices(data + b"\x00", 10, 10, 2)


def test_entropy_of_uniform_and_constant_indices():
    uniform = np.tile(np.arange(16), 50)[:, None].repeat(3, axis=1)  # 800 frames, 3 codebooks, 4 bits each
    assert index_entropy_kbps(uniform, 16.0) == pytest.approx(800 * 3 * 4 / 16.0 / 1000)
    assert index_entropy_kbps(np.zeros((800, 3), int), 16.0) == 0.0
