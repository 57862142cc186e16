"""Timing one call on a device: `perf_counter` around it, the GPU synchronised before and after."""

from __future__ import annotations

import time
from typing import Any, Callable

from codecbench.stages import StageRecorder


class Clock:
    """Times calls and the codec stages inside them.

    On `cuda` the device is synchronised before the call starts and after it returns, so the wall time
    covers all queued GPU work; stages are timed with CUDA events by the `StageRecorder`. On the CPU both
    use `perf_counter`.

    Args:
        device: `cpu` or `cuda[:N]`.
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.recorder = StageRecorder(device)

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")

    def synchronize(self) -> None:
        if self.is_cuda:
            import torch

            torch.cuda.synchronize(self.device)

    def time(self, function: Callable[..., Any], *args: Any) -> tuple[Any, float, dict[str, tuple[float, int]]]:
        """Call `function(*args)`.

        Returns:
            (its result, wall milliseconds, {stage: (milliseconds, calls)} of the stages it marked).
        """
        self.recorder.clear()
        self.synchronize()
        with self.recorder:
            start = time.perf_counter()
            result = function(*args)
            self.synchronize()
            elapsed = 1000 * (time.perf_counter() - start)
        durations, counts = self.recorder.durations_ms(), self.recorder.counts()
        return result, elapsed, {name: (ms, counts[name]) for name, ms in durations.items()}
