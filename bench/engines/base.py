"""What every engine shares: the work of a run, how codecs are loaded where they run, and the `Engine` interface.
An engine only decides where and when the task functions (`codecbench.task`) run; it computes nothing itself."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from codecbench.codecs import Codec, CodecSpec, CodecUnavailable, load_codec
from codecbench.resources import DEFAULT_THREADS
from codecbench.rows import Row
from codecbench.task import CodecInfo, Plan, Task


@dataclass(frozen=True)
class Work:
    """What an engine runs.

    Args:
        tasks: the pairs to do, grouped by utterance (each input is read once).
        plan: how each of them is coded and scored.
    """

    tasks: tuple[Task, ...]
    plan: Plan


def uses_torch(codec: Codec) -> bool:
    """Whether the codec codes with torch modules (a model that may sit on a GPU and loads slowly)."""
    return bool(codec.modules())


@functools.cache
def worker_codec(spec: str, device: str = "cpu") -> Codec:
    """The codec of `spec` in a worker process, loaded on its first task and kept for the next ones."""
    return load_codec(spec).to(device)


def load_codecs(specs: list[str], load: Callable[[str], Codec]) -> tuple[dict[str, Codec], dict[str, str]]:
    """Each spec's codec through `load` (`worker_codec`, or a load onto a device), and why the unavailable ones
    are skipped (`CodecUnavailable`'s reason, without its `SPEC: unavailable: ` prefix)."""
    codecs, skipped = {}, {}
    for spec in specs:
        try:
            codecs[spec] = load(spec)
        except CodecUnavailable as exc:
            skipped[spec] = str(exc).removeprefix(f"{spec}: unavailable: ")
    return codecs, skipped


class Engine(ABC):
    """Schedules a run's work. Subclasses load the codecs where they will run and call the task functions
    (`codecbench.task.code_task`, `score_task`, `task_row`) for every task, handing each finished row to `store` (the run folder's journal)."""

    name: ClassVar[str]
    threads: int = DEFAULT_THREADS  # torch's threads wherever this engine runs a torch codec

    def start(self) -> None:
        """Acquire what the engine runs on (a Ray cluster); `load` calls it. Nothing for an engine of this process."""

    def close(self) -> None:
        """Release what `start` acquired (worker processes and actors end)."""

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def load(self, specs: list[CodecSpec]) -> tuple[dict[str, CodecInfo], dict[str, str]]:
        """Load every available codec; returns their descriptions and, for the others, why they are unavailable.

        Raises:
            ValueError: a bad spec option or operating point.
        """

    @abstractmethod
    def run(self, work: Work, store: Callable[[Row], None], progress: bool) -> None:
        """Do every task of `work` with the loaded codecs; `store` each row as soon as it is complete.

        Raises:
            KeyboardInterrupt: after every row finished so far was stored.
        """
