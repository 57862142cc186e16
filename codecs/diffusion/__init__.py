"""The seeds' mel-domain codecs, built from swappable parts.

representation (waveform <-> log-mel) -> quantizers (what is transmitted) -> backbones (denoisers
`(x, t, cond) -> prediction`) + samplers (DDPM, DDIM) -> vocoders (Griffin-Lim, HiFi-GAN). `DiffusionCodec`
assembles them and holds the only denoising loop; the adapters `codecbench.codecs.melvq_ddpm`,
`.mel2mel` and `.gan_mel` are configurations of these parts with shipped checkpoints; `training` trains them.
"""

from codecbench.codecs.diffusion.codec import Codes, DiffusionCodec, reverse_diffusion

__all__ = ["Codes", "DiffusionCodec", "reverse_diffusion"]
