"""What the three mel-domain codec adapters share: checkpoints, availability, bytes, seeds, devices."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from codecbench.codecs.base import Availability, Codec, Encoded
from codecbench.codecs.spec import CodecSpec


def dependencies_missing() -> str:
    """The pip command for missing neural dependencies, or '' when all import."""
    missing = []
    for module in ("torch", "librosa", "safetensors"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    return f"missing {', '.join(missing)}: pip install 'codecbench[neural]'" if missing else ""


class MelCodecAdapter(Codec):
    """Base of the adapters around a `DiffusionCodec`: one packet per utterance holding the packed
    indices (and side information). Subclasses list their `checkpoints` and build the parts.

    Args:
        kbps: operating point.
        weights: directory holding the checkpoint files (default: the ones shipped in the package).
    """

    sample_rate = 16000
    causal = False
    algorithmic_delay_ms = float("nan")  # offline: the whole utterance is coded at once
    extra = "neural"
    stochastic = True
    checkpoints: ClassVar[tuple[str, ...]] = ()

    def __init__(self, kbps: float | None = None, weights: str | None = None) -> None:
        super().__init__(kbps)
        from codecbench.codecs.diffusion.checkpoints import checkpoint_path

        self.paths = {name: checkpoint_path(name, weights) for name in self.checkpoints}
        for path in self.paths.values():
            if not path.is_file():
                raise FileNotFoundError(f"{self.name}: checkpoint not found: {path}")
        self.device = "cpu"
        self.seed = 0
        self.last_denoiser_calls: int | None = None
        self.model = self.build()

    def build(self):
        """The `DiffusionCodec` of this configuration, built from the checkpoint files in `self.paths`."""
        raise NotImplementedError

    @property
    def num_steps(self) -> int:
        """Sampler steps per decode (0 for codecs without a diffusion stage)."""
        return 0

    @classmethod
    def availability(cls) -> Availability:
        return cls.availability_of_weights(None)

    @classmethod
    def availability_for(cls, spec: CodecSpec) -> Availability:
        """Availability with the checkpoints of the spec's `weights=DIR` option (default: the shipped ones)."""
        return cls.availability_of_weights(spec.options.get("weights"))

    @classmethod
    def availability_of_weights(cls, weights: str | None) -> Availability:
        missing = dependencies_missing()
        if missing:
            return Availability(False, missing)
        from codecbench.codecs.diffusion.checkpoints import checkpoint_path

        paths = [checkpoint_path(n, weights) for n in cls.checkpoints]
        absent = [str(p) for p in paths if not p.is_file()]
        if absent:
            return Availability(False, f"checkpoint missing: {', '.join(absent)}")
        return Availability(True)

    def to(self, device: str) -> "MelCodecAdapter":
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
                "sampler": getattr(self.model.sampler, "name", None)}

    def encode(self, waveform: np.ndarray) -> Encoded:
        import torch

        codes = self.model.encode(torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32)))
        return Encoded(packets=[self.model.to_bytes(codes)], num_samples=len(waveform))

    def decode(self, encoded: Encoded) -> np.ndarray:
        import torch

        codes = self.model.from_bytes(b"".join(encoded.packets), encoded.num_samples)
        generator = torch.Generator(device=self.device).manual_seed(self.seed)
        calls = self.model.denoiser_calls
        wav = self.model.decode(codes, encoded.num_samples, self.num_steps, generator)
        self.last_denoiser_calls = self.model.denoiser_calls - calls
        return wav.float().cpu().numpy()

    def decode_info(self) -> dict[str, float]:
        """`denoiser_calls`: backbone evaluations of the last decode (counted, not configured)."""
        if self.model.backbone is None or self.last_denoiser_calls is None:
            return {}
        return {"denoiser_calls": float(self.last_denoiser_calls)}


def weights_dir(path: str) -> str:
    """Spec option parser for `weights=DIR`."""
    if not Path(path).is_dir():
        raise ValueError(f"not a directory: {path}")
    return path
