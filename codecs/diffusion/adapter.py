"""What every codec built from a `DiffusionCodec` shares: checkpoints, availability, bytes, seeds, devices."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from codecbench.codecs.base import FAST_PATH_OPTIONS, Availability, Codec, Dependencies, Encoded, Framing
from codecbench.codecs.spec import CodecSpec


class DiffusionCodecAdapter(Codec):
    """Base of every codec built from a `DiffusionCodec` (representation, quantizer, vocoder and, where it has
    a diffusion stage, backbone and sampler) and checkpoint files shipped in the package: the mel-domain
    codecs, the `encodec16` token codec and the design points on its tokens alike. It codes a whole utterance
    into one packet holding the packed indices (and side information). Subclasses list their `checkpoints`
    and build the parts (`build`).

    Args:
        kbps: operating point.
        weights: directory holding the checkpoint files (default: the ones shipped in the package).
        compile: decoder fast path, `eager`, `compile` or `graph` (see `codecbench.codecs.diffusion.fast`).
        dtype: `fp32`, or `bf16`/`fp16` autocast of the backbone and neural vocoder.
    """

    sample_rate = 16000
    causal = False
    algorithmic_delay_ms = float("nan")  # offline: the whole utterance is coded at once
    known_delay_samples = 0  # mel frames are centred on their samples; the vocoders keep that timeline
    requires = Dependencies(("torch", "librosa", "safetensors"), extra="neural")
    stochastic = True
    control_draws_noise: ClassVar[bool] = False  # `diffusion=off` still draws random numbers (a vocoder's)
    has_estimate: ClassVar[bool] = True  # the condition estimates the output, so `diffusion=off` is its control
    design_point: ClassVar[str] = ""  # conditioning → output, its row label in the report's design-space table
    checkpoints: ClassVar[tuple[str, ...]] = ()

    def __init__(self, kbps: float | None = None, weights: str | None = None, compile: str = "eager",
                 dtype: str = "fp32") -> None:
        super().__init__(kbps)
        from codecbench.codecs.diffusion.checkpoints import checkpoint_paths
        from codecbench.codecs.diffusion.fast import accelerate

        self.paths = checkpoint_paths(self.checkpoints, weights)
        for path in self.paths.values():
            if not path.is_file():
                raise FileNotFoundError(f"{self.name}: checkpoint not found: {path}")
        self.device = "cpu"
        self.seed = 0
        self.diffusion = getattr(self, "diffusion", True)
        self.quantize = getattr(self, "quantize", True)
        self.model = self.build()
        if not self.quantize and not hasattr(self.model.quantizer, "latent"):
            raise ValueError(f"{self.name}: quantize=off needs a quantizer that can decode its unquantized latent, "
                             "and this codec's cannot")
        self.compile, self.dtype = compile, dtype
        accelerate(self.model, compile, dtype)

    @classmethod
    def stochastic_for(cls, spec: CodecSpec) -> bool:
        """The diffusion decode draws noise; its `diffusion=off` control only where its vocoder does."""
        return cls.stochastic and (spec.options.get("diffusion") != "off" or cls.control_draws_noise)

    def build(self):
        """The `DiffusionCodec` of this configuration, built from the checkpoint files in `self.paths`."""
        raise NotImplementedError

    @property
    def num_steps(self) -> int:
        """Sampler steps per decode (0 for codecs without a diffusion stage)."""
        return 0

    @classmethod
    def availability(cls) -> Availability:
        return cls._availability_in(None)

    @classmethod
    def availability_for(cls, spec) -> Availability:
        """Like `availability()`, but looks for the checkpoints in the spec's `weights=DIR` when given."""
        return cls._availability_in(spec.options.get("weights"))

    @classmethod
    def _availability_in(cls, weights: str | None) -> Availability:
        status = cls.requires.check()
        if not status.available:
            return status
        from codecbench.codecs.diffusion.checkpoints import checkpoint_paths

        absent = [str(path) for path in checkpoint_paths(cls.checkpoints, weights).values() if not path.is_file()]
        if absent:
            return Availability(False, f"checkpoint missing: {', '.join(absent)}")
        return Availability(True)

    def to(self, device: str) -> "DiffusionCodecAdapter":
        self.model.to(device)
        self.device = device
        return self

    def reseed(self, seed: int) -> None:
        self.seed = int(seed)

    def provenance(self) -> dict[str, Any]:
        import torch

        from codecbench.codecs.diffusion.checkpoints import file_sha256, read_metadata

        files = {}
        for name, path in self.paths.items():
            training = read_metadata(path)["training"]
            files[name] = {"path": str(path), "sha256": file_sha256(path), "recipe": training.get("recipe"),
                           "steps": training.get("steps")}
        return {"torch": torch.__version__, "checkpoints": files, "num_steps": self.num_steps,
                "sampler": getattr(self.model.sampler, "name", None), "compile": self.compile, "dtype": self.dtype,
                "diffusion": "on" if self.diffusion else "off", "quantize": "on" if self.quantize else "off"}

    def modules(self) -> list:
        return [self.model]

    def encode(self, waveform: np.ndarray) -> Encoded:
        return self.encode_batch([waveform])[0]

    def encode_batch(self, waveforms: list[np.ndarray]) -> list[Encoded]:
        """Signals of equal length are analysed and quantized as one batch; others one by one."""
        import torch

        if len({len(w) for w in waveforms}) > 1:
            return super().encode_batch(waveforms)
        wavs = torch.from_numpy(np.stack([np.asarray(w, dtype=np.float32) for w in waveforms]))
        return [Encoded(packets=[self.model.to_bytes(codes)], num_samples=wavs.shape[-1])
                for codes in self.model.encode_batch(wavs, self.quantize)]

    def framing(self, encoded: Encoded) -> Framing:
        """One time step of the index grid per packet after the gain index (sent reliably); a lost step repeats
        the last received one's indices (the generic concealment)."""
        if not self.quantize:
            raise NotImplementedError(f"{self.name}: quantize=off sends an unquantized float16 latent, no packets "
                                      "a channel could drop")
        rows, steps = self.model.quantizer.grid_shape(self.model.padded_frames(encoded.num_samples))
        header = 0 if self.model.gain is None else self.model.gain.bits
        return Framing(-(-encoded.num_samples // steps), frame_bits=rows * self.model.quantizer.bits,
                       header_bits=header, concealment="repeat")

    def decode(self, encoded: Encoded) -> np.ndarray:
        return self.decode_batch([encoded])[0]

    def decode_batch(self, encoded: list[Encoded]) -> list[np.ndarray]:
        """Signals of equal length are decoded as one batch, one generator seeded with the codec's seed
        drawing the noise of all (so a signal decoded in a batch differs from its decode alone)."""
        import torch

        lengths = {e.num_samples for e in encoded}
        if len(lengths) > 1:
            return super().decode_batch(encoded)
        num_samples = lengths.pop()
        codes = [self.model.from_bytes(b"".join(e.packets), num_samples, self.quantize) for e in encoded]
        generator = torch.Generator(device=self.device).manual_seed(self.seed)
        wavs = self.model.decode_batch(codes, num_samples, self.num_steps, generator, self.diffusion)
        return list(wavs.float().cpu().numpy())

    def decode_info(self) -> dict[str, float]:
        """`denoiser_calls`: network evaluations per signal in the last decode (counted by a hook on the
        backbone, not configured: a call on midway-infilling's two stacked branches counts two)."""
        if self.model.backbone is None or self.model.last_denoiser_calls is None:
            return {}
        return {"denoiser_calls": float(self.model.last_denoiser_calls)}


def one_of(*choices: str) -> Callable[[str], str]:
    """Spec option parser accepting one of `choices`."""

    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"select one of {list(choices)}")
        return text

    return parse


