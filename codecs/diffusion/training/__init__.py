"""Training: one recipe per trainable configuration, one shared loop (`Trainer`)."""

from __future__ import annotations

RECIPES = {
    "vocoder": "codecbench.codecs.diffusion.training.vocoder:VocoderRecipe",
    "gan-mel": "codecbench.codecs.diffusion.training.vocoder:GanMelRecipe",
    "mel2mel": "codecbench.codecs.diffusion.training.mel2mel:Mel2MelRecipe",
    "melvq-ddpm": "codecbench.codecs.diffusion.training.melvq_ddpm:MelVQDDPMRecipe",
    "encodec16": "codecbench.codecs.diffusion.training.encodec16:Encodec16Recipe",
    "latent-ae": "codecbench.codecs.diffusion.training.latent_ae:LatentAERecipe",
    "ladiffcodec": "codecbench.codecs.diffusion.training.latent_diffusion:LaDiffCodecRecipe",
    "latent2mel": "codecbench.codecs.diffusion.training.latent_diffusion:Latent2MelRecipe",
    "mel2wave": "codecbench.codecs.diffusion.training.waveform_diffusion:Mel2WaveRecipe",
    "latent2wave": "codecbench.codecs.diffusion.training.waveform_diffusion:Latent2WaveRecipe",
}


def recipe_class(name: str):
    """Import the Recipe subclass registered as `name`.

    Raises:
        ValueError: an unknown recipe (the message lists the known ones).
    """
    import importlib

    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; select one of {sorted(RECIPES)}")
    module, _, attr = RECIPES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def train(options, command: list[str] | None = None, progress: bool = True) -> dict:
    """Run a training recipe (see `TrainOptions`); returns the train.json contents."""
    from codecbench.codecs.diffusion.training.trainer import Trainer

    return Trainer(options, recipe_class(options.recipe), command).run(progress)
