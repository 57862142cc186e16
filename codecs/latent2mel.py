"""`latent2mel`: the latent2mel point of the diffusion design space of Foti & Brendel ("On the design of
diffusion-based neural speech codecs"): a learned-latent bitstream, a mel-domain diffusion model.

Transmitted: the `encodec16` tokens (as `ladiffcodec`). Decoded: the token embeddings (each frame scaled
to [-1, 1]) resampled to the 62.5 Hz mel frame rate condition the WaveNet denoiser of `mel2mel` (same
configuration; `latent2mel` checkpoint), which samples the log-mel that the `hifigan` vocoder of the mel
codecs turns into the waveform. Samplers and options as `ladiffcodec`.

Bit rate: as `ladiffcodec` (3 or 6 codebooks x 10 bits x 50 frames/s).
"""

from __future__ import annotations

from codecbench.codecs.diffusion.token_adapter import TokenDiffusionAdapter


class Latent2MelCodec(TokenDiffusionAdapter):
    """Args: kbps (1.5, 3), sampler (midway, ddpm, ddim), steps, tau, gamma, weights: see
    `TokenDiffusionAdapter`."""

    name = "latent2mel"
    design_point = "tokens → mel"
    checkpoints = ("encodec16", "latent2mel", "hifigan")
    diffusion_checkpoint = "latent2mel"
    # Its output leads the input by about 6 ms, measured: the cause is the token condition (50 Hz tokens linearly
    # resampled to the 62.5 Hz mel grid), the only part that differs from mel2mel (same mel grid and vocoder, true
    # delay 0). On the embedded sample STOI peaks at -96 (mel2mel and gan-mel: -32 to 0) and the envelope estimate's
    # median is -103 (mel2mel: -47, the estimator's own bias on phase-free output); docs/alignment.md
    known_delay_samples = -96

    def output_parts(self):
        """The log-mel analysis and normalisation the model was trained in, and the vocoder."""
        from codecbench.codecs.diffusion.checkpoints import load_modules, read_metadata
        from codecbench.codecs.diffusion.representation import LogMel, MelConfig

        mel = read_metadata(self.paths["latent2mel"])["training"]["mel"]
        return LogMel(MelConfig(**mel)), load_modules(self.paths["hifigan"])["generator"]
