"""Shipped checkpoints: fp16 safetensors whose metadata names the classes and configs of their modules.

A file holds one or more modules under key prefixes (`quantizer.`, `backbone.`, ...). The metadata
entry `modules` maps each prefix to `{"class": ..., "config": {...}}`, so a file rebuilds its own
architecture; `training` records how it was made (recipe, steps, command).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from codecbench.codecs.diffusion.quantizers.vq import TRAINING_ONLY_BUFFERS, VectorQuantizer
from codecbench.resources import Resource, file_digest, obtainable

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
FORMAT = "codecbench-diffusion/1"


def _module_classes() -> dict[str, tuple[type[nn.Module], type]]:
    from codecbench.codecs.diffusion.backbones.unet1d import UNet1d, UNet1dConfig
    from codecbench.codecs.diffusion.backbones.unet2d import UNet2d, UNet2dConfig
    from codecbench.codecs.diffusion.backbones.wavenet1d import WaveNet1d, WaveNet1dConfig
    from codecbench.codecs.diffusion.latent_autoencoder import LatentAutoencoder, LatentAutoencoderConfig
    from codecbench.codecs.diffusion.quantizers.encodec_tokens import EncodecTokenizer, EncodecTokenizerConfig
    from codecbench.codecs.diffusion.quantizers.mel_frames import MelFramesConfig, MelFramesQuantizer
    from codecbench.codecs.diffusion.quantizers.mel_grid import MelGridConfig, MelGridQuantizer
    from codecbench.codecs.diffusion.quantizers.token_conditioner import TokenUpsampler, TokenUpsamplerConfig
    from codecbench.codecs.diffusion.vocoders.hifigan import HiFiGANConfig, HiFiGANGenerator

    classes = [(UNet2d, UNet2dConfig), (WaveNet1d, WaveNet1dConfig), (MelFramesQuantizer, MelFramesConfig),
               (MelGridQuantizer, MelGridConfig), (HiFiGANGenerator, HiFiGANConfig),
               (EncodecTokenizer, EncodecTokenizerConfig), (LatentAutoencoder, LatentAutoencoderConfig),
               (TokenUpsampler, TokenUpsamplerConfig), (UNet1d, UNet1dConfig)]
    return {cls.__name__: (cls, config) for cls, config in classes}


def checkpoints_resource(names: tuple[str, ...]) -> Resource:
    """The checkpoint files `names` as `codecbench.resources.locate` finds them: a `weights=DIR`, else the
    ones shipped in the package (no environment variable, no download)."""
    return Resource("diffusion checkpoints", tuple(f"{name}.safetensors" for name in names), embedded=CHECKPOINT_DIR)


def checkpoint_paths(names: tuple[str, ...], weights_dir: str | Path | None = None) -> dict[str, Path]:
    """Where each checkpoint of `names` is, by the shared weights rule (`codecbench.resources.obtainable`):
    in `weights_dir` when given (files it lacks are still named there, for the caller's message), else in
    the packaged checkpoints."""
    found = obtainable(checkpoints_resource(names), weights_dir or None).located
    folder = Path(found.path) if found is not None else Path(weights_dir or CHECKPOINT_DIR)
    return {name: folder / f"{name}.safetensors" for name in names}


def checkpoint_path(name: str, weights_dir: str | Path | None = None) -> Path:
    """`<weights_dir or the packaged checkpoints>/<name>.safetensors` (`checkpoint_paths` of one)."""
    return checkpoint_paths((name,), weights_dir)[name]


def _is_training_only(key: str) -> bool:
    return key.rsplit(".", 1)[-1] in TRAINING_ONLY_BUFFERS


def save_modules(path: str | Path, modules: dict[str, nn.Module], training: dict[str, Any]) -> Path:
    """Write `modules` (prefix -> module with a `config` dataclass) as fp16 safetensors.

    Buffers only training needs (EMA statistics) are left out; integer tensors keep their type.
    """
    from safetensors.torch import save_file

    tensors, described = {}, {}
    for prefix, module in modules.items():
        described[prefix] = {"class": type(module).__name__, "config": module.config.to_dict()}
        for key, value in module.state_dict().items():
            if _is_training_only(key):
                continue
            value = value.detach().cpu()
            tensors[f"{prefix}.{key}"] = (value.half() if value.is_floating_point() else value).contiguous()
    metadata = {"format": FORMAT, "modules": json.dumps(described), "training": json.dumps(training, default=str)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The `modules` and `training` metadata of a checkpoint file."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        raw = handle.metadata() or {}
    if raw.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} checkpoint (format {raw.get('format')!r})")
    return {"modules": json.loads(raw["modules"]), "training": json.loads(raw.get("training", "{}"))}


def load_modules(path: str | Path, device: str | torch.device = "cpu") -> dict[str, nn.Module]:
    """Rebuild every module of a checkpoint file (float32, eval mode).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: not a checkpoint of this format, or weights that do not fit the described modules.
    """
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    described = read_metadata(path)["modules"]
    tensors = load_file(str(path), device=str(device))
    classes = _module_classes()
    modules = {}
    for prefix, spec in described.items():
        cls, config_cls = classes[spec["class"]]
        config = config_cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec["config"].items()})
        module = cls(config)
        state = {k[len(prefix) + 1:]: v.float() if v.is_floating_point() else v
                 for k, v in tensors.items() if k.startswith(prefix + ".")}
        missing, unexpected = module.load_state_dict(state, strict=False)
        if [k for k in missing if not _is_training_only(k)] or unexpected:
            raise ValueError(f"{path} [{prefix}]: missing {missing[:5]}, unexpected {unexpected[:5]}")
        if missing:
            for layer in module.modules():
                if isinstance(layer, VectorQuantizer):
                    layer.reset_statistics()
        modules[prefix] = module.to(device).eval()
    return modules


@lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return file_digest(Path(path))


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a checkpoint file (cached per size and modification time)."""
    stat = Path(path).stat()
    return _digest(str(path), stat.st_size, stat.st_mtime_ns)
