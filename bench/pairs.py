"""Score audio decoded elsewhere: (reference, decoded) file pairs into a normal run folder.

    pairs (two folders matched by name, or a CSV list) -> read at the reference's rate -> pipeline.score
    (every metric resampled to the rate its registry entry declares) -> Row -> RunDir -> summary

A pair's row is a run row: `utterance` is the pair's item, `spec` and `codec` its condition. Each pair is
read at its reference's sample rate (the decoded file is resampled to it, recorded in `conversion`), so a
fullband metric (ViSQOL audio mode, 48 kHz) sees the fullband signal and a wideband one (PESQ-WB) a 16 kHz
resampling of it; `sample_rate` and `metric_rates` record what each metric saw. `manifest.csv` holds every
file with its SHA-256: `utterance` is the item, `split` the file's role (`reference` or the condition).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import soundfile as sf
from tqdm import tqdm

from codecbench import kept_audio, pipeline
from codecbench.alignment import DEFAULT_ALIGN
from codecbench.audio import AudioError, load_audio
from codecbench.metrics import get_metric_class, metric_availability, metric_columns, metric_metadata
from codecbench.provenance import MANIFEST_COLUMNS, table_digest
from codecbench.resources import environment, file_digest, package_versions
from codecbench.rows import Row, nan_metrics
from codecbench.rundir import RunDir, RunFolderError, RunInfo
from codecbench.stats import DEFAULT
from codecbench.summary import summarize

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
PAIRS_DATASET = "pairs"
REFERENCE_ROLE = "reference"
DEFAULT_CONDITION = "decoded"
NATIVE_RATE = "reference"  # run.json `working_rate` of a pairs run: each pair at its reference's rate


@dataclass(frozen=True)
class Pair:
    """One decoded file and its reference.

    Args:
        item: what was coded (the row's `utterance`).
        condition: the system that decoded it (the row's `spec` and `codec`).
        reference: the reference file.
        degraded: the decoded file.
    """

    item: str
    condition: str
    reference: Path
    degraded: Path


def _audio_files(folder: Path) -> dict[str, Path]:
    """Audio files under `folder` by their relative path without suffix (`spk1/utt2`)."""
    return {p.relative_to(folder).with_suffix("").as_posix(): p for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES}


def pairs_from_folders(reference_dir: str | Path, decoded_dir: str | Path,
                       condition: str | None = None) -> list[Pair]:
    """Pairs of files with the same relative path (suffix aside) under both folders.

    Args:
        condition: the decoded files' condition (default: the decoded folder's name).

    Raises:
        ValueError: a folder is missing or no file name matches (decoded files without a reference are
            named on stderr and left out).
    """
    reference_dir, decoded_dir = Path(reference_dir), Path(decoded_dir)
    for folder in (reference_dir, decoded_dir):
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder")
    references, decoded = _audio_files(reference_dir), _audio_files(decoded_dir)
    unmatched = sorted(set(decoded) - set(references))
    if unmatched:
        print(f"{len(unmatched)} decoded files have no reference of the same name in {reference_dir} and are left "
              f"out: {', '.join(unmatched[:3])}{' ...' if len(unmatched) > 3 else ''}", file=sys.stderr)
    name = condition or decoded_dir.resolve().name
    pairs = [Pair(key, name, references[key], path) for key, path in decoded.items() if key in references]
    if not pairs:
        raise ValueError(f"no file of {decoded_dir} has a reference of the same name in {reference_dir}")
    return pairs


def pairs_from_csv(path: str | Path) -> list[Pair]:
    """Pairs listed in a CSV with columns `reference`, `degraded` and optional `item` and `condition`.

    Relative paths are relative to the CSV's folder. Without `item`, a pair's item is its reference's file
    stem; without `condition`, every pair's condition is `decoded`.

    Raises:
        ValueError: a missing column, an empty path, or an (item, condition) listed twice.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} not found")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("reference", "degraded") if c not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}; expected reference,degraded[,item][,condition]")
    pairs = []
    for number, record in enumerate(table.to_dict("records"), start=2):
        if not record["reference"].strip() or not record["degraded"].strip():
            raise ValueError(f"{path} line {number}: an empty reference or degraded path")
        reference, degraded = (path.parent / record[c].strip() for c in ("reference", "degraded"))
        pairs.append(Pair(record.get("item", "").strip() or reference.stem,
                          record.get("condition", "").strip() or DEFAULT_CONDITION, reference, degraded))
    check_unique(pairs)
    return pairs