ACCELERATION_OPTIONS = {key: one_of(*choices) for key, choices in FAST_PATH_OPTIONS.items()}
DIFFUSION_OPTION = {"diffusion": one_of("on", "off")}  # `off`: the codec's own control (see `set_diffusion`)
QUANTIZE_OPTION = {"quantize": one_of("on", "off")}  # `off`: the no-quantization ceiling (float16 latent sent)


def set_diffusion(adapter: DiffusionCodecAdapter, diffusion: str, has_estimate: bool = True) -> None:
    """Record the `diffusion` option on an adapter before it builds its model.

    `off` decodes the condition estimate h (the dequantized features the denoiser is conditioned on and
    midway-infilling starts from) with the same vocoder and the same transmitted bits, bypassing the denoiser.

    Raises:
        ValueError: an unknown value, or `off` for a codec whose condition is no estimate of its output.
    """
    if diffusion not in ("on", "off"):
        raise ValueError(f"select one of ['on', 'off'] for diffusion, not {diffusion!r}")
    if diffusion == "off" and not has_estimate:
        raise ValueError(f"{adapter.name}: diffusion=off has no control here: the decoder's condition is no "
                         "estimate of the waveform it samples")
    adapter.diffusion = diffusion == "on"


def weights_dir(path: str) -> str:
    """Spec option parser for `weights=DIR`."""
    if not Path(path).is_dir():
        raise ValueError(f"not a directory: {path}")
    return path


