"""BS.1534-3 anchor filters meet the mask, zero phase, at several sample rates."""

import numpy as np
import pytest

from codecbench.codecs.lowpass import lowpass_anchor


def magnitude_db(cutoff: float, rate: int, freqs: np.ndarray) -> np.ndarray:
    """The applied (forward-backward) filter's magnitude, from its impulse response."""
    n = 1 << 16
    impulse = np.zeros(n)
    impulse[n // 2] = 1.0
    response = np.fft.rfft(lowpass_anchor(impulse, cutoff, rate).astype(np.float64))
    grid = np.fft.rfftfreq(n, 1 / rate)
    return np.interp(freqs, grid, 20 * np.log10(np.abs(response) + 1e-20))


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_3k5_anchor_mask(rate):
    passband = magnitude_db(3500, rate, np.linspace(20, 3500, 200))
    assert np.all(np.abs(passband) <= 0.1 + 1e-3)
    assert magnitude_db(3500, rate, np.array([4000.0]))[0] <= -25
    stop = magnitude_db(3500, rate, np.linspace(4500, rate / 2 - 1, 200))
    assert np.all(stop <= -50)


@pytest.mark.parametrize("rate", [16000, 48000])
def test_7k_anchor_mask(rate):
    passband = magnitude_db(7000, rate, np.linspace(20, 7000, 200))
    assert np.all(np.abs(passband) <= 0.1 + 1e-3)
    edge = min(8000.0, rate / 2 - 1)
    assert magnitude_db(7000, rate, np.array([edge]))[0] <= -25
    if rate > 18000:
        assert np.all(magnitude_db(7000, rate, np.linspace(9000, rate / 2 - 1, 100)) <= -50)


def test_anchor_is_zero_phase(speech):
    filtered = lowpass_anchor(speech, 3500, 16000)
    corr = np.correlate(filtered[8000:24000], speech[8000 - 50 : 24000 + 50], mode="valid")
    assert int(np.argmax(corr)) == 50  # no shift


def test_cutoff_validation():
    with pytest.raises(ValueError):
        lowpass_anchor(np.ones(100), 9000, 16000)
