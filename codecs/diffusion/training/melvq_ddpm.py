"""Recipe `melvq-ddpm`: the 2-D convolutional VQ autoencoder and the 2-D U-Net denoiser trained jointly
on gain-normalised speech, with the paper's loss: L1 autoencoder + 0.25 VQ commitment + 0.5 multi-scale
spectral + diffusion MSE (epsilon prediction, T = 1000 linear betas 1e-4 -> 0.02).
Exports `melvq-ddpm.safetensors` (quantizer + backbone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from codecbench.codecs.diffusion.backbones.unet2d import UNet2d, UNet2dConfig
from codecbench.codecs.diffusion.checkpoints import save_modules
from codecbench.codecs.diffusion.codec import reverse_diffusion
from codecbench.codecs.diffusion.gain import GainCoder
from codecbench.codecs.diffusion.quantizers.mel_grid import MelGridConfig, MelGridQuantizer
from codecbench.codecs.diffusion.representation import LogMel
from codecbench.codecs.diffusion.samplers import DDPMSampler
from codecbench.codecs.diffusion.training.data import Batch
from codecbench.codecs.diffusion.training.mel2mel import diffusion_loss, validation_timesteps
from codecbench.codecs.diffusion.training.losses import multiscale_mel_loss
from codecbench.codecs.diffusion.training.trainer import Recipe, TrainOptions

DIFFUSION = {"num_train_timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02, "prediction_type": "epsilon"}
COMMITMENT_WEIGHT, SPECTRAL_WEIGHT = 0.25, 0.5
VALIDATION_STEPS = 20  # the paper's sampling steps
TINY_QUANTIZER = MelGridConfig(channels=(4, 8), latent_dim=8, num_codes=16)
TINY_BACKBONE = UNet2dConfig(cond_channels=9, cond_proj=4, channels=(4, 8, 8, 8), time_dim=16, heads=2)


class MelVQDDPMRecipe(Recipe):
    name = "melvq-ddpm"
    defaults = {"batch_size": 16, "segment_frames": 64, "lr": 5e-4}

    def __init__(self, options: TrainOptions, representation: LogMel) -> None:
        super().__init__(options, representation)
        tiny = options.preset == "tiny"
        self.quantizer = MelGridQuantizer(TINY_QUANTIZER if tiny else MelGridConfig()).to(self.device)
        backbone_config = TINY_BACKBONE if tiny else UNet2dConfig(cond_channels=self.quantizer.cond_channels)
        self.backbone = UNet2d(backbone_config).to(self.device)
        self.sampler = DDPMSampler(**DIFFUSION)
        self.gain = GainCoder()
        self.modules = {"quantizer": self.quantizer, "backbone": self.backbone}
        self.adamw("model", [*self.quantizer.parameters(), *self.backbone.parameters()])
        if self.setting("segment_frames") % UNet2d.frame_multiple:
            raise ValueError(f"melvq-ddpm segments must be a multiple of {UNet2d.frame_multiple} frames")

    def segment_transform(self):
        gain = self.gain

        def normalize(wav: np.ndarray) -> np.ndarray:
            tensor = torch.from_numpy(wav)
            return gain.normalize(tensor, gain.encode(tensor)).numpy()

        return normalize

    def _losses(self, mel: torch.Tensor, generator: torch.Generator | None = None,
                timesteps: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        coarse, out = self.quantizer(mel)
        cond = self.quantizer.condition(out.quantized, coarse)
        return {"l1": F.l1_loss(coarse, mel), "commitment": out.commitment_loss,
                "spectral": multiscale_mel_loss(self.representation.denormalize(coarse),
                                                self.representation.denormalize(mel)),
                "diffusion_mse": diffusion_loss(self.backbone, self.sampler, mel[:, None], cond, generator, timesteps)}

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        parts = self._losses(self.representation.normalize(batch.mel))
        loss = (parts["l1"] + COMMITMENT_WEIGHT * parts["commitment"] + SPECTRAL_WEIGHT * parts["spectral"]
                + parts["diffusion_mse"])
        self.optimizers["model"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["model"].step()
        return {"loss": loss, **parts}

    def validate(self, batch: Batch) -> dict[str, float]:
        """The training losses at fixed timesteps, and the L1 of a DDPM-sampled mel (20 steps)."""
        mel = self.representation.normalize(batch.mel)
        generator = torch.Generator(device=self.device).manual_seed(0)
        scores = {k: float(v) for k, v in self._losses(mel, generator,
                                                         validation_timesteps(mel.shape[0], self.sampler, mel.device)).items()}
        dequantized = self.quantizer.dequantize(self.quantizer.encode(mel))
        sampled = reverse_diffusion(self.backbone, DDPMSampler(**DIFFUSION), dequantized.cond, mel.shape, VALIDATION_STEPS,
                                    generator)
        scores["sampled_l1"] = float(F.l1_loss(sampled, mel))
        return scores

    def export(self, out: Path, training: dict[str, Any]) -> list[Path]:
        return [save_modules(out / "melvq-ddpm.safetensors", {"quantizer": self.quantizer, "backbone": self.backbone},
                             {**training, "diffusion": DIFFUSION})]