class SampledCodecAdapter(DiffusionCodecAdapter):
    """Base of the adapters whose diffusion decoder starts from noise: the `steps` and `sampler` (DDPM or
    DDIM) options. The midway samplers are refused: they start from an estimate of the output, which these
    decoders' conditioning is not (or, for a residual, is zero).

    Args:
        kbps: operating point.
        steps: sampler steps per decode (default: `default_steps`).
        sampler: `ddpm` (default) or `ddim`.
        weights, compile, dtype: see `DiffusionCodecAdapter`.
        diffusion: `on` (default) or `off`: the control, the dequantized features through the same vocoder.
        quantize: `on` (default) or `off`: the no-quantization ceiling, the quantizer's continuous latent sent
            as float16 (its measured kbps is that float16 rate, not an operating point); refused where the
            quantizer cannot decode a latent.
    """

    default_steps = 20
    samplers = ("ddpm", "ddim")
    options = {"steps": int, "sampler": str, "weights": weights_dir, **ACCELERATION_OPTIONS, **DIFFUSION_OPTION,
               **QUANTIZE_OPTION}

    def __init__(self, kbps: float | None = None, steps: int | None = None, sampler: str = "ddpm",
                 weights: str | None = None, compile: str = "eager", dtype: str = "fp32",
                 diffusion: str = "on", quantize: str = "on") -> None:
        set_diffusion(self, diffusion, self.has_estimate)
        self.quantize = quantize == "on"
        if sampler not in self.samplers:
            raise ValueError(f"{self.name}: select one of {list(self.samplers)} for the sampler, not {sampler!r}")
        steps = self.default_steps if steps is None else steps
        if steps < 1:
            raise ValueError(f"steps must be at least 1, not {steps}")
        self.steps, self.sampler_name = steps, sampler
        super().__init__(kbps, weights, compile, dtype)

    @property
    def num_steps(self) -> int:
        return self.steps


def check_codebooks(path: Path, training: dict[str, Any], codebooks: int) -> None:
    """Refuse an operating point a diffusion checkpoint was not trained for (a per-bit-rate model).

    Raises:
        ValueError: naming the file and the codebook counts it serves.
    """
    served = training.get("codebooks")
    if served is not None and codebooks not in served:
        raise ValueError(f"{path} was trained for {served} codebooks, not {codebooks}: use the model of this "
                         "bit rate (weights=DIR)")
