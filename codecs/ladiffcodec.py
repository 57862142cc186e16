"""`ladiffcodec`: "Generative de-quantization for neural speech codec via latent diffusion" (Yang, Jang &
Kim, ICASSP 2024), the latent2latent point of the diffusion design space, as a configuration of the parts
in `codecbench.codecs.diffusion`.

Transmitted: the RVQ tokens of an EnCodec-architecture 16 kHz codec (`encodec16` checkpoint; SEANet with
strides 2 x 4 x 5 x 8 -> 50 frames/s). Decoded: the token embeddings, each frame scaled to [-1, 1], are
upsampled x40 by transposed convolutions and stacked with the noisy latent of a 1-D U-Net (ResNet blocks,
self-attention) that de-quantizes them by latent diffusion (T = 1000, linear betas 1e-4 -> 0.02;
`ladiffcodec` checkpoint) into the continuous latent of a stride-8 autoencoder (`latent-ae` checkpoint),
whose decoder makes the waveform. Sampled by midway-infilling (Algorithm 1, tau 100, gamma 0.3: 100 steps of
two branches, 200 denoiser calls), DDPM (1000) or DDIM (50), all selectable:
`ladiffcodec@1.5:sampler=midway,tau=100,gamma=0.3`. `diffusion=off` is its control: the upsampled token
condition h decoded by the same autoencoder decoder, no denoiser call.

Bit rate: 50 frames/s x 10-bit codes x Q codebooks: Q = 3 -> 1500 bit/s (`@1.5`), Q = 6 -> 3000 bit/s
(`@3`), plus the padding of the last 20 ms frame and the last byte.
"""

from __future__ import annotations

from codecbench.codecs.diffusion.token_adapter import TokenDiffusionAdapter


class LaDiffCodec(TokenDiffusionAdapter):
    """Args: kbps (1.5, 3), sampler (midway, ddpm, ddim), steps, tau, gamma, weights: see
    `TokenDiffusionAdapter`."""

    name = "ladiffcodec"
    design_point = "tokens → latent (LaDiffCodec)"
    checkpoints = ("encodec16", "latent-ae", "ladiffcodec")
    diffusion_checkpoint = "ladiffcodec"

    def output_parts(self):
        from codecbench.codecs.diffusion.checkpoints import load_modules
        from codecbench.codecs.diffusion.seanet import DecoderVocoder

        autoencoder = load_modules(self.paths["latent-ae"])["autoencoder"]
        return autoencoder, DecoderVocoder(autoencoder)
