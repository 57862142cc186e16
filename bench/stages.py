"""Named codec stages (features, encoder, quantizer, sampler, vocoder, ...) for per-stage timing.

Codecs mark their stages with `with stage("vocoder"): ...`. Outside a `StageRecorder` this costs one
context-variable lookup. Inside one (the latency benchmark), each stage is timed with CUDA events on a
GPU (read after one explicit synchronisation) or `perf_counter` on the CPU.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Iterator

_active: ContextVar["StageRecorder | None"] = ContextVar("codecbench_stage_recorder", default=None)


@dataclass
class StageRecorder:
    """Collects stage durations (ms) while active.

    Args:
        device: `cpu` or `cuda`; on `cuda` stages are timed with CUDA events.
    """

    device: str = "cpu"
    _marks: list[tuple[str, Any, Any]] = field(default_factory=list)

    def __enter__(self) -> "StageRecorder":
        self._token = _active.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _active.reset(self._token)

    def _now(self) -> Any:
        if self.device.startswith("cuda"):
            import torch

            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def durations_ms(self) -> dict[str, float]:
        """Total milliseconds per stage name, summed over repeats (synchronises the GPU once)."""
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        totals: dict[str, float] = {}
        for name, start, end in self._marks:
            elapsed = start.elapsed_time(end) if self.device.startswith("cuda") else 1000 * (end - start)
            totals[name] = totals.get(name, 0.0) + elapsed
        return totals

    def counts(self) -> dict[str, int]:
        """How many times each stage ran since the last `clear`."""
        counted: dict[str, int] = {}
        for name, _, _ in self._marks:
            counted[name] = counted.get(name, 0) + 1
        return counted

    def clear(self) -> None:
        self._marks.clear()


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Mark a codec stage; timed only when a StageRecorder is active."""
    recorder = _active.get()
    if recorder is None:
        yield
        return
    start = recorder._now()
    try:
        yield
    finally:
        recorder._marks.append((name, start, recorder._now()))


@contextmanager
def stages_suspended() -> Iterator[None]:
    """Record no stage inside (e.g. while a CUDA graph is captured, where no event may be recorded)."""
    token = _active.set(None)
    try:
        yield
    finally:
        _active.reset(token)
