"""Recipes `mel2wave` and `latent2wave`: the waveform-output points of the diffusion design space (Foti &
Brendel): a waveform diffusion decoder conditioned on what a frozen quantizer transmits.

The decoder is in the DiffWave family (Kong et al. 2021): epsilon prediction (their Eq. 5 objective, the
unweighted noise MSE), T = 1000 linear betas 1e-4 -> 0.02, and a non-causal WaveNet of gated dilated
residual blocks with the timestep embedding and the upsampled condition added in every block (their
Fig. 2, `backbones.wavenet1d`), here over the waveform in 1 ms polyphase frames of 16 samples
(`waveform.PolyphaseWaveform`), so it runs at 1 kHz instead of 16 kHz on a CPU budget. The transmitted
frames are upsampled to that rate by transposed convolutions (`TokenUpsampler`, as DiffWave upsamples
its mel), trained jointly with the denoiser:
- `mel2wave`: the dequantized log-mel of the frozen `mel-rvq` quantizer of mel2mel (2 or 4 codebooks,
  1.5 / 3 kbps), upsampled x16 (62.5 Hz -> 1 kHz), unscaled. Exports `mel2wave.safetensors`.
- `latent2wave`: the frozen `encodec16` token embeddings (3 or 6 codebooks, 1.5 / 3 kbps), each token
  frame scaled to [-1, 1] as for latent2mel, upsampled x20 (50 Hz -> 1 kHz). Exports
  `latent2wave.safetensors`.
Each batch draws one operating point, so one model serves both (`--codebooks N` trains a single one).

Recipe args: `quantizer` (mel2wave: the mel-rvq.safetensors; default the shipped one), `tokenizer`
(latent2wave: the encodec16.safetensors; default the shipped one), `codebooks`, `prediction_type`.
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from codecbench.codecs.diffusion.backbones.wavenet1d import WaveNet1d, WaveNet1dConfig
from codecbench.codecs.diffusion.checkpoints import checkpoint_path, save_modules
from codecbench.codecs.diffusion.codec import reverse_diffusion
from codecbench.codecs.diffusion.quantizers.token_conditioner import (TokenUpsampler, TokenUpsamplerConfig,
                                                                      upsampling_rates)
from codecbench.codecs.diffusion.representation import LogMel
from codecbench.codecs.diffusion.samplers import DDPMSampler
from codecbench.codecs.diffusion.training import losses
from codecbench.codecs.diffusion.training.data import Batch
from codecbench.codecs.diffusion.training.encodec16 import CODEBOOKS as TOKEN_CODEBOOKS
from codecbench.codecs.diffusion.training.encodec16 import check_segment
from codecbench.codecs.diffusion.training.latent_diffusion import (codebook_choices, diffusion_schedule, frozen,
                                                                   frozen_provenance)
from codecbench.codecs.diffusion.training.mel2mel import CODEBOOKS as MEL_CODEBOOKS
from codecbench.codecs.diffusion.training.mel2mel import diffusion_loss, validation_timesteps
from codecbench.codecs.diffusion.training.trainer import Recipe, TrainOptions
from codecbench.codecs.diffusion.waveform import PolyphaseConfig, PolyphaseSynthesis, PolyphaseWaveform

DIFFUSION = {"num_train_timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02, "prediction_type": "epsilon"}
WAVEFORM = PolyphaseConfig()
BACKBONE = WaveNet1dConfig(in_channels=WAVEFORM.phases, cond_channels=64, channels=64,
                           dilations=(1, 2, 4, 8, 16, 32) * 2, time_dim=64)
TINY_BACKBONE = WaveNet1dConfig(in_channels=WAVEFORM.phases, cond_channels=8, channels=8, dilations=(1, 2), time_dim=8)
VALIDATION_STEPS = 20  # respaced DDPM steps of the sampled-waveform validation score


class WaveformDiffusionRecipe(Recipe):
    """Frozen transmitter -> TokenUpsampler -> DiffWave-style denoiser of polyphase waveform frames."""

    export_name = ""
    defaults = {"batch_size": 8, "segment_frames": 30, "lr": 5e-4}
    all_codebooks: tuple[int, ...] = ()
    transmitter_key = ""  # the transmitter's module key in its checkpoint, and the recipe arg naming the file
    transmitter_checkpoint = ""  # the shipped file used by default
    condition_scaling = "none"

    def __init__(self, options: TrainOptions, representation: LogMel) -> None:
        super().__init__(options, representation)
        self.tiny = options.preset == "tiny"
        self.codebooks = codebook_choices(options, self.all_codebooks)
        self.frozen_paths: dict[str, Path] = {}
        self.transmitter = self.load_transmitter()
        self.waveform = PolyphaseWaveform(WAVEFORM)
        backbone = TINY_BACKBONE if self.tiny else BACKBONE
        self.upsampler = TokenUpsampler(self.upsampler_config(backbone.cond_channels)).to(self.device)
        self.backbone = WaveNet1d(backbone).to(self.device)
        self.diffusion = diffusion_schedule(options, DIFFUSION)
        self.sampler = DDPMSampler(**self.diffusion)
        self.modules = {"conditioner": self.upsampler, "backbone": self.backbone}
        self.adamw("model", itertools.chain(self.upsampler.parameters(), self.backbone.parameters()))

    def load_transmitter(self) -> nn.Module:
        """The frozen quantizer whose dequantized frames condition the decoder (its path is recorded)."""
        key = self.transmitter_key
        path = Path(self.options.recipe_args.get(key) or checkpoint_path(self.transmitter_checkpoint))
        self.frozen_paths[key] = path
        return frozen(path, key, self.device)

    def upsampler_config(self, channels: int) -> TokenUpsamplerConfig:
        """The transmitted frames -> `channels` conditioning channels at the 1 kHz frame rate."""
        dim, hop = self.transmitted_frames()
        return TokenUpsamplerConfig(in_dim=dim, out_dim=channels, channels=16 if self.tiny else 128,
                                    rates=upsampling_rates(hop // WAVEFORM.phases), input_hop=hop,
                                    output_hop=WAVEFORM.phases, condition_scaling=self.condition_scaling)

    @abstractmethod
    def transmitted_frames(self) -> tuple[int, int]:
        """(channels, samples per frame) of what the transmitter dequantizes."""

    @abstractmethod
    def transmitted(self, batch: Batch, codebooks: int) -> torch.Tensor:
        """The dequantized frames [B, D, L] the receiver gets for a batch coded with `codebooks`."""

    def condition(self, batch: Batch, codebooks: int, frames: int) -> torch.Tensor:
        return self.upsampler(self.transmitted(batch, codebooks))[..., :frames]

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        codebooks = self.codebooks[int(torch.randint(len(self.codebooks), (1,)))]
        target = self.waveform.normalize(self.waveform(batch.wav))
        loss = diffusion_loss(self.backbone, self.sampler, target, self.condition(batch, codebooks, target.shape[-1]))
        self.optimizers["model"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["model"].step()
        return {"diffusion_mse": loss}

    def validate(self, batch: Batch) -> dict[str, float]:
        """Per operating point: the noise MSE at spread timesteps, and the log-mel L1 of a waveform
        sampled by 20 respaced DDPM steps."""
        target = self.waveform.normalize(self.waveform(batch.wav))
        generator = torch.Generator(device=self.device).manual_seed(0)
        timesteps = validation_timesteps(target.shape[0], self.sampler, target.device)
        scores = {}
        for codebooks in self.codebooks:
            cond = self.condition(batch, codebooks, target.shape[-1])
            scores[f"diffusion_mse@{codebooks}"] = float(diffusion_loss(self.backbone, self.sampler, target, cond,
                                                                         generator, timesteps))
            sampled = reverse_diffusion(self.backbone, DDPMSampler(**self.diffusion), cond, target.shape,
                                        VALIDATION_STEPS, generator)
            wav = PolyphaseSynthesis()(self.waveform.denormalize(sampled))[:, : batch.wav.shape[-1]]
            scores[f"sampled_mel_l1@{codebooks}"] = float(losses.mel_loss(self.representation, wav, batch.wav))
        return scores

    def export(self, out: Path, training: dict[str, Any]) -> list[Path]:
        metadata = {**training, "diffusion": self.diffusion, "waveform": asdict(WAVEFORM), "codebooks": list(self.codebooks),
                    "frozen": frozen_provenance(self.frozen_paths)}
        return [save_modules(out / f"{self.export_name}.safetensors",
                             {"conditioner": self.upsampler, "backbone": self.backbone}, metadata)]


class Mel2WaveRecipe(WaveformDiffusionRecipe):
    """mel2wave: conditioned on the dequantized mel of the frozen mel2mel quantizer (unscaled)."""

    name = "mel2wave"
    export_name = "mel2wave"
    all_codebooks = MEL_CODEBOOKS
    transmitter_key, transmitter_checkpoint = "quantizer", "mel-rvq"

    def transmitted_frames(self) -> tuple[int, int]:
        return self.representation.config.n_mels, self.representation.config.hop_length

    def transmitted(self, batch: Batch, codebooks: int) -> torch.Tensor:
        with torch.no_grad():
            return self.transmitter(self.representation.normalize(batch.mel), codebooks)[0]


class Latent2WaveRecipe(WaveformDiffusionRecipe):
    """latent2wave: conditioned on the frozen `encodec16` token embeddings (each token frame scaled)."""

    name = "latent2wave"
    export_name = "latent2wave"
    all_codebooks = TOKEN_CODEBOOKS
    transmitter_key, transmitter_checkpoint = "tokenizer", "encodec16"
    condition_scaling = "token_frames"

    def load_transmitter(self) -> nn.Module:
        tokenizer = super().load_transmitter()
        check_segment(self, tokenizer.hop_length)
        return tokenizer

    def transmitted_frames(self) -> tuple[int, int]:
        return self.transmitter.embedding_dim, self.transmitter.hop_length

    def transmitted(self, batch: Batch, codebooks: int) -> torch.Tensor:
        with torch.no_grad():
            return self.transmitter.embed(self.transmitter.use_quantizers(codebooks).encode(batch.wav[:, None]))
