"""The anchors of a test: BS.1534-3's low-pass filtered references, the mid anchor chosen for the material.

BS.1534-3 asks for a low anchor (3.5 kHz low-pass) and a mid anchor (7 kHz) and allows the mid anchor to
be chosen for the material. For full-band audio 7 kHz takes away a large part of the band; for 16 kHz
speech (an 8 kHz band) it takes away only 7-8 kHz, which holds almost no energy: the 7 kHz anchor is then
barely a degradation, listeners rate it like the reference and the anchor rule of post-screening loses
its meaning. So `auto` puts the mid anchor halfway, in octaves, between the low anchor and the band edge
(the Nyquist frequency), floored to 0.5 kHz and never above 7 kHz: `lowpass@5k` at 16 kHz, `lowpass@6k`
at 24 kHz, `lowpass@7k` from 32 kHz on. `build` measures how far each anchor lies from the reference
(`spectral_distance`) and records it in `test.yaml`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LOW_CUTOFF_HZ = 3500.0
STANDARD_MID_HZ = 7000.0


def anchor_name(cutoff_hz: float) -> str:
    return f"lowpass@{cutoff_hz / 1000:g}k"


def cutoff_of(condition: str) -> float:
    """The cut-off of a `lowpass@<kHz>k` condition, Hz.

    Raises:
        ValueError: not a low-pass anchor name.
    """
    text = condition.removeprefix("lowpass@")
    if text == condition or not text.endswith("k"):
        raise ValueError(f"an anchor is named lowpass@<kHz>k (e.g. lowpass@5k), not {condition!r}")
    return float(text[:-1]) * 1000


def auto_mid_cutoff(rate: int) -> float:
    """The mid anchor's cut-off for material sampled at `rate`: halfway in octaves between 3.5 kHz and the
    band edge, floored to 0.5 kHz, at most 7 kHz."""
    return min(STANDARD_MID_HZ, math.floor(math.sqrt(LOW_CUTOFF_HZ * rate / 2) / 500) * 500)


@dataclass(frozen=True)
class Anchors:
    """Which anchors a test gets.

    Args:
        mid: `auto` (see the module), or a `lowpass@<kHz>k` name.
        enabled: False for a "MUSHRA-like" test without anchors (post-screening then skips the anchor rule).
    """

    mid: str = "auto"
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.mid != "auto":
            cutoff_of(self.mid)

    def cutoffs(self, rate: int) -> dict[str, float]:
        """condition -> cut-off (Hz) for material sampled at `rate`: low anchor first, then the mid anchor.

        Raises:
            ValueError: a mid anchor at or below the low anchor, or at or above the band edge.
        """
        if not self.enabled:
            return {}
        mid = auto_mid_cutoff(rate) if self.mid == "auto" else cutoff_of(self.mid)
        if not LOW_CUTOFF_HZ < mid < rate / 2:
            raise ValueError(f"the mid anchor's cut-off {mid:g} Hz must lie between the low anchor's "
                             f"{LOW_CUTOFF_HZ:g} Hz and the band edge {rate / 2:g} Hz")
        return {anchor_name(LOW_CUTOFF_HZ): LOW_CUTOFF_HZ, anchor_name(mid): mid}

    def names(self, rate: int) -> dict[str, str]:
        """`{"low": ..., "mid": ...}` for `test.yaml` ({} without anchors)."""
        return dict(zip(("low", "mid"), self.cutoffs(rate)))


def make_anchor(reference: np.ndarray, cutoff_hz: float, rate: int) -> np.ndarray:
    """The anchor of a reference [T, C]: each channel low-pass filtered (BS.1534-3 mask)."""
    from codecbench.codecs.lowpass import lowpass_anchor

    return np.stack([lowpass_anchor(ch, cutoff_hz, rate) for ch in reference.T], axis=1)


def spectral_distance(reference: np.ndarray, anchor: np.ndarray, rate: int) -> dict[str, float]:
    """How far an anchor [T, C] lies from its reference: `removed_db` (energy of the difference relative to
    the reference's, dB: -30 means 0.1 %), and `lsd_db` (log-spectral distance: RMS over frequency of the
    dB difference of 32 ms power spectra, mean over the frames holding speech, i.e. within 40 dB of the
    loudest frame)."""
    from scipy import signal

    x, y = reference.mean(axis=1), anchor.mean(axis=1)
    removed = 10 * np.log10(np.sum((x - y) ** 2) / max(np.sum(x ** 2), 1e-20) + 1e-20)
    nperseg = int(round(0.032 * rate))
    _, _, spec_x = signal.stft(x, rate, nperseg=nperseg)
    _, _, spec_y = signal.stft(y, rate, nperseg=nperseg)
    power_x, power_y = np.abs(spec_x) ** 2 + 1e-12, np.abs(spec_y) ** 2 + 1e-12
    frames = 10 * np.log10(power_x.sum(axis=0))
    active = frames > frames.max() - 40
    distance = np.sqrt(np.mean((10 * np.log10(power_x / power_y)) ** 2, axis=0))
    return {"removed_db": round(float(removed), 2), "lsd_db": round(float(distance[active].mean()), 2)}