def check_unique(pairs: Iterable[Pair]) -> None:
    """Raise ValueError if two pairs have the same (item, condition): they would be one row."""
    seen: set[tuple[str, str]] = set()
    for pair in pairs:
        key = (pair.item, pair.condition)
        if key in seen:
            raise ValueError(f"item {pair.item!r} / condition {pair.condition!r} is listed twice")
        seen.add(key)


def metric_rates(metrics: Iterable[str], rate: int) -> str:
    """What each metric saw of a pair read at `rate` (`pesq_wb 16000 Hz (from 24000)`, `visqol 48000 Hz
    (upsampled from 24000: no content above 12000 Hz)`)."""
    seen = []
    for name in metrics:
        wanted = get_metric_class(name).sample_rate
        if wanted == rate:
            seen.append(f"{name} {rate} Hz")
        elif wanted < rate:
            seen.append(f"{name} {wanted} Hz (from {rate})")
        else:
            seen.append(f"{name} {wanted} Hz (upsampled from {rate}: no content above {rate // 2} Hz)")
    return "; ".join(seen)


@dataclass(frozen=True)
class PairPlan:
    """How every pair is scored (sent to workers).

    Args:
        metrics: metric names.
        metric_columns: their columns in order.
        max_delay_s: the alignment's search range.
        align_mode: the delay rule (`alignment.ALIGN_MODES`, `--align`).
        keep_audio: the run folder that keeps each decoded file as scored (`--keep-audio`); None: none kept.
    """

    metrics: tuple[str, ...]
    metric_columns: tuple[str, ...]
    max_delay_s: float
    align_mode: str = DEFAULT_ALIGN
    keep_audio: str | None = None


def score_pair(pair: Pair, plan: PairPlan) -> Row:
    """One pair read at its reference's rate, scored by `pipeline.score`, as its row (a failure is the row's
    error, never a crash)."""
    try:
        rate = sf.info(str(pair.reference)).samplerate
        reference = load_audio(pair.reference, rate, check=False)
        degraded = load_audio(pair.degraded, rate, check=False)
    except (AudioError, RuntimeError, OSError) as exc:
        return _failed(pair, plan, f"cannot read the pair: {exc}")
    conversions = [f"reference: {c}" for c in reference.conversions] + [f"degraded: {c}" for c in degraded.conversions]
    coded = pipeline.Coded.external(reference.samples, degraded.samples, rate)
    try:
        scored = pipeline.score(coded, plan.metrics, plan.max_delay_s, align_mode=plan.align_mode)
    except Exception as exc:  # noqa: BLE001 - a scoring stage that raises is the row's error, the run goes on
        return _failed(pair, plan, f"scoring failed: {type(exc).__name__}: {exc}")
    row = Row(utterance=pair.item, speaker="", split=PAIRS_DATASET, duration_s=len(reference.samples) / rate,
               codec=pair.condition, spec=pair.condition, delay_samples=scored.delay_samples,
               metrics={c: scored.values.get(c, float("nan")) for c in plan.metric_columns},
               error="; ".join(f"{m}: {r}" for m, r in scored.errors.items()), metrics_s=scored.metrics_s,
               conversion="; ".join(conversions), delay_method=scored.delay.method,
               delay_confidence=scored.delay.confidence, delay_flag=scored.delay.flag,
               extra={"sample_rate": rate, "metric_rates": metric_rates(plan.metrics, rate),
                      "reference_file": str(pair.reference), "degraded_file": str(pair.degraded)})
    return kept_audio.keep(plan.keep_audio, row, coded)


def _failed(pair: Pair, plan: PairPlan, error: str) -> Row:
    return Row(utterance=pair.item, speaker="", split=PAIRS_DATASET, codec=pair.condition, spec=pair.condition,
               metrics=nan_metrics(plan.metric_columns), error=error,
               extra={"reference_file": str(pair.reference), "degraded_file": str(pair.degraded)})


