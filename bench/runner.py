"""`run_benchmark`: check the request against the run folder, let an engine code and score what is missing,
then write the tables, the summary and `run.json`.

    dataset -> pipeline.code -> pipeline.score -> Row -> RunDir -> summary / report

Every finished row is journaled at once, so an interrupted run loses at most the rows in flight and
`resume=True` finishes exactly the missing (utterance, spec) pairs.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from codecbench import pipeline
from codecbench.alignment import ALIGN_MODES, DEFAULT_ALIGN
from codecbench.channel import ChannelCondition
from codecbench.channel.inputs import InputCondition
from codecbench.codecs import CodecSpec, codec_packages, parse_spec
from codecbench.datasets import Selection
from codecbench.engines import Engine, LocalEngine, Work
from codecbench.metrics import metric_availability, metric_columns, metric_metadata, metric_packages
from codecbench.provenance import manifest, table_digest
from codecbench.resources import environment, package_versions
from codecbench.rows import E2E_SUFFIX
from codecbench.rundir import RunDir, RunFolderError, RunInfo, check_manifest
from codecbench.stats import DEFAULT
from codecbench.summary import format_summary, summarize
from codecbench.task import Plan, Task, babble_talkers


@dataclass
class RunResult:
    """What `run_benchmark` produced."""

    out: Path
    rows: pd.DataFrame
    summary: pd.DataFrame
    metric_columns: list[str]
    skipped: dict[str, str] = field(default_factory=dict)

    def summary_text(self) -> str:
        return format_summary(self.summary, self.metric_columns)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _request_info(selection: Selection, specs: list[str], metrics: list[str], seed: int, max_delay_s: float,
                  align: str, invocation: dict[str, Any], channels: list[str] | None,
                  inputs: list[str] | None) -> RunInfo:
    """This invocation as a run of its own (codecs are added once the engine loaded them)."""
    return RunInfo(
        command=invocation["command"],
        config={"metrics": metrics, "working_rate": pipeline.WORKING_RATE, "max_delay_s": max_delay_s, "align": align,
                "seed": seed,
                "dataset": selection.dataset, "dataset_root": str(selection.root), "split": selection.split,
                "specs": specs, "channels": channels, "inputs": inputs},
        dataset={}, metrics={name: metric_metadata(name) for name in metrics}, codecs={}, skipped={},
        unavailable_metrics={m: metric_availability(m).reason for m in metrics if not metric_availability(m).available},
        statistics={"ci": DEFAULT.name, "label": DEFAULT.label}, versions=invocation["versions"],
        environment=invocation["environment"], invocations=[invocation])


@dataclass
class _Request:
    """One invocation of `run_benchmark`, checked: what it asks for, and the run folder it writes."""

    selection: Selection
    parsed: list[CodecSpec]
    specs: list[str]
    metrics: list[str]
    columns: list[str]
    channels: list[ChannelCondition] | None
    inputs: list[InputCondition] | None
    seed: int
    max_delay_s: float
    align: str
    rundir: RunDir
    keep_audio: bool = False

    @property
    def channel_names(self) -> list[str] | None:
        return None if self.channels is None else [c.name for c in self.channels]

    @property
    def input_names(self) -> list[str] | None:
        return None if self.inputs is None else [c.name for c in self.inputs]

    @property
    def conditions(self) -> list[str]:
        """The run's condition columns."""
        return [name for name, given in (("channel", self.channels), ("input", self.inputs)) if given is not None]

    def info(self, invocation: dict[str, Any]) -> RunInfo:
        """This invocation as a run of its own (codecs are added once the engine loaded them)."""
        return _request_info(self.selection, self.specs, self.metrics, self.seed, self.max_delay_s, self.align,
                             invocation, self.channel_names, self.input_names)

    def tasks(self, loaded: Iterable[str], done: set[tuple[str, ...]]) -> tuple[Task, ...]:
        """Every (utterance, loaded spec[, channel][, input]) not yet `done`, grouped by utterance."""
        return tuple(Task(u, s, c, i) for u in self.selection.utterances for s in self.specs if s in loaded
                     for c in self.channel_names or [None] for i in self.input_names or [None]
                     if (u.id, s, *(v for v in (c, i) if v is not None)) not in done)

    def work(self, tasks: tuple[Task, ...]) -> Work:
        selection = self.selection
        talkers = babble_talkers(self.inputs or (), selection.dataset, selection.root, selection.split,
                                 selection.split_utterances)
        return Work(tasks, Plan(tuple(self.metrics), tuple(self.columns), self.seed, self.max_delay_s,
                                tuple(self.channels or ()), tuple(self.inputs or ()), talkers, self.align,
                                str(self.rundir.path.resolve()) if self.keep_audio else None))


