"""`latent2wave`: the learned-latent-to-waveform point of the diffusion design space of Foti & Brendel:
LaDiffCodec's transmitted tokens, a waveform diffusion decoder.

Transmitted: the `encodec16` tokens (as `ladiffcodec`). Decoded: the token embeddings (each frame scaled to
[-1, 1], as for `latent2mel`), upsampled x20 to 1 kHz by transposed convolutions, condition a DiffWave-style
denoiser (gated dilated WaveNet; the shipped checkpoint predicts v, trained with epsilon first; T = 1000
linear betas) that samples the waveform
itself in 1 ms polyphase frames (`latent2wave` checkpoint): no autoencoder, no vocoder. DDPM (default 50
respaced steps) or DDIM.

Bit rate: as `ladiffcodec` (3 or 6 codebooks x 10 bits x 50 frames/s).
"""

from __future__ import annotations

from codecbench.codecs.diffusion.token_adapter import TokenCodecAdapter
from codecbench.codecs.diffusion.waveform_adapter import WaveformDiffusionAdapter


class Latent2WaveCodec(WaveformDiffusionAdapter, TokenCodecAdapter):
    """Args: kbps (1.5, 3), sampler (ddpm, ddim), steps, weights, compile, dtype: see
    `WaveformDiffusionAdapter`."""

    name = "latent2wave"
    design_point = "tokens → waveform"
    checkpoints = ("encodec16", "latent2wave")
    decoder_checkpoint = "latent2wave"

    def transmitter(self):
        from codecbench.codecs.diffusion.waveform import Waveform

        tokenizer = self.tokenizer()
        return Waveform(), tokenizer, tokenizer.num_quantizers
