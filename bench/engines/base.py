"""What every engine shares: the work of a run, the description of a loaded codec, and how a task's stages
become a `Row`. An engine only decides where and when `pipeline.code` and `pipeline.score` run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from codecbench.audio import LoadedAudio
from codecbench.codecs import Codec, CodecSpec
from codecbench.datasets import Utterance
from codecbench.pipeline import Coded, Scored
from codecbench.rows import N_SEEDS, SEED_STD_SUFFIX, Row, nan_metrics


@dataclass(frozen=True)
class Task:
    """One (utterance, codec spec) pair still to do."""

    utterance: Utterance
    spec: str


@dataclass(frozen=True)
class Work:
    """What an engine runs.

    Args:
        tasks: the pairs to do, grouped by utterance (each input is read once).
        metrics: metric names.
        metric_columns: their columns, in order.
        run_seed: the run seed (`pipeline.utterance_seed`).
        max_delay_s: the alignment's search range.
    """

    tasks: tuple[Task, ...]
    metrics: tuple[str, ...]
    metric_columns: tuple[str, ...]
    run_seed: int
    max_delay_s: float


@dataclass(frozen=True)
class CodecInfo:
    """A loaded codec as the run records it.

    Args:
        name: the codec's registry name.
        target_kbps: its declared operating point (NaN where it has none).
        description: class, rates, delays and provenance (`run.json` `codecs`).
    """

    name: str
    target_kbps: float
    description: dict[str, Any]

    @classmethod
    def of(cls, codec: Codec) -> "CodecInfo":
        return cls(codec.name, codec.target_kbps, {
            "class": f"{type(codec).__module__}.{type(codec).__qualname__}", "sample_rate": codec.sample_rate,
            "target_kbps": codec.target_kbps, "causal": codec.causal, "algorithmic_delay_ms": codec.algorithmic_delay_ms,
            "known_delay_samples": codec.known_delay_samples, "provenance": codec.provenance()})


def scored_row(task: Task, codec: CodecInfo, audio: LoadedAudio, coded: Coded, scored: Scored,
               metric_columns: tuple[str, ...]) -> Row:
    """The row of a task whose coding and scoring ran (failed metrics are NaN with their reason)."""
    extra: dict[str, float] = dict(coded.columns)
    if scored.n_seeds > 1:
        extra[N_SEEDS] = scored.n_seeds
        extra.update({column + SEED_STD_SUFFIX: value for column, value in scored.seed_std.items()})
    return Row(utterance=task.utterance.id, speaker=task.utterance.speaker, split=task.utterance.split,
               duration_s=audio.duration_s, codec=codec.name, spec=task.spec, target_kbps=codec.target_kbps,
               measured_kbps=coded.measured_kbps, delay_samples=scored.delay_samples, encode_s=coded.encode_s,
               decode_s=coded.decode_s, metrics={c: scored.values.get(c, float("nan")) for c in metric_columns},
               error="; ".join(f"{metric}: {reason}" for metric, reason in scored.errors.items()),
               payload_bytes=coded.payload_bytes, metrics_s=scored.metrics_s, seed=coded.seeds[0],
               conversion="; ".join(audio.conversions), extra=extra)


def failed_row(task: Task, codec: CodecInfo, metric_columns: tuple[str, ...], error: str,
               audio: LoadedAudio | None = None, coded: Coded | None = None) -> Row:
    """The row of a task that could not be read, coded or scored: what is known, NaN elsewhere, the reason."""
    measured: dict[str, Any] = {}
    if audio is not None:
        measured.update(duration_s=audio.duration_s, conversion="; ".join(audio.conversions))
    if coded is not None:
        measured.update(measured_kbps=coded.measured_kbps, encode_s=coded.encode_s, decode_s=coded.decode_s,
                        payload_bytes=coded.payload_bytes, seed=coded.seeds[0], extra=dict(coded.columns))
    return Row(utterance=task.utterance.id, speaker=task.utterance.speaker, split=task.utterance.split,
               codec=codec.name, spec=task.spec, target_kbps=codec.target_kbps, metrics=nan_metrics(metric_columns),
               error=error, **measured)


class Engine(ABC):
    """Schedules a run's work. Subclasses load the codecs where they will run and call `pipeline.code` and
    `pipeline.score` for every task, handing each finished row to `store` (the run folder's journal)."""

    name: ClassVar[str]

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
