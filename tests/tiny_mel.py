"""Tiny mel-codec checkpoints (the training recipes' `tiny` sizes, untrained weights) for fast CPU tests of
timing and decoding paths; their audio is not speech-like, so tests assert structure, never quality."""

from __future__ import annotations

from pathlib import Path

import torch


def write_tiny_checkpoints(out: Path) -> Path:
    """`mel-rvq`, `mel2mel`, `hifigan` and `gan-mel` safetensors in `out` (seeded, codebooks initialised)."""
    from codecbench.codecs.diffusion.backbones.wavenet1d import WaveNet1d
    from codecbench.codecs.diffusion.checkpoints import save_modules
    from codecbench.codecs.diffusion.quantizers.mel_frames import MelFramesQuantizer
    from codecbench.codecs.diffusion.training import mel2mel, vocoder
    from codecbench.codecs.diffusion.vocoders.hifigan import HiFiGANGenerator

    generator = torch.manual_seed(0)
    quantizer = MelFramesQuantizer(mel2mel.TINY_QUANTIZER)
    quantizer(torch.randn(2, 80, 12, generator=generator))  # a training pass initialises the codebooks
    training = {"recipe": "tiny (untrained)"}
    save_modules(out / "mel-rvq.safetensors", {"quantizer": quantizer}, training)
    save_modules(out / "mel2mel.safetensors", {"backbone": WaveNet1d(mel2mel.TINY_BACKBONE)},
                 {**training, "diffusion": mel2mel.DIFFUSION})
    for name in ("hifigan", "gan-mel"):
        save_modules(out / f"{name}.safetensors", {"generator": HiFiGANGenerator(vocoder.TINY_GENERATOR)}, training)
    return out
