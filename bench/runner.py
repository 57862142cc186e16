"""`run_benchmark`: check the request against the run folder, let an engine code and score what is missing,
then write the tables, the summary and `run.json`.

    dataset -> pipeline.code -> pipeline.score -> Row -> RunDir -> summary / report

Every finished row is journaled at once, so an interrupted run loses at most the rows in flight and
`resume=True` finishes exactly the missing (utterance, spec) pairs.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from codecbench import pipeline
from codecbench.alignment import ALIGN_MODES, DEFAULT_ALIGN
from codecbench.channel import ChannelCondition
from codecbench.channel.inputs import InputCondition, babble_talkers
from codecbench.codecs import CodecSpec, parse_spec
from codecbench.datasets import Selection
from codecbench.engines import Engine, LocalEngine, Plan, Task, Work
from codecbench.metrics import metric_availability, metric_columns, metric_metadata
from codecbench.provenance import manifest, table_digest
from codecbench.resources import environment, package_versions
from codecbench.rundir import RunDir, RunFolderError, RunInfo, check_manifest
from codecbench.stats import DEFAULT
from codecbench.summary import format_summary, summarize


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


def set_torch_threads(threads: int | None) -> None:
    """Set torch's intra-op threads for the neural codecs (None: torch's choice; without torch: nothing to set).

    Raises:
        ValueError: fewer than one thread.
    """
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"--threads must be at least 1, not {threads}")
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


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


def _report_stale_audio(out: Path, count: int, what: str) -> None:
    """Say how many stored rows name kept audio whose file is missing or altered (`kept_audio.problem`)."""
    if count:
        print(f"{out}: {count} rows name kept audio ({out / 'audio'}) whose file is missing or altered: {what}",
              file=sys.stderr)


def _tasks(utterance: Any, spec: str, channels: list[str] | None, inputs: list[str] | None) -> list[Task]:
    """The tasks of one (utterance, spec): one per channel condition x input condition (a None list: no such
    column)."""
    return [Task(utterance, spec, c, i) for c in channels or [None] for i in inputs or [None]]


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
            (`pipeline.utterance_seed`).
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
    out = Path(out)
    parsed = [parse_spec(s) if isinstance(s, str) else s for s in specs]
    spec_names = list(dict.fromkeys(str(s) for s in parsed))
    columns = metric_columns(metrics)
    if inputs is not None:
        columns += [c + pipeline.E2E_SUFFIX for c in columns]
    engine = engine or LocalEngine(workers, device)
    rundir = RunDir(out)
    rundir.check_reusable(resume, overwrite)
    engine.start()  # a cluster that cannot be joined fails here, before the run folder exists
    invocation = {"command": shlex.join(command if command is not None else sys.argv), "started": _now(),
                  "resumed": False, "engine": engine.name, "workers": workers, "device": device,
                  "torch_threads": engine.threads, "specs": spec_names, "keep_audio": keep_audio,
                  "utterances": len(selection.utterances), "versions": package_versions(),
                  "environment": {**environment(), "torch_threads": engine.threads}}  # what torch codecs code with
    channel_names = None if channels is None else [c.name for c in channels]
    input_names = None if inputs is None else [c.name for c in inputs]
    conditions = [name for name, given in (("channel", channels), ("input", inputs)) if given is not None]
    request = _request_info(selection, spec_names, metrics, seed, max_delay_s, align, invocation, channel_names,
                            input_names)
    with rundir.lock():
        files = manifest(selection)
        previous = rundir.read_info() if resume else None
        if previous is not None:
            files = rundir.resumed_manifest(previous, request, files, check_manifest)
        loaded, skipped = engine.load(parsed)
        request.codecs, request.skipped = {s: i.description for s, i in loaded.items()}, skipped
        request.invocations[-1]["codecs"] = {s: i.description["provenance"] for s, i in loaded.items()}
        if overwrite:
            rundir.clear()
        tail = rundir.repair()
        if tail is not None:
            print(f"{out}: cut a torn journal tail ({tail.describe()}); its row is coded again", file=sys.stderr)
        done = rundir.completed(conditions, audio=keep_audio)
        _report_stale_audio(out, len(rundir.completed(conditions)) - len(done), "coded again")
        tasks = tuple(task for u in selection.utterances for s in spec_names if s in loaded
                      for task in _tasks(u, s, channel_names, input_names) if (u.id, s, *task.conditions.values()) not in done)
        request.invocations[-1]["todo"] = len(tasks)
        info = request
        if previous is not None:
            changed = previous.weights_changes(request, {t.spec for t in tasks})
            if changed:
                raise RunFolderError(f"the weights of {changed} differ from those the run in {out} used (see run.json "
                                     "codecs ... sha256): use a new --out")
            info = previous.merged(request, {key[1] for key in done})
        info.dataset = {"name": selection.dataset, "root": str(selection.root), "split": selection.split,
                        "utterances": len(files), "manifest_sha256": table_digest(files)}
        rundir.write_manifest(files)
        rundir.write_info(info)
        for spec, reason in skipped.items():
            print(f"skipping {spec}: unavailable: {reason}", file=sys.stderr)
        for name, reason in request.unavailable_metrics.items():
            print(f"metric {name} is unavailable ({reason}): its columns are NaN with the reason in `error`",
                  file=sys.stderr)

        talkers = babble_talkers(inputs or (), selection.dataset, selection.root, selection.split)
        work = Work(tasks, Plan(tuple(metrics), tuple(columns), seed, max_delay_s, tuple(channels or ()),
                                tuple(inputs or ()), talkers, align, str(out.resolve()) if keep_audio else None))
        try:
            engine.run(work, rundir.append, progress)
        except KeyboardInterrupt:
            rundir.write_tables(columns, conditions)
            print(f"\ninterrupted: {len(rundir.completed(conditions))} rows are stored in {out}; rerun with --resume to "
                  "finish the rest", file=sys.stderr)
            raise
        rows = rundir.write_tables(columns, conditions)
        if keep_audio:  # a Ray node that wrote into a folder of its own (no shared file system) shows here
            _report_stale_audio(out, len(rundir.completed(conditions)) - len(rundir.completed(conditions, audio=True)),
                                "not in the run folder")
        listed = {"channel": channel_names, "input": input_names}
        summary = summarize(rows, columns, info.skipped, order=info.config["specs"],
                            conditions={c: listed[c] for c in conditions})
        rundir.write_summary(summary)
        info.invocations[-1]["finished"] = _now()
        rundir.write_info(info)
    return RunResult(out, rows, summary, columns, info.skipped)
