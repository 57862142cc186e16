"""`mel2wave`: the mel-to-waveform point of the diffusion design space of Foti & Brendel ("On the design of
diffusion-based neural speech codecs"): the transmitted mel of `mel2mel`, a waveform diffusion decoder.

Transmitted: the residual VQ of log-mel frames of `mel2mel` (`mel-rvq` checkpoint). Decoded: the dequantized
log-mel, upsampled x16 to 1 kHz by transposed convolutions, conditions a DiffWave-style denoiser (gated
dilated WaveNet; the shipped checkpoint predicts v, trained with epsilon first; T = 1000 linear betas)
that samples the waveform itself in 1 ms
polyphase frames (`mel2wave` checkpoint): no vocoder. DDPM (default 50 respaced steps) or DDIM.

Bit rate: as `mel2mel`: 2 (1.5 kbps) or 4 (3 kbps) 12-bit codes per 16 ms frame.
"""

from __future__ import annotations

from codecbench.codecs.diffusion.waveform_adapter import WaveformDiffusionAdapter
from codecbench.codecs.mel2mel import CODEBOOKS


class Mel2WaveCodec(WaveformDiffusionAdapter):
    """Args: kbps (1.5, 3), sampler (ddpm, ddim), steps, weights, compile, dtype: see
    `WaveformDiffusionAdapter`."""

    name = "mel2wave"
    design_point = "mel → waveform"
    operating_points = tuple(CODEBOOKS)
    default_point = 1.5
    checkpoints = ("mel-rvq", "mel2wave")
    decoder_checkpoint = "mel2wave"

    def transmitter(self):
        from codecbench.codecs.diffusion.checkpoints import load_modules
        from codecbench.codecs.diffusion.representation import LogMel

        codebooks = CODEBOOKS[self.kbps]
        return LogMel(), load_modules(self.paths["mel-rvq"])["quantizer"].use_quantizers(codebooks), codebooks
