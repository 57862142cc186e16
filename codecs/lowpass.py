"""ITU-R BS.1534-3 low-pass anchors (`lowpass@3.5k`, `lowpass@7k`) as codecs, and the filter itself.

BS.1534-3 mask for the 3.5 kHz anchor: passband ripple within +-0.1 dB up to 3.5 kHz, at least 25 dB
attenuation at 4 kHz and 50 dB at 4.5 kHz; the 7 kHz anchor scales the frequencies by 2. The filter is
an elliptic IIR designed for half the ripple and 26 dB stopband, applied forward and backward (zero
phase), which doubles both: -0.1..0 dB passband and >= 52 dB (2 dB margin) from 8/7 x cut-off on.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from codecbench.audio import from_pcm16, to_pcm16
from codecbench.codecs.base import Codec, Encoded, Framing, pcm_framing
from codecbench.codecs.spec import CodecSpec

PASSBAND_RIPPLE_DB = 0.1  # after forward-backward filtering
STOPBAND_DB = 52.0  # after forward-backward filtering; the mask asks for 50
STOPBAND_EDGE = 4000.0 / 3500.0  # first stopband frequency relative to the cut-off


def anchor_filter(cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """Second-order sections of the one-pass elliptic filter (apply with `sosfiltfilt`)."""
    nyquist = sample_rate / 2
    if not 0 < cutoff_hz < nyquist:
        raise ValueError(f"low-pass cut-off {cutoff_hz} Hz must lie between 0 and {nyquist} Hz")
    stop = min(cutoff_hz * STOPBAND_EDGE, 0.995 * nyquist)
    order, wn = signal.ellipord(cutoff_hz, stop, PASSBAND_RIPPLE_DB / 2, STOPBAND_DB / 2, fs=sample_rate)
    return signal.ellip(order, PASSBAND_RIPPLE_DB / 2, STOPBAND_DB / 2, wn, output="sos", fs=sample_rate)


def lowpass_anchor(x: np.ndarray, cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """Zero-phase BS.1534-3 anchor low-pass of a mono signal [T] at any sample rate."""
    filtered = signal.sosfiltfilt(anchor_filter(cutoff_hz, sample_rate), np.asarray(x, np.float64))
    return filtered.astype(np.float32)


class LowpassCodec(Codec):
    """A low-pass anchor transmitted as 16-bit PCM; `@3.5k` / `@7k` give the cut-off in kHz.

    Args:
        cutoff_hz: the pass-band edge in Hz.
    """

    name = "lowpass"
    sample_rate = 16000
    causal = False  # zero-phase filtering looks at the whole signal

    def __init__(self, cutoff_hz: float = 3500.0) -> None:
        super().__init__(None)
        anchor_filter(cutoff_hz, self.sample_rate)  # validates the cut-off
        self.cutoff_hz = cutoff_hz

    @classmethod
    def from_spec(cls, spec: CodecSpec) -> "LowpassCodec":
        cls.parse_options(spec)
        if spec.point is None:
            return cls()
        text = spec.point.lower()
        try:
            cutoff = float(text[:-1]) * 1000 if text.endswith("k") else float(text)
        except ValueError:
            raise ValueError(f"lowpass cut-off {spec.point!r}: expected e.g. 3.5k or 7k") from None
        return cls(cutoff)

    def framing(self, encoded: Encoded) -> Framing:
        return pcm_framing(self.sample_rate)

    def encode(self, waveform: np.ndarray) -> Encoded:
        filtered = lowpass_anchor(waveform, self.cutoff_hz, self.sample_rate)
        return Encoded(packets=[to_pcm16(filtered).tobytes()], num_samples=len(waveform))

    def decode(self, encoded: Encoded) -> np.ndarray:
        return from_pcm16(np.frombuffer(b"".join(encoded.packets), np.int16))
