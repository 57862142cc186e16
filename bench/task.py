"""The work of one task, the one function engines call: a `Task` (utterance, codec spec, conditions) read,
coded (`Plan.code`: its seed, input condition and channel through `pipeline.code`), scored (`pipeline.score`)
and turned into its `Row`. Engines only decide where and when `code_task` and `score_task` (or `task_row`,
both in one place) run; `scored_row` is the one place a row is built from decoded signals, `failed_row` the
one place a row says why it has none.

    Task --read_task_audio--> LoadedAudio --code_task--> Coded --score_task--> Scored --scored_row--> Row
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codecbench import kept_audio, pipeline
from codecbench.alignment import DEFAULT_ALIGN
from codecbench.audio import AudioError, LoadedAudio, load_audio
from codecbench.channel import ChannelCondition, Transmission
from codecbench.channel.inputs import Degradation, InputCondition
from codecbench.codecs import Codec
from codecbench.datasets import Utterance, select
from codecbench.pipeline import Coded, Scored
from codecbench.rows import N_SEEDS, SEED_STD_SUFFIX, Row, nan_metrics
from codecbench.seeds import utterance_seed


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
        run_seed: the run seed (`seeds.utterance_seed`).
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
        """`pipeline.code` of one task: its seed (`seeds.utterance_seed`), its input condition before the encoder,
        its channel between encoder and decoder.

        Raises:
            pipeline.CodingError: a stage failed (the input condition's stage is named `input`).
        """
        seed = utterance_seed(self.run_seed, task.utterance.id, task.spec)
        channel = next((c for c in self.channels if c.name == task.channel and not c.is_clean), None)
        transmission = None if channel is None else Transmission(channel, self.run_seed, task.utterance.id)
        source = None
        if task.input is not None:  # a clean one too: in a run with an `input` column its `_e2e` columns are the plain ones
            condition = next(c for c in self.inputs if c.name == task.input)
            others = tuple(t for t in self.talkers if t.speaker != task.utterance.speaker)
            source = Degradation(condition, self.run_seed, task.utterance.id, others)
        return pipeline.code(codec, audio, seed, transmission, source)


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


def read_input(utterance: Utterance) -> LoadedAudio | str:
    """The utterance at the working rate, or why it cannot be read (read once for all its tasks)."""
    try:
        return load_audio(utterance.path, pipeline.WORKING_RATE)
    except AudioError as exc:
        return str(exc)


def read_task_audio(task: Task, plan: Plan, info: CodecInfo) -> LoadedAudio | Row:
    """The task's input at the working rate, or its failed row (unreadable input)."""
    audio = read_input(task.utterance)
    return failed_row(task, info, plan.metric_columns, audio) if isinstance(audio, str) else audio


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


def babble_talkers(conditions: Sequence[InputCondition], dataset: str, root: str | os.PathLike, split: str,
                   listed: Sequence[Utterance] | None = None) -> tuple[Utterance, ...]:
    """The whole split's utterances, which babble is mixed from, where a condition is babble; else none.

    Args:
        listed: the split as the run's selection already listed it (`Selection.split_utterances`); None: list
            it here (`mushra build`, a hand-made selection).
    """
    if not any(c.kind == "babble" for c in conditions):
        return ()
    return tuple(listed if listed is not None else select(dataset, root, split).utterances)
