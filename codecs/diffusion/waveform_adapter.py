"""What the waveform-output design points share (`mel2wave`, `latent2wave`): a frozen transmitter, a
waveform diffusion decoder (`conditioner` + `backbone` in one checkpoint), DDPM or DDIM sampling."""

from __future__ import annotations

from typing import Any

from codecbench.codecs.diffusion.adapter import SampledCodecAdapter, check_codebooks


class WaveformDiffusionAdapter(SampledCodecAdapter):
    """Base of the waveform decoders' adapters: subclasses name the checkpoints (the decoder's is
    `decoder_checkpoint`) and build the transmitter and its source representation.

    Args:
        kbps: the operating point (1.5 or 3).
        sampler: `ddpm` (default; respaced ancestral steps) or `ddim`.
        steps: sampler steps per decode (default 50).
        weights: directory with the checkpoint files (default: the shipped ones).
        compile, dtype: decoder fast path (see `DiffusionCodecAdapter`).
    """

    default_steps = 50
    decoder_checkpoint = ""
    has_estimate = False  # the condition is no estimate of the waveform: `diffusion=off` is refused

    def transmitter(self) -> tuple[Any, Any, int]:
        """(source representation, frozen quantizer at this operating point, its codebook count)."""
        raise NotImplementedError

    def build(self):
        from codecbench.codecs.diffusion.checkpoints import load_modules, read_metadata
        from codecbench.codecs.diffusion.codec import DiffusionCodec
        from codecbench.codecs.diffusion.quantizers.token_conditioner import TokenQuantizer
        from codecbench.codecs.diffusion.samplers import make_sampler
        from codecbench.codecs.diffusion.waveform import PolyphaseConfig, PolyphaseSynthesis, PolyphaseWaveform

        path = self.paths[self.decoder_checkpoint]
        parts, training = load_modules(path), read_metadata(path)["training"]
        source, quantizer, codebooks = self.transmitter()
        check_codebooks(path, training, codebooks)
        sampler = make_sampler(self.sampler_name, **training["diffusion"])
        sampler.set_timesteps(self.steps)  # validates steps against T now, not at the first decode
        waveform = PolyphaseWaveform(PolyphaseConfig(**training["waveform"]))
        return DiffusionCodec(waveform, TokenQuantizer(quantizer, parts["conditioner"], waveform.channels),
                              PolyphaseSynthesis(), backbone=parts["backbone"], sampler=sampler, source=source).eval()

