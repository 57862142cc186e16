"""A shipped token-diffusion checkpoint's validation rows, recomputed with today's samplers.

Builds the recipe's trainer on the same held-back speakers as training (`--val-speakers`, default 6, the
model cards' setting), loads the shipped `conditioner` and `backbone` into it and runs the recipe's own
validation: the estimate losses, the diffusion loss at spread timesteps, and the losses of a sample of
Algorithm 1 (`midway_*`: tau 100, gamma 0.3, 25 respaced steps). Prints one JSON object.

    python -m codecbench.benchmarks.checkpoint_validation ladiffcodec --root ../shared/data/LibriSpeech
"""

from __future__ import annotations

import argparse
import json

import torch

from codecbench.codecs.diffusion.checkpoints import CHECKPOINT_DIR, load_modules
from codecbench.codecs.diffusion.training import recipe_class
from codecbench.codecs.diffusion.training.trainer import Trainer, TrainOptions


def validation_rows(recipe: str, root: str | None, split: str, val_speakers: int, out: str) -> dict[str, float]:
    """The recipe's validation scores of the shipped checkpoint `recipe` (`ladiffcodec` or `latent2mel`)."""
    options = TrainOptions(recipe=recipe, out=out, root=root, split=split, val_speakers=val_speakers, threads=1)
    trainer = Trainer(options, recipe_class(recipe))
    _, batch = trainer._data()
    parts = load_modules(CHECKPOINT_DIR / f"{recipe}.safetensors")
    trainer.recipe.upsampler.load_state_dict(parts["conditioner"].float().state_dict())
    trainer.recipe.backbone.load_state_dict(parts["backbone"].float().state_dict())
    return trainer._validate(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", choices=["ladiffcodec", "latent2mel"])
    parser.add_argument("--root", default=None, help="LibriSpeech root")
    parser.add_argument("--split", default="train-clean-100")
    parser.add_argument("--val-speakers", type=int, default=6)
    parser.add_argument("--out", default="runs/checkpoint-validation", help="the trainer's (unused) run folder")
    args = parser.parse_args()
    torch.set_num_threads(1)
    scores = validation_rows(args.recipe, args.root, args.split, args.val_speakers, args.out)
    print(json.dumps({k: round(v, 4) for k, v in scores.items()}))


if __name__ == "__main__":
    main()
