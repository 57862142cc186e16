"""What every engine shares: the work of a run, the description of a loaded codec, and how a task's stages
become a `Row`. An engine only decides where and when `pipeline.code` and `pipeline.score` run."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from codecbench import kept_audio, pipeline
from codecbench.alignment import DEFAULT_ALIGN
from codecbench.audio import AudioError, LoadedAudio, load_audio
from codecbench.channel import ChannelCondition, Transmission
from codecbench.channel.inputs import InputCondition, degrade
from codecbench.codecs import Codec, CodecSpec, CodecUnavailable, load_codec
from codecbench.datasets import Utterance
from codecbench.pipeline import Coded, Scored
from codecbench.rows import N_SEEDS, SEED_STD_SUFFIX, Row, nan_metrics

DEFAULT_THREADS = 1
"""torch's intra-op threads for the torch codecs on every engine, unless the run asks for others (`--threads`).

A torch codec's output can change in its last float bits with the thread count (reductions split per thread),
so every engine applies the same count: in this process (local engine), in each Ray actor, whatever this
process or the actor's host would choose by itself. One thread gives the same numbers on every machine and
fits Ray's one CPU per actor; a run's count is in run.json (`invocations[].torch_threads`,
and `environment.torch_threads`)."""


def checked_threads(threads: int) -> int:
    """`threads`, checked.

    Raises:
        ValueError: fewer than one thread.
    """
    if threads < 1:
        raise ValueError(f"--threads must be at least 1, not {threads}")
    return threads


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads set to `threads` within the block (nothing where torch is not installed)."""
    try:
        import torch
    except ImportError:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class Task:
    """One (utterance, codec spec[, channel condition][, input condition]) still to do.

    Args:
        channel: the channel condition's name (None: a run without a `channel` column).
        input: the input condition's name (None: a run without an `input` column).
    """

    utterance: Utterance
    spec: str
    channel: str | None = None
    input: str | None = None

    @property
    def conditions(self) -> dict[str, str]:
        """The row's condition columns."""
        named = {"channel": self.channel, "input": self.input}
        return {column: value for column, value in named.items() if value is not None}


@dataclass(frozen=True)
class Plan:
    """How every task of a run is coded and scored (cheap to send to a worker).

    Args:
        metrics: metric names.
        metric_columns: their columns, in order.
        run_seed: the run seed (`pipeline.utterance_seed`).
        max_delay_s: the alignment's search range.
        align: the delay rule (`alignment.ALIGN_MODES`, `--align`).
        channels: the run's channel conditions (`Task.channel` names one).
        inputs: the run's input conditions (`Task.input` names one).
        talkers: every utterance of the split (babble noise is drawn from other speakers').
        keep_audio: the run folder that keeps every row's decoded audio (`--keep-audio`, `kept_audio.keep`);
            None: none kept.
    """

    metrics: tuple[str, ...]
    metric_columns: tuple[str, ...]
    run_seed: int
    max_delay_s: float
    channels: tuple[ChannelCondition, ...] = ()
    inputs: tuple[InputCondition, ...] = ()
    talkers: tuple[Utterance, ...] = ()
    align: str = DEFAULT_ALIGN
    keep_audio: str | None = None

    def code(self, task: Task, codec: Codec, audio: LoadedAudio) -> Coded:
        """`pipeline.code` of one task: its input condition applied to `audio`, its channel between encoder and
        decoder, its seed (`pipeline.utterance_seed`).

        Raises:
            pipeline.CodingError: a stage failed (the input condition's stage is named `input`).
        """
        seed = pipeline.utterance_seed(self.run_seed, task.utterance.id, task.spec)
        channel = next((c for c in self.channels if c.name == task.channel and not c.is_clean), None)
        transmission = None if channel is None else Transmission(channel, self.run_seed, task.utterance.id)
        condition = next((c for c in self.inputs if c.name == task.input and not c.is_clean), None)
        if condition is None:  # a clean input: in a run with an `input` column, its `_e2e` columns equal the plain ones
            return pipeline.code(codec, audio, seed, transmission, clean=None if task.input is None else audio.samples)
        others = [t for t in self.talkers if t.speaker != task.utterance.speaker]
        degraded, _ = pipeline.timed_stage("input", lambda x: degrade(condition, x, audio.sample_rate, self.run_seed,
                                                                      task.utterance.id, others), audio.samples)
        return pipeline.code(codec, replace(audio, samples=degraded), seed, transmission, clean=audio.samples)


