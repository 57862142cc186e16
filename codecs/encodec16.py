"""`encodec16`: LaDiffCodec's discrete coder decoded by its own SEANet decoder, without diffusion: the
"no generative de-quantization" baseline of `ladiffcodec` (same bitstream).

An EnCodec-architecture 16 kHz codec (SEANet encoder/decoder, strides 2 x 4 x 5 x 8 -> 50 frames/s, RVQ of
1024-code codebooks) trained here with reconstruction losses only (`encodec16` checkpoint). Not Meta's
EnCodec weights (24 kHz).

Bit rate: 50 frames/s x 10 bits x Q codebooks: Q = 3 -> 1500 bit/s (`@1.5`), Q = 6 -> 3000 bit/s (`@3`).
"""

from __future__ import annotations

from codecbench.codecs.diffusion.adapter import weights_dir
from codecbench.codecs.diffusion.token_adapter import TokenCodecAdapter


class Encodec16Codec(TokenCodecAdapter):
    """Args:
        kbps: 1.5 or 3.
        weights: directory with `encodec16.safetensors` (default: the shipped checkpoint).
    """

    name = "encodec16"
    design_point = "tokens → own decoder, no diffusion"
    stochastic = False  # the decoder draws no random numbers
    checkpoints = ("encodec16",)
    options = {"weights": weights_dir}

    def build(self):
        from codecbench.codecs.diffusion.codec import DiffusionCodec
        from codecbench.codecs.diffusion.seanet import DecoderVocoder
        from codecbench.codecs.diffusion.waveform import Waveform

        tokenizer = self.tokenizer()
        return DiffusionCodec(Waveform(), tokenizer, DecoderVocoder(tokenizer), source=Waveform()).eval()
