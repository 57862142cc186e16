"""`gan-mel`: the GAN baseline of Foti & Brendel: the same transmitted quantized mel as `mel2mel`
(`mel-rvq` checkpoint), turned into a waveform by a HiFi-GAN-style vocoder trained on dequantized mels
(`gan-mel` checkpoint), with no diffusion stage.

Bit rate: as `mel2mel`: 2 (1.5 kbps) or 4 (3 kbps) 12-bit codes per 16 ms frame.
"""

from __future__ import annotations

from codecbench.codecs.diffusion.adapter import ACCELERATION_OPTIONS, DiffusionCodecAdapter, weights_dir
from codecbench.codecs.mel2mel import CODEBOOKS


class GanMelCodec(DiffusionCodecAdapter):
    """Args:
        kbps: 1.5 or 3.
        compile, dtype: decoder fast path (see `DiffusionCodecAdapter`).
        weights: directory with `mel-rvq` and `gan-mel` safetensors (default: shipped).
    """

    name = "gan-mel"
    design_point = "mel → GAN vocoder, no diffusion"
    operating_points = tuple(CODEBOOKS)
    default_point = 1.5
    stochastic = False  # the decoder draws no random numbers
    checkpoints = ("mel-rvq", "gan-mel")
    options = {"weights": weights_dir, **ACCELERATION_OPTIONS}

    def build(self):
        from codecbench.codecs.diffusion.checkpoints import load_modules
        from codecbench.codecs.diffusion.codec import DiffusionCodec
        from codecbench.codecs.diffusion.representation import LogMel

        quantizer = load_modules(self.paths["mel-rvq"])["quantizer"].use_quantizers(CODEBOOKS[self.kbps])
        vocoder = load_modules(self.paths["gan-mel"])["generator"]
        return DiffusionCodec(LogMel(), quantizer, vocoder).eval()
