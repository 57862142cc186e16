"""Recipe `latent-ae`: LaDiffCodec's continuous autoencoder (SEANet, one stride-8 downsampling, continuous
bottleneck; the recipe arg `strides` sets others, the paper's Table 1 ablation), trained on waveform
segments with the reconstruction losses of `encodec16` (time-domain L1
and log-mel L1); the per-channel latent statistics the diffusion models normalise with are tracked along.
Exports `latent-ae.safetensors`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from codecbench.codecs.diffusion.checkpoints import save_modules
from codecbench.codecs.diffusion.latent_autoencoder import LatentAutoencoder, LatentAutoencoderConfig
from codecbench.codecs.diffusion.representation import LogMel
from codecbench.codecs.diffusion.training.data import Batch
from codecbench.codecs.diffusion.training.encodec16 import reconstruction_losses
from codecbench.codecs.diffusion.training.trainer import Recipe, TrainOptions

TINY = LatentAutoencoderConfig(num_filters=4, latent_dim=4)


def parse_strides(text: str) -> tuple[int, ...]:
    """`"4,8"` -> (4, 8): the strides of LaDiffCodec's Table 1 ablation, as EnCodec lists them.

    Raises:
        ValueError: not positive integers whose product divides the 320-sample token hop.
    """
    try:
        strides = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(f"--strides takes integers like 8 or 4,8, not {text!r}") from None
    hop = 1
    for stride in strides:
        hop *= stride
    if not strides or min(strides) < 1 or 320 % hop:
        raise ValueError(f"--strides {text!r}: positive strides whose product divides the 320-sample token hop")
    return strides


class LatentAERecipe(Recipe):
    name = "latent-ae"
    defaults = {"batch_size": 8, "segment_frames": 60, "lr": 1e-3}

    def __init__(self, options: TrainOptions, representation: LogMel) -> None:
        super().__init__(options, representation)
        config = TINY if options.preset == "tiny" else LatentAutoencoderConfig()
        strides = options.recipe_args.get("strides")
        if strides:
            config = replace(config, stride=parse_strides(strides))
        self.autoencoder = LatentAutoencoder(config).to(self.device)
        self.modules = {"autoencoder": self.autoencoder}
        self.adamw("autoencoder", self.autoencoder.parameters())

    def _reconstruction(self, wav: torch.Tensor, track: bool = False) -> dict[str, torch.Tensor]:
        latent = self.autoencoder(wav)
        if track:
            self.autoencoder.track_statistics(latent)
        recon = self.autoencoder.decode(latent)[:, : wav.shape[-1]]
        return reconstruction_losses(self.representation, recon, wav)

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        terms = self._reconstruction(batch.wav, track=True)
        loss = sum(terms.values())
        self.optimizers["autoencoder"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["autoencoder"].step()
        return {**terms, "loss": loss}

    def validate(self, batch: Batch) -> dict[str, float]:
        return {k: float(v) for k, v in self._reconstruction(batch.wav).items()}

    def export(self, out: Path, training: dict[str, Any]) -> list[Path]:
        return [save_modules(out / "latent-ae.safetensors", {"autoencoder": self.autoencoder}, training)]
