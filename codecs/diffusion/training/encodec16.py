"""Recipe `encodec16`: LaDiffCodec's discrete coder (an EnCodec-architecture 16 kHz codec), trained on
waveform segments with reconstruction losses (Défossez et al. 2022, Sec. 3.4: a time-domain L1 and a
spectral loss, here the log-mel L1, both with weight 1) and the RVQ commitment loss (0.25). Each batch
draws 3 or 6 codebooks (1.5 or 3 kbps), so one model serves both rates. EnCodec's adversarial losses are
left out (on a CPU budget they cost more than they give), and so is a multi-resolution STFT loss: its
spectral-convergence term held our CPU runs on a plateau that outputs a quiet average spectrum.
Exports `encodec16.safetensors`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from codecbench.codecs.diffusion.checkpoints import save_modules
from codecbench.codecs.diffusion.quantizers.encodec_tokens import CODEBOOKS as CODEBOOKS_PER_KBPS
from codecbench.codecs.diffusion.quantizers.encodec_tokens import EncodecTokenizer, EncodecTokenizerConfig
from codecbench.codecs.diffusion.representation import LogMel
from codecbench.codecs.diffusion.training import losses
from codecbench.codecs.diffusion.training.data import Batch
from codecbench.codecs.diffusion.training.trainer import Recipe, TrainOptions

COMMITMENT_WEIGHT = 0.25
CODEBOOKS = tuple(CODEBOOKS_PER_KBPS.values())  # (3, 6): 1.5 and 3 kbps
TINY = EncodecTokenizerConfig(num_filters=4, hidden_size=8, num_lstm_layers=0, num_codes=16)


def check_segment(recipe: Recipe, hop: int) -> None:
    """Segments must hold whole token frames: `segment_frames` x 256 samples must divide by `hop`."""
    samples = recipe.setting("segment_frames") * recipe.representation.config.hop_length
    if samples % hop:
        raise ValueError(f"{recipe.name}: segment of {samples} samples is not a multiple of the {hop}-sample "
                         "token hop; use a multiple of 5 for --segment-frames")


def reconstruction_losses(representation: LogMel, generated: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Time-domain L1 and log-mel L1 between waveforms [B, T] (their sum is the reconstruction loss)."""
    return {"wave_l1": F.l1_loss(generated, target), "mel_l1": losses.mel_loss(representation, generated, target)}


class Encodec16Recipe(Recipe):
    name = "encodec16"
    defaults = {"batch_size": 8, "segment_frames": 60, "lr": 6e-4}

    def __init__(self, options: TrainOptions, representation: LogMel) -> None:
        super().__init__(options, representation)
        config = TINY if options.preset == "tiny" else EncodecTokenizerConfig()
        self.tokenizer = EncodecTokenizer(config).to(self.device)
        check_segment(self, self.tokenizer.hop_length)
        self.modules = {"tokenizer": self.tokenizer}
        self.adamw("tokenizer", self.tokenizer.parameters())

    def _reconstruction(self, wav: torch.Tensor, count: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        recon, out = self.tokenizer(wav[:, None], count)
        return reconstruction_losses(self.representation, recon[:, 0], wav), out.commitment_loss

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        count = CODEBOOKS[int(torch.randint(len(CODEBOOKS), (1,)))]
        terms, commitment = self._reconstruction(batch.wav, count)
        loss = sum(terms.values()) + COMMITMENT_WEIGHT * commitment
        self.optimizers["tokenizer"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["tokenizer"].step()
        return {**terms, "commitment": commitment, "loss": loss}

    def validate(self, batch: Batch) -> dict[str, float]:
        scores = {}
        for count in CODEBOOKS:
            terms, _ = self._reconstruction(batch.wav, count)
            scores.update({f"{k}@{count}": float(v) for k, v in terms.items()})
        return scores

    def export(self, out: Path, training: dict[str, Any]) -> list[Path]:
        return [save_modules(out / "encodec16.safetensors", {"tokenizer": self.tokenizer}, training)]
