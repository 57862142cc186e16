import numpy as np
import pytest

from codecbench.alignment import align, estimate_delay
from codecbench.audio import resample


@pytest.mark.parametrize("delay", [0, 1, 37, 104, 1999, -23])
def test_known_delay_is_recovered_exactly(speech, delay):
    rng = np.random.default_rng(0)
    shifted = np.roll(speech, delay) + 0.01 * rng.standard_normal(len(speech)).astype(np.float32)
    if delay > 0:
        shifted[:delay] = 0
    assert estimate_delay(speech, shifted, max_lag=4000) == delay


def test_delay_through_a_band_limiting_chain(speech):
    """A delayed, 8 kHz round-tripped copy still aligns to the sample."""
    delayed = np.concatenate([np.zeros(300, np.float32), speech])
    degraded = resample(resample(delayed, 16000, 8000), 8000, 16000)
    assert estimate_delay(speech, degraded, max_lag=4000) == 300


def test_align_trims_to_common_length(speech):
    degraded = np.concatenate([np.zeros(50, np.float32), speech, np.zeros(10, np.float32)])
    ref, deg = align(speech, degraded, 50)
    assert len(ref) == len(deg) == len(speech)
    np.testing.assert_array_equal(ref, deg)
    early = speech[20:]  # a decoder that runs 20 samples ahead
    assert estimate_delay(speech, early, max_lag=100) == -20
    ref, deg = align(speech, early, -20)
    np.testing.assert_array_equal(ref, deg)


def test_lag_is_bounded(speech):
    far = np.concatenate([np.zeros(5000, np.float32), speech])
    assert abs(estimate_delay(speech, far, max_lag=1000)) <= 1000