def pairs_manifest(pairs: Iterable[Pair]) -> pd.DataFrame:
    """Every file of the pairs once, with its SHA-256: utterance = item, split = role (`reference` or the
    condition). A file that cannot be read gets an empty digest (its row says why)."""
    records, seen = [], set()
    for pair in pairs:
        for role, path in ((REFERENCE_ROLE, pair.reference), (pair.condition, pair.degraded)):
            if (pair.item, role) in seen:
                continue
            seen.add((pair.item, role))
            try:
                digest = file_digest(path)
            except OSError:
                digest = ""
            records.append((pair.item, "", role, str(path), digest))
    return pd.DataFrame(records, columns=MANIFEST_COLUMNS)


def check_pairs_manifest(previous: pd.DataFrame, current: pd.DataFrame, out: Path) -> pd.DataFrame:
    """The manifest of a resumed pairs run: `previous` extended by new files.

    Raises:
        RunFolderError: a file of the run changed (another SHA-256) or is no longer listed.
    """
    key = ["utterance", "split"]
    old, new = previous.set_index(key), current.set_index(key)
    missing = old.index.difference(new.index)
    if len(missing):
        item, role = missing[0]
        raise RunFolderError(f"--resume leaves out {len(missing)} files of the run in {out}, e.g. item {item} "
                             f"({role}); resume with the run's pairs (or more to extend it)")
    both = old.index.intersection(new.index)
    changed = [k for k in both if old.loc[k, "sha256"] != new.loc[k, "sha256"]]
    if changed:
        item, role = changed[0]
        raise RunFolderError(f"{new.loc[changed[0], 'path']} (item {item}, {role}) changed since the run in {out} "
                             f"({len(changed)} changed files): use a new --out")
    return pd.concat([previous, current[~current.set_index(key).index.isin(old.index)]],
                     ignore_index=True)[MANIFEST_COLUMNS]


def _info(pairs: list[Pair], metrics: list[str], max_delay_s: float, align_mode: str, source: str, command: str,
          workers: int, todo: int) -> RunInfo:
    invocation = {"command": command, "started": pd.Timestamp.now("UTC").isoformat(), "resumed": False,
                  "engine": "local", "workers": workers, "device": "cpu", "todo": todo,
                  "specs": list(dict.fromkeys(p.condition for p in pairs)), "utterances": len(pairs),
                  "versions": package_versions(), "environment": environment()}
    return RunInfo(
        command=command,
        config={"metrics": metrics, "working_rate": NATIVE_RATE, "max_delay_s": max_delay_s, "align": align_mode,
                "seed": 0,
                "dataset": PAIRS_DATASET, "dataset_root": source, "split": None, "channels": None, "inputs": None,
                "specs": invocation["specs"]},
        dataset={}, metrics={name: metric_metadata(name) for name in metrics}, codecs={}, skipped={},
        unavailable_metrics={m: metric_availability(m).reason for m in metrics if not metric_availability(m).available},
        statistics={"ci": DEFAULT.name, "label": DEFAULT.label}, versions=invocation["versions"],
        environment=invocation["environment"], invocations=[invocation])


@dataclass
class PairsResult:
    """What `score_pairs` wrote."""

    out: Path
    rows: pd.DataFrame
    summary: pd.DataFrame
    metric_columns: list[str]


