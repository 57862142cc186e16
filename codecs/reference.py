"""The hidden reference: identity, transmitted as 16-bit PCM (lossless for 16-bit sources)."""

from __future__ import annotations

import numpy as np

from codecbench.audio import from_pcm16, to_pcm16
from codecbench.codecs.base import Codec, Encoded, Framing, pcm_framing
from codecbench.codecs.spec import CodecSpec


class ReferenceCodec(Codec):
    """Identity codec; its payload is linear PCM16, so it measures 16 bits x sample rate."""

    name = "reference"
    sample_rate = 16000

    @classmethod
    def from_spec(cls, spec: CodecSpec) -> "ReferenceCodec":
        if spec.point is not None:
            raise ValueError("reference takes no operating point")
        cls.parse_options(spec)
        return cls()

    def framing(self, encoded: Encoded) -> Framing:
        return pcm_framing(self.sample_rate)

    def encode(self, waveform: np.ndarray) -> Encoded:
        return Encoded(packets=[to_pcm16(waveform).tobytes()], num_samples=len(waveform))

    def decode(self, encoded: Encoded) -> np.ndarray:
        return from_pcm16(np.frombuffer(b"".join(encoded.packets), np.int16))
