"""Recipes `ladiffcodec` (latent2latent) and `latent2mel`: a conditional diffusion model in an output domain,
conditioned by the transmitted tokens of the frozen `encodec16` tokenizer through a `TokenUpsampler`.

Both train the upsampler and the denoiser jointly, with 3 or 6 codebooks drawn per batch (1.5 / 3 kbps),
T = 1000 linear betas (1e-4 -> 0.02) and velocity targets (as `mel2mel`: they train faster than noise
targets on a CPU budget), plus an auxiliary loss that makes the upsampler's output a coarse estimate of
the target (what midway-infilling starts from):
- `ladiffcodec`: the output domain is the normalised latent of the frozen `latent-ae` autoencoder; the
  denoiser a 1-D U-Net; the estimate loss is the latent L1 plus, through the frozen autoencoder decoder,
  the waveform's log-mel L1 (phase-free: tokens at 1.5 kbps do not determine the latent's fine structure,
  and a latent L1 alone would pull the estimate to an over-smooth mean).
  Exports `ladiffcodec.safetensors`.
- `latent2mel`: the output domain is the normalised log-mel; the denoiser the WaveNet of `mel2mel` (same
  configuration); the estimate loss the mel L1. Exports `latent2mel.safetensors`; decoded by the
  `hifigan` vocoder of the mel codecs.

Options that follow the paper where the shipped checkpoints do not (see README's paper-vs-code table):
`condition_scaling=upsampled_frames` scales each upsampled frame of the condition to [-1, 1] (LaDiffCodec
Sec. 2.2) instead of each token frame before upsampling, and then trains the upsampler by the diffusion
loss alone, as the paper does (the condition is no longer on the scale of the output, so the estimate
losses do not apply); `codebooks` trains one model per bit rate (the paper's setup) instead of one for both;
`prediction_type=epsilon` trains the paper's noise prediction instead of the velocity.

Recipe args: `tokenizer` (the encodec16.safetensors; default the shipped one), `autoencoder`
(`ladiffcodec`: the latent-ae.safetensors, any stride; default the shipped one), `codebooks` (e.g. "3"),
`condition_scaling` (`token_frames`, the default, or `upsampled_frames`), `prediction_type`.
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.diffusion.backbones.unet1d import UNet1d, UNet1dConfig
from codecbench.codecs.diffusion.backbones.wavenet1d import WaveNet1d, WaveNet1dConfig
from codecbench.codecs.diffusion.checkpoints import checkpoint_path, file_sha256, load_modules, save_modules
from codecbench.codecs.diffusion.codec import reverse_diffusion
from codecbench.codecs.diffusion.quantizers.token_conditioner import (TokenUpsampler, TokenUpsamplerConfig,
                                                                      upsampling_rates)
from codecbench.codecs.diffusion.representation import LogMel
from codecbench.codecs.diffusion.samplers import DDPMSampler, MidwayInfillingSampler
from codecbench.codecs.diffusion.training.data import Batch
from codecbench.codecs.diffusion.training import losses
from codecbench.codecs.diffusion.training.encodec16 import CODEBOOKS, check_segment
from codecbench.codecs.diffusion.training.mel2mel import diffusion_loss, validation_timesteps
from codecbench.codecs.diffusion.training.trainer import Recipe, TrainOptions

DIFFUSION = {"num_train_timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02, "prediction_type": "v_prediction"}
VALIDATION_MIDWAY = {"tau": 100, "gamma": 0.3}
VALIDATION_STEPS = 25  # midway steps of the sampled validation score (respaced from tau = 100)


def frozen(path: str | Path, prefix: str, device: torch.device) -> nn.Module:
    """A module of a checkpoint file, in eval mode without gradients."""
    return load_modules(path, device)[prefix].requires_grad_(False).eval()


def frozen_provenance(paths: dict[str, Path]) -> dict[str, dict[str, str]]:
    """What an exported checkpoint records of the frozen files it was trained on: name and SHA-256."""
    return {name: {"file": path.name, "sha256": file_sha256(path)} for name, path in paths.items()}


def diffusion_schedule(options: TrainOptions, default: dict[str, Any]) -> dict[str, Any]:
    """The recipe's schedule with the `prediction_type` recipe arg applied (`epsilon`, as LaDiffCodec and
    DiffWave train, or `v_prediction`); what the export records and decoding reads."""
    return {**default, "prediction_type": options.recipe_args.get("prediction_type") or default["prediction_type"]}


def codebook_choices(options: TrainOptions, supported: tuple[int, ...]) -> tuple[int, ...]:
    """The codebook counts a run draws from: all `supported` (one model for every bit rate), or the
    `codebooks` recipe arg ("3" or "3,6": a model per bit rate).

    Raises:
        ValueError: a count the transmitter does not offer.
    """
    text = options.recipe_args.get("codebooks")
    if not text:
        return supported
    chosen = tuple(int(v) for v in str(text).split(","))
    if not chosen or any(c not in supported for c in chosen):
        raise ValueError(f"{options.recipe}: --codebooks takes some of {list(supported)}, not {text!r}")
    return chosen


class TokenDiffusionRecipe(Recipe):
    """Frozen tokenizer -> TokenUpsampler -> conditional denoiser in an output domain (see subclasses)."""

    export_name = ""
    defaults = {"batch_size": 8, "segment_frames": 60, "lr": 5e-4}

    def __init__(self, options: TrainOptions, representation: LogMel) -> None:
        super().__init__(options, representation)
        self.tiny = options.preset == "tiny"
        self.codebooks = codebook_choices(options, CODEBOOKS)
        self.condition_scaling = options.recipe_args.get("condition_scaling") or "token_frames"
        self.frozen_paths = {"tokenizer": Path(options.recipe_args.get("tokenizer") or checkpoint_path("encodec16"))}
        self.tokenizer = frozen(self.frozen_paths["tokenizer"], "tokenizer", self.device)
        check_segment(self, self.tokenizer.hop_length)
        self.upsampler = TokenUpsampler(self.upsampler_config()).to(self.device)
        # the estimate losses and midway's start need a condition on the scale of the output
        self.estimates = self.condition_scaling != "upsampled_frames"
        self.backbone = self.build_backbone().to(self.device)
        self.diffusion = diffusion_schedule(options, DIFFUSION)
        self.sampler = DDPMSampler(**self.diffusion)
        self.modules = {"conditioner": self.upsampler, "backbone": self.backbone}
        self.adamw("model", itertools.chain(self.upsampler.parameters(), self.backbone.parameters()))

    @abstractmethod
    def upsampler_config(self) -> TokenUpsamplerConfig:
        """Tokens -> the output domain."""

    @abstractmethod
    def build_backbone(self) -> nn.Module:
        """The denoiser."""

    @abstractmethod
    def target(self, batch: Batch) -> torch.Tensor:
        """The normalised output-domain x_0 [B, C, N] of a batch."""

    @abstractmethod
    def estimate_losses(self, estimate: torch.Tensor, target: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """Losses that make the upsampler's output a coarse estimate of the target (or its waveform)."""

    def estimate(self, wav: torch.Tensor, codebooks: int, frames: int) -> torch.Tensor:
        """The upsampled token estimate [B, C, frames] of waveforms [B, T] coded with `codebooks` codebooks."""
        with torch.no_grad():
            indices = self.tokenizer.use_quantizers(codebooks).encode(wav[:, None])
            embeddings = self.tokenizer.embed(indices)
        return self.upsampler(embeddings)[..., :frames]

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        codebooks = self.codebooks[int(torch.randint(len(self.codebooks), (1,)))]
        target = self.target(batch)
        estimate = self.estimate(batch.wav, codebooks, target.shape[-1])
        diffusion = diffusion_loss(self.backbone, self.sampler, target, estimate)
        auxiliary = self.estimate_losses(estimate, target, batch) if self.estimates else {}
        loss = diffusion + sum(auxiliary.values())
        self.optimizers["model"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["model"].step()
        return {"diffusion_mse": diffusion, **auxiliary, "loss": loss}

    def validate(self, batch: Batch) -> dict[str, float]:
        """Per bit rate: the estimate losses, the diffusion loss at spread timesteps, and the estimate
        losses of a midway-infilling sample (tau 100, gamma 0.3, 25 respaced steps)."""
        target = self.target(batch)
        generator = torch.Generator(device=self.device).manual_seed(0)
        timesteps = validation_timesteps(target.shape[0], self.sampler, target.device)
        scores = {}
        for codebooks in self.codebooks:
            estimate = self.estimate(batch.wav, codebooks, target.shape[-1])
            if self.estimates:
                scores.update({f"{k}@{codebooks}": float(v)
                               for k, v in self.estimate_losses(estimate, target, batch).items()})
            scores[f"diffusion_mse@{codebooks}"] = float(diffusion_loss(self.backbone, self.sampler, target, estimate,
                                                                         generator, timesteps))
            sampler = MidwayInfillingSampler(**VALIDATION_MIDWAY, **self.diffusion)
            sampled = reverse_diffusion(self.backbone, sampler, estimate, target.shape, VALIDATION_STEPS, generator,
                                        estimate)
            scores.update({f"midway_{k}@{codebooks}": float(v)
                           for k, v in self.estimate_losses(sampled, target, batch).items()})
        return scores

    def export_metadata(self) -> dict[str, Any]:
        """What decoding needs besides the modules: the diffusion schedule, the operating points (codebook
        counts) the model serves (and the output normalisation)."""
        return {"diffusion": self.diffusion, "codebooks": list(self.codebooks)}

    def export(self, out: Path, training: dict[str, Any]) -> list[Path]:
        return [save_modules(out / f"{self.export_name}.safetensors",
                             {"conditioner": self.upsampler, "backbone": self.backbone},
                             {**training, **self.export_metadata(), "frozen": frozen_provenance(self.frozen_paths)})]


class LaDiffCodecRecipe(TokenDiffusionRecipe):
    """latent2latent: diffusion in the latent of the frozen continuous autoencoder (a 1-D U-Net)."""

    name = "ladiffcodec"
    export_name = "ladiffcodec"
    TINY_BACKBONE = dict(channels=(8, 16), time_dim=8, heads=2)

    def __init__(self, options: TrainOptions, representation: LogMel) -> None:
        path = Path(options.recipe_args.get("autoencoder") or checkpoint_path("latent-ae"))
        self.autoencoder = frozen(path, "autoencoder", torch.device(options.device))
        super().__init__(options, representation)
        self.frozen_paths["autoencoder"] = path

    def upsampler_config(self) -> TokenUpsamplerConfig:
        channels = 16 if self.tiny else TokenUpsamplerConfig.channels
        hop = self.autoencoder.hop_length
        return TokenUpsamplerConfig(in_dim=self.tokenizer.embedding_dim, out_dim=self.autoencoder.channels,
                                    channels=channels, rates=upsampling_rates(self.tokenizer.hop_length // hop),
                                    input_hop=self.tokenizer.hop_length, output_hop=hop,
                                    condition_scaling=self.condition_scaling)

    def build_backbone(self) -> nn.Module:
        sizes = self.TINY_BACKBONE if self.tiny else {}
        channels = self.autoencoder.channels
        return UNet1d(UNet1dConfig(in_channels=channels, cond_channels=channels, **sizes))

    def target(self, batch: Batch) -> torch.Tensor:
        with torch.no_grad():
            return self.autoencoder.normalize(self.autoencoder(batch.wav))

    def estimate_losses(self, estimate: torch.Tensor, target: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        decoded = self.autoencoder.decode(self.autoencoder.denormalize(estimate))[:, : batch.wav.shape[-1]]
        return {"latent_l1": F.l1_loss(estimate, target),
                "decoded_mel_l1": losses.mel_loss(self.representation, decoded, batch.wav)}


class Latent2MelRecipe(TokenDiffusionRecipe):
    """latent2mel: diffusion in the normalised log-mel (the WaveNet denoiser of mel2mel)."""

    name = "latent2mel"
    export_name = "latent2mel"
    defaults = {**TokenDiffusionRecipe.defaults, "lr": 1e-3}
    TINY_BACKBONE = dict(channels=16, dilations=(1, 2), time_dim=8)

    def upsampler_config(self) -> TokenUpsamplerConfig:
        mel = self.representation.config
        channels = 16 if self.tiny else TokenUpsamplerConfig.channels
        return TokenUpsamplerConfig(in_dim=self.tokenizer.embedding_dim, out_dim=mel.n_mels, channels=channels,
                                    rates=(), output_hop=mel.hop_length, centered=True,
                                    condition_scaling=self.condition_scaling)

    def build_backbone(self) -> nn.Module:
        sizes = self.TINY_BACKBONE if self.tiny else {}
        n_mels = self.representation.config.n_mels
        return WaveNet1d(WaveNet1dConfig(in_channels=n_mels, cond_channels=n_mels, **sizes))

    def target(self, batch: Batch) -> torch.Tensor:
        return self.representation.normalize(batch.mel)

    def export_metadata(self) -> dict[str, Any]:
        """Also the mel analysis and normalisation the model was trained in (decoding uses the same)."""
        return {**super().export_metadata(), "mel": asdict(self.representation.config)}

    def estimate_losses(self, estimate: torch.Tensor, target: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        return {"mel_l1": F.l1_loss(estimate, target)}