def _report_stale_audio(out: Path, count: int, what: str) -> None:
    """Say how many stored rows name kept audio whose file is missing or altered (`kept_audio.problem`)."""
    if count:
        print(f"{out}: {count} rows name kept audio ({out / 'audio'}) whose file is missing or altered: {what}",
              file=sys.stderr)


def _invocation(request: _Request, engine: Engine, workers: int, device: str, command: list[str] | None
                ) -> dict[str, Any]:
    """What run.json records of this call."""
    return {"command": shlex.join(command if command is not None else sys.argv), "started": _now(),
            "resumed": False, "engine": engine.name, "workers": workers, "device": device,
            "torch_threads": engine.threads, "specs": request.specs, "keep_audio": request.keep_audio,
            "utterances": len(request.selection.utterances),
            "versions": package_versions(*codec_packages(spec.name for spec in request.parsed),
                                         *metric_packages(request.metrics)),
            "environment": {**environment(), "torch_threads": engine.threads}}  # what torch codecs code with


def _prepare(request: _Request, engine: Engine, invocation: dict[str, Any], resume: bool, overwrite: bool
             ) -> tuple[RunInfo, Work]:
    """Under the run folder's lock: check a resume, load the codecs, find what is left to do and write the
    manifest and run.json before any row.

    Raises:
        RunFolderError: the run folder cannot be resumed as asked (inputs or weights changed).
    """
    rundir, selection = request.rundir, request.selection
    files = manifest(selection)
    new = request.info(invocation)
    previous = rundir.read_info() if resume else None
    if previous is not None:
        files = rundir.resumed_manifest(previous, new, files, check_manifest)
    loaded, skipped = engine.load(request.parsed)
    new.codecs, new.skipped = {s: i.description for s, i in loaded.items()}, skipped
    invocation["codecs"] = {s: i.description["provenance"] for s, i in loaded.items()}
    if overwrite:
        rundir.clear()
    tail = rundir.repair()
    if tail is not None:
        print(f"{rundir.path}: cut a torn journal tail ({tail.describe()}); its row is coded again", file=sys.stderr)
    done = rundir.completed(request.conditions, audio=request.keep_audio)
    _report_stale_audio(rundir.path, len(rundir.completed(request.conditions)) - len(done), "coded again")
    tasks = request.tasks(loaded, done)
    invocation["todo"] = len(tasks)
    info = new
    if previous is not None:
        changed = previous.weights_changes(new, {t.spec for t in tasks})
        if changed:
            raise RunFolderError(f"the weights of {changed} differ from those the run in {rundir.path} used (see "
                                 "run.json codecs ... sha256): use a new --out")
        info = previous.merged(new, {key[1] for key in done})
    info.dataset = {"name": selection.dataset, "root": str(selection.root), "split": selection.split,
                    "utterances": len(files), "manifest_sha256": table_digest(files)}
    rundir.write_manifest(files)
    rundir.write_info(info)
    _announce(skipped, new.unavailable_metrics)
    return info, request.work(tasks)


def _announce(skipped: dict[str, str], unavailable_metrics: dict[str, str]) -> None:
    """What the run leaves out, on stderr."""
    for spec, reason in skipped.items():
        print(f"skipping {spec}: unavailable: {reason}", file=sys.stderr)
    for name, reason in unavailable_metrics.items():
        print(f"metric {name} is unavailable ({reason}): its columns are NaN with the reason in `error`",
              file=sys.stderr)


def _work(request: _Request, engine: Engine, work: Work, progress: bool) -> None:
    """Let the engine do the work, journaling every row; on Ctrl-C write the tables of what is done, then re-raise."""
    rundir = request.rundir
    try:
        engine.run(work, rundir.append, progress)
    except KeyboardInterrupt:
        rundir.write_tables(request.columns, request.conditions)
        print(f"\ninterrupted: {len(rundir.completed(request.conditions))} rows are stored in {rundir.path}; rerun with "
              "--resume to finish the rest", file=sys.stderr)
        raise


