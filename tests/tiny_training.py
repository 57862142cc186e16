"""Tiny training runs on the embedded LibriSpeech sample (one speaker held back for validation), shared by
the recipe tests."""

from __future__ import annotations

from codecbench.codecs.diffusion.training.trainer import TrainOptions


def tiny(recipe: str, out, librispeech_root, cache: str, steps: int, **extra) -> TrainOptions:
    """Options of a `tiny`-preset run of `steps` steps; `extra` overrides any option."""
    options = dict(recipe=recipe, out=str(out), root=str(librispeech_root), split="sample", steps=steps,
                   preset="tiny", batch_size=4, segment_frames=16, val_speakers=1, val_every=steps,
                   checkpoint_every=steps, log_every=5, cache=cache, lr=3e-3)
    options.update(extra)
    return TrainOptions(**options)


def first_and_last(log: dict, key: str) -> tuple[float, float]:
    """The first and last logged value of a training loss."""
    values = [entry[key] for entry in log["history"] if key in entry]
    return values[0], values[-1]