def score_pairs(pairs: list[Pair], metrics: list[str], out: str | Path, source: str, workers: int = 1,
                resume: bool = False, overwrite: bool = False, max_delay_s: float = pipeline.MAX_DELAY_S,
                align_mode: str = DEFAULT_ALIGN, progress: bool = True, command: list[str] | None = None,
                keep_audio: bool = False) -> PairsResult:
    """Score every pair into the run folder `out` (rows, tables, summary, manifest, run.json), skipping the
    pairs a resumed run already holds.

    Args:
        pairs: the pairs (`pairs_from_folders`, `pairs_from_csv`).
        metrics: metric names.
        out: the run folder.
        source: where the pairs came from (run.json `dataset_root`; a resume must name the same).
        workers: metric worker processes (the local engine's pool; 1: this process). A script calling this
            with workers > 1 must guard its top level with `if __name__ == "__main__":`.
        resume: add the missing pairs to a previous run in `out` (same metrics, source, unchanged files).
        overwrite: discard a previous run in `out`.
        max_delay_s: the alignment's search range.
        align_mode: the delay rule (`--align`; a file pair declares no delay, so `auto` is the envelope estimate).
        progress: show a tqdm bar.
        command: the command line recorded in run.json.
        keep_audio: keep each decoded file as scored (FLAC, `codecbench.kept_audio`); a resume scores again the
            pairs whose kept file is missing or altered.

    Raises:
        ValueError: no pairs, a pair listed twice, or a run folder that cannot be resumed as asked.
    """
    if not pairs:
        raise ValueError("no pairs to score")
    check_unique(pairs)
    out = Path(out)
    columns = metric_columns(metrics)
    rundir = RunDir(out)
    rundir.check_reusable(resume, overwrite)
    text = shlex.join(command if command is not None else sys.argv)
    with rundir.lock():
        files = pairs_manifest(pairs)
        previous = rundir.read_info() if resume else None
        request = _info(pairs, metrics, max_delay_s, align_mode, source, text, workers, 0)
        if previous is not None:
            files = rundir.resumed_manifest(previous, request, files, check_pairs_manifest)
        if overwrite:
            rundir.clear()
        rundir.repair()
        done = rundir.completed(audio=keep_audio)
        todo = [p for p in pairs if (p.item, p.condition) not in done]
        request.invocations[-1]["todo"] = len(todo)
        info = previous.merged(request, {key[1] for key in done}) if previous is not None else request
        info.dataset = {"name": PAIRS_DATASET, "root": source, "split": None, "utterances": len(files),
                        "manifest_sha256": table_digest(files)}
        rundir.write_manifest(files)
        rundir.write_info(info)
        for name, reason in request.unavailable_metrics.items():
            print(f"metric {name} is unavailable ({reason}): its columns are NaN with the reason in `error`",
                  file=sys.stderr)
        plan = PairPlan(tuple(metrics), tuple(columns), max_delay_s, align_mode,
                        str(out.resolve()) if keep_audio else None)
        try:
            _run(todo, plan, workers, rundir.append, progress)
        except KeyboardInterrupt:
            rundir.write_tables(columns)
            print(f"\ninterrupted: {len(rundir.completed())} rows are stored in {out}; rerun with --resume to "
                  "finish the rest", file=sys.stderr)
            raise
        rows = rundir.write_tables(columns)
        summary = summarize(rows, columns, {}, order=info.config["specs"])
        rundir.write_summary(summary)
        info.invocations[-1]["finished"] = pd.Timestamp.now("UTC").isoformat()
        rundir.write_info(info)
    return PairsResult(out, rows, summary, columns)


def _run(pairs: list[Pair], plan: PairPlan, workers: int, store: Callable[[Row], None], progress: bool) -> None:
    """Score `pairs` here (one worker) or in the local engine's metric worker pool, storing rows as they end."""
    from codecbench.engines.local import InlineExecutor, drain_until, metric_pool

    executor = InlineExecutor() if workers <= 1 else metric_pool(workers)
    pending: dict[Future, Pair] = {}
    bar = tqdm(total=len(pairs), desc="scoring pairs", unit="pair", disable=not progress)

    def finish(future: Future) -> None:
        pair = pending.pop(future)
        try:
            row = future.result()
        except Exception as exc:  # a worker that died: the row says so, the run goes on
            row = _failed(pair, plan, f"scoring failed: {type(exc).__name__}: {exc}")
        store(row)
        bar.update(1)

    completed = False
    try:
        for pair in pairs:
            pending[executor.submit(score_pair, pair, plan)] = pair
            drain_until(pending, 2 * workers, finish)
        drain_until(pending, 0, finish)
        completed = True
    finally:
        executor.shutdown(wait=completed, cancel_futures=not completed)
        bar.close()
