"""Engines schedule `pipeline.code` and `pipeline.score` over a run's work and hand each finished `Row` to
the run folder; they compute nothing themselves. `local`: codecs in this process, metrics in worker
processes."""

from codecbench.engines.base import CodecInfo, Engine, Task, Work
from codecbench.engines.local import LocalEngine

__all__ = ["CodecInfo", "Engine", "LocalEngine", "Task", "Work"]
