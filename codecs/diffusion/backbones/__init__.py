"""Denoising backbones: `forward(x, t, cond) -> prediction`; they never import a sampler."""