def _finish(request: _Request, info: RunInfo) -> RunResult:
    """The tables, the summary and the finished run.json."""
    rundir, conditions = request.rundir, request.conditions
    rows = rundir.write_tables(request.columns, conditions)
    if request.keep_audio:  # a Ray node that wrote into a folder of its own (no shared file system) shows here
        missing = len(rundir.completed(conditions)) - len(rundir.completed(conditions, audio=True))
        _report_stale_audio(rundir.path, missing, "not in the run folder")
    listed = {"channel": request.channel_names, "input": request.input_names}
    summary = summarize(rows, request.columns, info.skipped, order=info.config["specs"],
                        conditions={c: listed[c] for c in conditions})
    rundir.write_summary(summary)
    info.invocations[-1]["finished"] = _now()
    rundir.write_info(info)
    return RunResult(rundir.path, rows, summary, request.columns, info.skipped)


def run_benchmark(
    selection: Selection,
    specs: list[str | CodecSpec],
    metrics: list[str],
    out: str | Path,
    workers: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    seed: int = 0,
    device: str = "cpu",
    max_delay_s: float = pipeline.MAX_DELAY_S,
    progress: bool = True,
    command: list[str] | None = None,
    engine: Engine | None = None,
    channels: list[ChannelCondition] | None = None,
    inputs: list[InputCondition] | None = None,
    align: str = DEFAULT_ALIGN,
    keep_audio: bool = False,
) -> RunResult:
    """Code every utterance with every codec spec, score it and store the rows.

    Args:
        selection: the utterances (see `codecbench.datasets.select`).
        specs: codec specs, e.g. `["opus@6", "codec2@2.4"]`.
        metrics: metric names, e.g. `["pesq_wb", "stoi"]`.
        out: run directory (`utterances.parquet/.csv`, `summary.csv`, `run.json`, `manifest.csv`).
        workers: metric processes of the default local engine (1: inline). They come from a fork server and
            never re-run the caller's script, so it needs no `if __name__ == "__main__":` guard.
        resume: finish or extend a previous run in `out` (same metrics, seed and data; every input unchanged;
            its utterances and specs, or a superset of them).
        overwrite: discard a previous run in `out`.
        seed: run seed; stochastic codecs get a seed derived from it, the utterance id and the spec
            (`seeds.utterance_seed`).
        device: where the local engine runs codecs (`cpu`, `cuda`).
        max_delay_s: the largest codec delay searched by the alignment.
        progress: show a tqdm bar.
        command: the command line recorded in run.json.
        engine: what schedules the work (default: `LocalEngine(workers, device)`).
        channels: channel conditions between encoder and decoder (`codecbench.channel.parse_channels`); every
            (utterance, spec) is coded once per condition and the rows get a `channel` column. None: no column.
        inputs: input conditions (`codecbench.channel.inputs.parse_inputs`): every (utterance, spec[, channel])
            once per condition, an `input` column, and every metric also scored against the clean talker
            (`<metric>_e2e`; the plain columns score against the codec's actual input). None: neither.
        align: the delay rule before intrusive metrics (`alignment.ALIGN_MODES`; see `alignment.delay_rule`).
        keep_audio: keep every row's decoded audio as FLAC in `out/audio/` with its SHA-256 in the row
            (`codecbench.kept_audio`); a resume then codes again the rows whose kept file is missing or altered.

    Raises:
        ValueError: a bad spec, option or metric name, or a run folder that cannot be resumed as asked
            (`RunFolderError`), before anything is written.
        KeyboardInterrupt: after storing every finished row.
    """
    if align not in ALIGN_MODES:
        raise ValueError(f"unknown --align {align!r}; select one of {list(ALIGN_MODES)}")
    parsed = [parse_spec(s) if isinstance(s, str) else s for s in specs]
    columns = metric_columns(metrics)
    if inputs is not None:
        columns += [c + E2E_SUFFIX for c in columns]
    request = _Request(selection, parsed, list(dict.fromkeys(str(s) for s in parsed)), metrics, columns, channels,
                       inputs, seed, max_delay_s, align, RunDir(out), keep_audio)
    engine = engine or LocalEngine(workers, device)
    request.rundir.check_reusable(resume, overwrite)
    engine.start()  # a cluster that cannot be joined fails here, before the run folder exists
    invocation = _invocation(request, engine, workers, device, command)
    with request.rundir.lock():
        info, work = _prepare(request, engine, invocation, resume, overwrite)
        _work(request, engine, work, progress)
        return _finish(request, info)
