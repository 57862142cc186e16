"""Per-process caches keyed by a signal's exact samples: reference-side work is done once per utterance."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


def signal_digest(x: np.ndarray, sample_rate: int) -> str:
    """A key naming a signal exactly (its float32 samples and its rate)."""
    digest = hashlib.blake2b(np.ascontiguousarray(x, dtype=np.float32).tobytes(), digest_size=16)
    digest.update(str(sample_rate).encode())
    return digest.hexdigest()


class SignalCache(Generic[T]):
    """Values computed from a signal, kept for the `maxsize` most recently added signals.

    Args:
        maxsize: how many entries to keep (one per distinct signal and tag).
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[str, str], T] = OrderedDict()

    def get(self, x: np.ndarray, sample_rate: int, compute: Callable[[], T], tag: str = "") -> T:
        """The cached value for (`x`, `tag`), computing it with `compute()` the first time."""
        key = (tag, signal_digest(x, sample_rate))
        if key not in self._entries:
            self._entries[key] = compute()
            if len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return self._entries[key]
