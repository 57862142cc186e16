"""`mel2mel`: the best design point of Foti & Brendel, "On the design of diffusion-based neural speech
codecs", as a configuration of the parts in `codecbench.codecs.diffusion`.

The transmitted mel is a residual VQ of log-mel frames (`mel-rvq` checkpoint); a conditional diffusion
model (`mel2mel` checkpoint: a 1-D WaveNet-style denoiser with v-prediction, sampling the residual
between the clean and the quantized mel) maps the quantized mel to a clean mel, and a HiFi-GAN-style
vocoder trained on clean mels (`hifigan` checkpoint) makes the waveform.

Bit rate: Q codebooks of 4096 codes (12 bits) per 16 ms frame: 12 x 62.5 = 750 bit/s per codebook;
Q = 2 -> 1500 bit/s (`mel2mel@1.5`), Q = 4 -> 3000 bit/s (`mel2mel@3`), plus under one byte of padding.
"""

from __future__ import annotations

from codecbench.codecs.diffusion.adapter import SampledCodecAdapter

CODEBOOKS = {1.5: 2, 3.0: 4}


class Mel2MelCodec(SampledCodecAdapter):
    """Args:
        kbps: 1.5 or 3.
        steps: sampler steps (default 20).
        sampler: `ddpm` (default) or `ddim`.
        compile, dtype: decoder fast path (see `DiffusionCodecAdapter`).
        weights: directory with `mel-rvq`, `mel2mel` and `hifigan` safetensors (default: shipped).
    """

    name = "mel2mel"
    design_point = "mel → mel (residual over the dequantized mel)"
    operating_points = tuple(CODEBOOKS)
    default_point = 1.5
    checkpoints = ("mel-rvq", "mel2mel", "hifigan")

    def build(self):
        from codecbench.codecs.diffusion.checkpoints import load_modules, read_metadata
        from codecbench.codecs.diffusion.codec import DiffusionCodec
        from codecbench.codecs.diffusion.representation import LogMel
        from codecbench.codecs.diffusion.samplers import make_sampler

        quantizer = load_modules(self.paths["mel-rvq"])["quantizer"].use_quantizers(CODEBOOKS[self.kbps])
        backbone = load_modules(self.paths["mel2mel"])["backbone"]
        training = read_metadata(self.paths["mel2mel"])["training"]
        sampler = make_sampler(self.sampler_name, **training["diffusion"])
        vocoder = load_modules(self.paths["hifigan"])["generator"]
        return DiffusionCodec(LogMel(), quantizer, vocoder, backbone=backbone, sampler=sampler,
                              residual_scale=training.get("residual_scale")).eval()
