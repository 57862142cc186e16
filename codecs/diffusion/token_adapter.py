"""What the adapters of the design points that transmit `encodec16` tokens share (`encodec16`,
`ladiffcodec`, `latent2mel`): the tokenizer at an operating point, the sampler options, the source."""

from __future__ import annotations

from typing import Any

from codecbench.codecs.diffusion.adapter import (ACCELERATION_OPTIONS, DIFFUSION_OPTION, QUANTIZE_OPTION,
                                                 DiffusionCodecAdapter, check_codebooks, set_diffusion, weights_dir)

DEFAULT_STEPS = {"ddpm": 1000, "ddim": 50}  # the midway samplers: tau (one step per training timestep below tau)


class TokenCodecAdapter(DiffusionCodecAdapter):
    """Base of the adapters around `encodec16` tokens (3 codebooks at 1.5 kbps, 6 at 3 kbps)."""

    operating_points = (1.5, 3.0)
    default_point = 1.5

    requires = DiffusionCodecAdapter.requires.plus("transformers")  # the SEANet modules come from transformers

    def tokenizer(self):
        """The shipped tokenizer, transmitting the codebooks of this operating point."""
        from codecbench.codecs.diffusion.checkpoints import load_modules
        from codecbench.codecs.diffusion.quantizers.encodec_tokens import CODEBOOKS

        return load_modules(self.paths["encodec16"])["tokenizer"].use_quantizers(CODEBOOKS[self.kbps])


class TokenDiffusionAdapter(TokenCodecAdapter):
    """A diffusion model conditioned on the tokens (checkpoint `diffusion_checkpoint`: `conditioner` and
    `backbone`), sampled by DDPM, DDIM or midway-infilling (Algorithm 1, or the forward-infilling variant).

    Args:
        kbps: 1.5 or 3.
        sampler: `midway` (default: Algorithm 1 of LaDiffCodec), `infill-forward` (the Mittal-style variant
            it replaces), `ddpm` or `ddim`.
        steps: sampler steps per decode (default: tau for the midway samplers, 1000 for DDPM, 50 for DDIM).
        tau, gamma: the midway samplers' start step (default 100) and interpolation ratio (default 0.3).
        variance: the ancestral step's variance: `posterior` (default, beta~_t) or `beta` (sigma^2 = beta_t,
            LaDiffCodec's G, Sec. 2.1); not for DDIM.
        weights: directory with the checkpoint files (default: the shipped ones).
        compile, dtype: decoder fast path (see `DiffusionCodecAdapter`; `compile=graph` samples DDPM/DDIM only).
        diffusion: `on` (default) or `off`: the control, decoding the upsampler's estimate h (midway-infilling's
            start) with the same decoder, no denoiser call.
        quantize: `on` (default) or `off`: the no-quantization ceiling, the tokenizer's continuous frame
            embeddings sent as float16 and upsampled as the dequantized tokens are (its measured kbps is that
            float16 rate, not an operating point).
    """

    diffusion_checkpoint = ""
    options = {"sampler": str, "steps": int, "tau": int, "gamma": float, "variance": str, "weights": weights_dir,
               **ACCELERATION_OPTIONS, **DIFFUSION_OPTION, **QUANTIZE_OPTION}

    def __init__(self, kbps: float | None = None, sampler: str = "midway", steps: int | None = None,
                 tau: int | None = None, gamma: float | None = None, weights: str | None = None,
                 compile: str = "eager", dtype: str = "fp32", diffusion: str = "on",
                 variance: str | None = None, quantize: str = "on") -> None:
        from codecbench.codecs.diffusion.samplers import MIDWAY_SAMPLERS, SAMPLERS

        set_diffusion(self, diffusion)
        self.quantize = quantize == "on"
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; select one of {sorted(SAMPLERS)}")
        self.uses_midway = sampler in MIDWAY_SAMPLERS
        if not self.uses_midway and (tau is not None or gamma is not None):
            raise ValueError(f"tau and gamma are options of sampler={' or '.join(MIDWAY_SAMPLERS)}")
        if variance is not None and sampler == "ddim":
            raise ValueError("variance is an option of the ancestral samplers (midway, infill-forward, ddpm), not ddim")
        self.sampler_name = sampler
        self.variance = {} if variance is None else {"variance": variance}
        self.midway = {"tau": 100 if tau is None else tau, "gamma": 0.3 if gamma is None else gamma}
        self.steps = steps or (self.midway["tau"] if self.uses_midway else DEFAULT_STEPS[sampler])
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, not {self.steps}")
        super().__init__(kbps, weights, compile, dtype)

    @property
    def num_steps(self) -> int:
        return self.steps

    def output_parts(self) -> tuple[Any, Any]:
        """(representation, vocoder) of the output domain."""
        raise NotImplementedError

    def build(self):
        from codecbench.codecs.diffusion.checkpoints import load_modules, read_metadata
        from codecbench.codecs.diffusion.codec import DiffusionCodec
        from codecbench.codecs.diffusion.quantizers.token_conditioner import TokenQuantizer
        from codecbench.codecs.diffusion.samplers import make_sampler
        from codecbench.codecs.diffusion.waveform import Waveform

        path = self.paths[self.diffusion_checkpoint]
        parts, training = load_modules(path), read_metadata(path)["training"]
        tokenizer = self.tokenizer()
        check_codebooks(path, training, tokenizer.num_quantizers)
        sampler = make_sampler(self.sampler_name, **training["diffusion"], **(self.midway if self.uses_midway else {}),
                               **self.variance)
        sampler.set_timesteps(self.steps)  # validates steps against T (or tau) now, not at the first decode
        representation, vocoder = self.output_parts()
        quantizer = TokenQuantizer(tokenizer, parts["conditioner"])
        return DiffusionCodec(representation, quantizer, vocoder, backbone=parts["backbone"], sampler=sampler,
                              source=Waveform()).eval()

    def provenance(self) -> dict[str, Any]:
        extra = {"midway": self.midway} if self.uses_midway else {}
        extra.update(self.variance)
        return {**super().provenance(), **extra}
