"""What the waveform-output design points share (`mel2wave`, `latent2wave`): a frozen transmitter, a
waveform diffusion decoder (`conditioner` + `backbone` in one checkpoint), DDPM or DDIM sampling."""

from __future__ import annotations

from typing import Any

from codecbench.codecs.diffusion.adapter import (ACCELERATION_OPTIONS, MelCodecAdapter, check_codebooks, one_of,
                                                 weights_dir)

DEFAULT_STEPS = 50


class WaveformDiffusionAdapter(MelCodecAdapter):
    """Base of the waveform decoders' adapters: subclasses name the checkpoints (`decoder_checkpoint` last)
    and build the transmitter and its source representation.

    Args:
        kbps: the operating point (1.5 or 3).
        sampler: `ddpm` (default; respaced ancestral steps) or `ddim`. The midway samplers start from an
            estimate of the output, which a waveform decoder's conditioning is not.
        steps: sampler steps per decode (default 50).
        weights: directory with the checkpoint files (default: the shipped ones).
        compile, dtype: decoder fast path (see `MelCodecAdapter`).
    """

    decoder_checkpoint = ""
    options = {"sampler": one_of("ddpm", "ddim"), "steps": int, "weights": weights_dir, **ACCELERATION_OPTIONS}

    def __init__(self, kbps: float | None = None, sampler: str = "ddpm", steps: int = DEFAULT_STEPS,
                 weights: str | None = None, compile: str = "eager", dtype: str = "fp32") -> None:
        if sampler not in ("ddpm", "ddim"):
            raise ValueError(f"{self.name}: select one of ['ddpm', 'ddim'] for the sampler, not {sampler!r}")
        if steps < 1:
            raise ValueError(f"steps must be at least 1, not {steps}")
        self.sampler_name, self.steps = sampler, steps
        super().__init__(kbps, weights, compile, dtype)

    @property
    def num_steps(self) -> int:
        return self.steps

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

