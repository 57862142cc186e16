"""Helpers shared by the metrics built on torch and `auraloss`: their dependencies, input tensors, threads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from codecbench.resources import Dependencies

TORCH = Dependencies(("torch",), extra="metrics")
TORCH_AURALOSS = Dependencies(("torch", "auraloss"), extra="metrics")  # auraloss needs no torchaudio


def as_batch(x: np.ndarray):
    """[T] float array -> float32 tensor [1, 1, T] (batch, channel, time) as auraloss expects."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).reshape(1, 1, -1)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread without gradients: metric processes are the unit of parallelism, and
    torch's thread pool on small spectra is many times slower than one thread on a busy machine."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            yield
    finally:
        torch.set_num_threads(previous)
