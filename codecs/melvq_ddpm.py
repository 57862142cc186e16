"""`melvq-ddpm`: the mel-VQ DDPM codec of "Neural audio coding using diffusion models for real-time
teleconferencing", as a configuration of the parts in `codecbench.codecs.diffusion`.

Per-utterance RMS normalisation (gain sent in 8 bits), log-mel (80 bins, hop 256), a 2-D convolutional
encoder with one 8192-code (13-bit) VQ per cell of a 15 x N/8 grid, a 2-D U-Net denoiser conditioned on
the dequantized latent and the coarse reconstruction, DDPM with 20 steps, Griffin-Lim (32 iterations).

Bit rate: 15 codes per 8 frames of 16 ms = 117.19 codes/s x 13 bits = 1523.4 bit/s, plus 8 gain bits per
utterance and the padding of the last 128 ms grid column and the last byte; measured 1.52-1.57 kbps for
utterances of 1-30 s (1.55 kbps for 3 s).
"""

from __future__ import annotations

from codecbench.codecs.diffusion.adapter import SampledCodecAdapter


class MelVQDDPMCodec(SampledCodecAdapter):
    """Args:
        kbps: 1.5 (the only operating point).
        steps: sampler steps (default 20).
        sampler: `ddpm` (default) or `ddim`.
        compile, dtype: decoder fast path (see `DiffusionCodecAdapter`).
        weights: directory with `melvq-ddpm.safetensors` (default: the shipped checkpoint).
    """

    name = "melvq-ddpm"
    design_point = "mel → mel (2-D VQ seed)"
    operating_points = (1.5,)
    default_point = 1.5
    checkpoints = ("melvq-ddpm",)
    control_draws_noise = True  # Griffin-Lim draws its initial phase: the control has a seed spread too

    def build(self):
        from codecbench.codecs.diffusion.checkpoints import load_modules, read_metadata
        from codecbench.codecs.diffusion.codec import DiffusionCodec
        from codecbench.codecs.diffusion.gain import GainCoder
        from codecbench.codecs.diffusion.representation import LogMel
        from codecbench.codecs.diffusion.samplers import make_sampler
        from codecbench.codecs.diffusion.vocoders.griffin_lim import GriffinLim

        path = self.paths["melvq-ddpm"]
        parts = load_modules(path)
        sampler = make_sampler(self.sampler_name, **read_metadata(path)["training"]["diffusion"])
        representation = LogMel()
        return DiffusionCodec(representation, parts["quantizer"], GriffinLim(representation, iterations=32),
                              backbone=parts["backbone"], sampler=sampler, gain=GainCoder()).eval()
