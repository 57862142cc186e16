"""Recipes `vocoder` (HiFi-GAN-style generator on clean log-mels) and `gan-mel` (the same generator on
the dequantized mels of the `mel-rvq` quantizer: the GAN baseline).

Losses: 45 x mel L1 + 15 x multi-resolution STFT from the first step; from `adversarial_start` on, also
HiFi-GAN's least-squares adversarial loss and 2 x feature matching against MPD + MSD. Starting without
the adversarial terms gets an intelligible vocoder in far fewer (CPU) steps; the GAN phase then sharpens it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from codecbench.codecs.diffusion.checkpoints import load_modules, save_modules
from codecbench.codecs.diffusion.representation import LogMel
from codecbench.codecs.diffusion.training import losses
from codecbench.codecs.diffusion.training.data import Batch
from codecbench.codecs.diffusion.training.trainer import Recipe, TrainOptions
from codecbench.codecs.diffusion.vocoders.discriminators import DiscriminatorConfig, Discriminators
from codecbench.codecs.diffusion.vocoders.hifigan import HiFiGANConfig, HiFiGANGenerator

MEL_WEIGHT, STFT_WEIGHT, FM_WEIGHT = 45.0, 15.0, 2.0
TINY_GENERATOR = HiFiGANConfig(upsample_channels=16, resblock_kernels=(3,), resblock_dilations=(1,))
TINY_DISCRIMINATORS = DiscriminatorConfig(periods=(2, 3), period_channels=(4, 8), scales=1, scale_channels=(4, 8))


class VocoderRecipe(Recipe):
    """HiFi-GAN generator + discriminators trained on clean log-mels; exports `hifigan.safetensors`.

    Recipe args: `adversarial_start` (step at which the GAN losses switch on, default 0), `init` (a
    generator checkpoint to start from).
    """

    name = "vocoder"
    export_name = "hifigan"
    defaults = {"batch_size": 16, "segment_frames": 32, "lr": 2e-4}

    def __init__(self, options: TrainOptions, representation: LogMel) -> None:
        super().__init__(options, representation)
        tiny = options.preset == "tiny"
        self.generator = HiFiGANGenerator(TINY_GENERATOR if tiny else HiFiGANConfig()).to(self.device)
        init = options.recipe_args.get("init")
        if init:
            self.generator.load_state_dict(load_modules(init, self.device)["generator"].state_dict())
        self.discriminators = Discriminators(TINY_DISCRIMINATORS if tiny else DiscriminatorConfig()).to(self.device)
        self.modules = {"generator": self.generator, "discriminators": self.discriminators}
        self.adamw("generator", self.generator.parameters(), betas=(0.8, 0.99))
        self.adamw("discriminators", self.discriminators.parameters(), betas=(0.8, 0.99))
        self.adversarial_start = int(options.recipe_args.get("adversarial_start", 0))

    def input_mel(self, batch: Batch) -> torch.Tensor:
        """The log-mel the generator sees for a batch."""
        return batch.mel

    def _reconstruction(self, fake: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"mel_l1": losses.mel_loss(self.representation, fake, real),
                "stft": losses.multi_resolution_stft_loss(fake, real)}

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        real = batch.wav
        fake = self.generator(self.input_mel(batch))
        logged: dict[str, torch.Tensor] = {}
        adversarial = step >= self.adversarial_start
        if adversarial:
            d_loss = losses.discriminator_loss(self.discriminators(real), self.discriminators(fake.detach()))
            self.optimizers["discriminators"].zero_grad(set_to_none=True)
            d_loss.backward()
            self.optimizers["discriminators"].step()
            logged["d_loss"] = d_loss
        recon = self._reconstruction(fake, real)
        g_loss = MEL_WEIGHT * recon["mel_l1"] + STFT_WEIGHT * recon["stft"]
        if adversarial:
            with torch.no_grad():
                real_out = self.discriminators(real)
            fake_out = self.discriminators(fake)
            adv = losses.generator_adversarial_loss(fake_out)
            fm = losses.feature_matching_loss(real_out, fake_out)
            g_loss = g_loss + adv + FM_WEIGHT * fm
            logged.update(g_adv=adv, feature_matching=fm)
        self.optimizers["generator"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizers["generator"].step()
        logged.update(recon, g_loss=g_loss)
        return logged

    def validate(self, batch: Batch) -> dict[str, float]:
        return {k: float(v) for k, v in self._reconstruction(self.generator(self.input_mel(batch)), batch.wav).items()}

    def export(self, out: Path, training: dict[str, Any]) -> list[Path]:
        return [save_modules(out / f"{self.export_name}.safetensors", {"generator": self.generator}, training)]


class GanMelRecipe(VocoderRecipe):
    """The GAN baseline's vocoder: input = the dequantized mel of a frozen `mel-rvq` quantizer with 2 or 4
    codebooks (1.5 or 3 kbps, drawn per batch); exports `gan-mel.safetensors`.

    Recipe args: `quantizer` (the mel-rvq checkpoint, required), `init`, `adversarial_start`.
    """

    name = "gan-mel"
    export_name = "gan-mel"
    CODEBOOKS = (2, 4)

    def __init__(self, options: TrainOptions, representation: LogMel) -> None:
        super().__init__(options, representation)
        path = options.recipe_args.get("quantizer")
        if not path:
            raise ValueError("gan-mel needs --quantizer PATH (the mel-rvq.safetensors made by `train mel2mel`)")
        self.quantizer = load_modules(path, self.device)["quantizer"].requires_grad_(False)

    def dequantized_mel(self, mel: torch.Tensor, num_quantizers: int) -> torch.Tensor:
        self.quantizer.eval()
        with torch.no_grad():
            normalized = self.quantizer(self.representation.normalize(mel), num_quantizers)[0]
        return self.representation.denormalize(normalized)

    def input_mel(self, batch: Batch) -> torch.Tensor:
        pick = int(torch.randint(len(self.CODEBOOKS), (1,)))
        return self.dequantized_mel(batch.mel, self.CODEBOOKS[pick])

    def validate(self, batch: Batch) -> dict[str, float]:
        scores = {}
        for count in self.CODEBOOKS:
            fake = self.generator(self.dequantized_mel(batch.mel, count))
            scores.update({f"{k}@{count}": float(v) for k, v in self._reconstruction(fake, batch.wav).items()})
        return scores
