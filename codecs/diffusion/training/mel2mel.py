"""Recipe `mel2mel`: first the transmitted-mel quantizer (residual VQ of log-mel frames, trained with
2 or 4 codebooks drawn per batch so one model serves 1.5 and 3 kbps), then, with the quantizer frozen,
the conditional diffusion model that maps its dequantized mel to the clean mel. Exports
`mel-rvq.safetensors` and `mel2mel.safetensors`.

The diffusion samples the residual (clean - dequantized) / RESIDUAL_SCALE given the dequantized mel
(residual diffusion as in ResGrad, Chen et al. 2022) with v-prediction (Salimans & Ho 2022), T = 1000
linear betas. On the CPU budget both choices mattered: a v-prediction model of the clean mel itself,
after 3500 steps, sampled mels with 3x the L1 error of the quantized mel it was conditioned on.

Recipe args: `quantizer_steps` (steps of the first phase; default a third of the run), `quantizer` (a
mel-rvq checkpoint to start the quantizer from; with `quantizer_steps` 0 it is used as it is).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from codecbench.codecs.diffusion.backbones.wavenet1d import WaveNet1d, WaveNet1dConfig
from codecbench.codecs.diffusion.checkpoints import load_modules, save_modules
from codecbench.codecs.diffusion.codec import reverse_diffusion
from codecbench.codecs.diffusion.quantizers.mel_frames import MelFramesConfig, MelFramesQuantizer
from codecbench.codecs.diffusion.representation import LogMel
from codecbench.codecs.diffusion.samplers import DDIMSampler, DDPMSampler
from codecbench.codecs.diffusion.training.data import Batch
from codecbench.codecs.diffusion.training.trainer import Recipe, TrainOptions

DIFFUSION = {"num_train_timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02, "prediction_type": "v_prediction"}
RESIDUAL_SCALE = 0.2  # the std of (clean - dequantized) normalised log-mel: 0.20 at 1.5 kbps, 0.16 at 3
COMMITMENT_WEIGHT = 0.25
CODEBOOKS = (2, 4)
VALIDATION_STEPS = 10  # DDIM steps of the sampled-mel validation score
TINY_QUANTIZER = MelFramesConfig(hidden=16, blocks=1, latent_dim=8, num_codes=16)
TINY_BACKBONE = WaveNet1dConfig(channels=96, dilations=(1, 2), time_dim=16)


def diffusion_loss(backbone: torch.nn.Module, sampler: DDPMSampler, clean: torch.Tensor, cond: torch.Tensor,
                   generator: torch.Generator | None = None, timesteps: torch.Tensor | None = None) -> torch.Tensor:
    """Ho et al. 2020, Alg. 1: MSE between the model output and its target (the noise, or the velocity
    for v-prediction) at a random t (or `timesteps`)."""
    if timesteps is None:
        timesteps = torch.randint(0, sampler.num_train_timesteps, (clean.shape[0],), generator=generator,
                                  device=clean.device)
    noise = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
    output = backbone(sampler.add_noise(clean, noise, timesteps), timesteps, cond)
    return F.mse_loss(output, sampler.training_target(clean, noise, timesteps))


def validation_timesteps(batch_size: int, sampler: DDPMSampler, device: torch.device) -> torch.Tensor:
    """Evenly spread timesteps for a deterministic validation diffusion loss."""
    return torch.linspace(0, sampler.num_train_timesteps - 1, batch_size, device=device).long()


class Mel2MelRecipe(Recipe):
    name = "mel2mel"
    defaults = {"batch_size": 16, "segment_frames": 128, "lr": 1e-3}

    def __init__(self, options: TrainOptions, representation: LogMel) -> None:
        super().__init__(options, representation)
        tiny = options.preset == "tiny"
        self.quantizer = MelFramesQuantizer(TINY_QUANTIZER if tiny else MelFramesConfig()).to(self.device)
        if options.recipe_args.get("quantizer"):
            loaded = load_modules(options.recipe_args["quantizer"], self.device)["quantizer"]
            self.quantizer.load_state_dict(loaded.state_dict())
        backbone_config = TINY_BACKBONE if tiny else WaveNet1dConfig()
        self.backbone = WaveNet1d(backbone_config).to(self.device)
        self.sampler = DDPMSampler(**DIFFUSION)
        self.modules = {"quantizer": self.quantizer, "backbone": self.backbone}
        self.adamw("quantizer", self.quantizer.parameters())
        self.adamw("backbone", self.backbone.parameters())
        self.quantizer_steps = int(options.recipe_args.get("quantizer_steps", options.steps // 3))
        self.spans = {"quantizer": (0, self.quantizer_steps), "backbone": (self.quantizer_steps, options.steps)}
        self.steps_done = 0

    def _quantized(self, mel: torch.Tensor, count: int) -> torch.Tensor:
        self.quantizer.eval()
        with torch.no_grad():
            return self.quantizer(mel, count)[0]

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        mel = self.representation.normalize(batch.mel)
        count = CODEBOOKS[int(torch.randint(len(CODEBOOKS), (1,)))]
        self.steps_done = step + 1
        if step < self.quantizer_steps:
            recon, out = self.quantizer(mel, count)
            l1 = F.l1_loss(recon, mel)
            loss = l1 + COMMITMENT_WEIGHT * out.commitment_loss
            self.optimizers["quantizer"].zero_grad(set_to_none=True)
            loss.backward()
            self.optimizers["quantizer"].step()
            return {"quantizer_l1": l1, "commitment": out.commitment_loss}
        quantized = self._quantized(mel, count)
        loss = diffusion_loss(self.backbone, self.sampler, (mel - quantized) / RESIDUAL_SCALE, quantized)
        self.optimizers["backbone"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["backbone"].step()
        return {"diffusion_mse": loss}

    def validate(self, batch: Batch) -> dict[str, float]:
        """Per bit rate: L1 (normalised log-mel) of the quantized mel, and once the diffusion phase has
        begun, its noise MSE and the L1 of a DDIM-sampled mel (does diffusion improve on the quantized mel?)."""
        mel = self.representation.normalize(batch.mel)
        generator = torch.Generator(device=self.device).manual_seed(0)
        scores = {}
        for count in CODEBOOKS:
            quantized = self._quantized(mel, count)
            scores[f"quantized_l1@{count}"] = float(F.l1_loss(quantized, mel))
            if self.steps_done > self.quantizer_steps:
                timesteps = validation_timesteps(mel.shape[0], self.sampler, mel.device)
                residual = (mel - quantized) / RESIDUAL_SCALE
                scores[f"diffusion_mse@{count}"] = float(diffusion_loss(self.backbone, self.sampler, residual,
                                                                         quantized, generator, timesteps))
                sampled = reverse_diffusion(self.backbone, DDIMSampler(**DIFFUSION), quantized, mel.shape,
                                            VALIDATION_STEPS, generator)
                scores[f"sampled_l1@{count}"] = float(F.l1_loss(quantized + RESIDUAL_SCALE * sampled, mel))
        return scores

    def export(self, out: Path, training: dict[str, Any]) -> list[Path]:
        paths = [save_modules(out / "mel-rvq.safetensors", {"quantizer": self.quantizer},
                              {**training, "phase": "quantizer", "phase_steps": min(training["steps"], self.quantizer_steps)})]
        if training["steps"] > self.quantizer_steps:
            paths.append(save_modules(out / "mel2mel.safetensors", {"backbone": self.backbone},
                                      {**training, "diffusion": DIFFUSION, "residual_scale": RESIDUAL_SCALE}))
        return paths