@dataclass(frozen=True)
class Work:
    """What an engine runs.

    Args:
        tasks: the pairs to do, grouped by utterance (each input is read once).
        plan: how each of them is coded and scored.
    """

    tasks: tuple[Task, ...]
    plan: Plan


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
    extra: dict[str, float | str] = dict(coded.columns)
    if scored.n_seeds > 1:
        extra[N_SEEDS] = scored.n_seeds
        extra.update({column + SEED_STD_SUFFIX: value for column, value in scored.seed_std.items()})
    return Row(utterance=task.utterance.id, speaker=task.utterance.speaker, split=task.utterance.split,
               duration_s=audio.duration_s, codec=codec.name, spec=task.spec, target_kbps=codec.target_kbps,
               measured_kbps=coded.measured_kbps, delay_samples=scored.delay_samples, encode_s=coded.encode_s,
               decode_s=coded.decode_s, metrics={c: scored.values.get(c, float("nan")) for c in metric_columns},
               error="; ".join(f"{metric}: {reason}" for metric, reason in scored.errors.items()),
               conditions=task.conditions, payload_bytes=coded.payload_bytes, metrics_s=scored.metrics_s, seed=coded.seeds[0],
               conversion="; ".join(audio.conversions), delay_method=scored.delay.method,
               delay_confidence=scored.delay.confidence, delay_flag=scored.delay.flag, extra=extra)


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
               error=error, conditions=task.conditions, **measured)


def uses_torch(codec: Codec) -> bool:
    """Whether the codec codes with torch modules (a model that may sit on a GPU and loads slowly)."""
    return bool(codec.modules())


def read_task_audio(task: Task, plan: Plan, info: CodecInfo) -> LoadedAudio | Row:
    """The task's input at the working rate, or its failed row (unreadable input)."""
    try:
        return load_audio(task.utterance.path, pipeline.WORKING_RATE)
    except AudioError as exc:
        return failed_row(task, info, plan.metric_columns, str(exc))


def code_task(codec: Codec, info: CodecInfo, task: Task, audio: LoadedAudio, plan: Plan) -> Coded | Row:
    """`Plan.code` of the task (its seed, input condition and channel): the decodes, or the failed row naming the
    stage."""
    try:
        return plan.code(task, codec, audio)
    except pipeline.CodingError as exc:
        return failed_row(task, info, plan.metric_columns, str(exc), audio)


def score_task(task: Task, info: CodecInfo, audio: LoadedAudio, coded: Coded, plan: Plan) -> Row:
    """`pipeline.score` of a coded task as its row (a failure is the row's error)."""
    try:
        scored = pipeline.score(coded, plan.metrics, plan.max_delay_s, task.utterance.transcript, plan.align)
    except Exception as exc:  # noqa: BLE001 - a metric stage that raises is the row's error, the run goes on
        return scoring_failed(task, info, plan, exc, audio, coded)
    return kept_audio.keep(plan.keep_audio, scored_row(task, info, audio, coded, scored, plan.metric_columns), coded)


def scoring_failed(task: Task, info: CodecInfo, plan: Plan, exc: BaseException, audio: LoadedAudio | None = None,
                   coded: Coded | None = None) -> Row:
    """The row of a task whose scoring (or the worker scoring it) failed."""
    return failed_row(task, info, plan.metric_columns, f"scoring failed: {type(exc).__name__}: {exc}", audio, coded)


def task_row(codec: Codec, info: CodecInfo, task: Task, audio: LoadedAudio, plan: Plan) -> Row:
    """One task from its input to its row, coded and scored where this runs."""
    coded = code_task(codec, info, task, audio, plan)
    return coded if isinstance(coded, Row) else score_task(task, info, audio, coded, plan)


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
    """Schedules a run's work. Subclasses load the codecs where they will run and call `pipeline.code` and
    `pipeline.score` for every task, handing each finished row to `store` (the run folder's journal)."""

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
