"""The benchmark runner: dataset -> codec -> bytes -> decode -> align -> metrics -> rows.

Codecs run in the main process (they may hold a GPU); alignment and metrics run inline (`workers=1`)
or in a process pool. Every finished row is journaled at once, so an interrupted run loses at most the
rows in flight and `resume=True` finishes only the missing (utterance, spec) pairs.
"""

from __future__ import annotations

import json
import multiprocessing
import shlex
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from codecbench.alignment import align, estimate_delay
from codecbench.audio import AudioError, LoadedAudio, load_audio, resample
from codecbench.codecs import Codec, CodecSpec, CodecUnavailable, load_codec, parse_spec
from codecbench.datasets import Selection, Utterance
from codecbench.metrics import evaluate, get_metric_class, metric_availability
from codecbench.provenance import derive_seed, environment, manifest, package_versions, table_digest
from codecbench.store import ResultStore
from codecbench.summary import format_summary, summarize

WORKING_RATE = 16000
MAX_DELAY_S = 0.25


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


def metric_columns_of(metric_names: list[str]) -> list[str]:
    return [c for name in metric_names for c in get_metric_class(name).output_columns()]


@dataclass
class PendingRow:
    """A row whose codec stage is done and whose metrics are being computed."""

    row: dict[str, Any]
    errors: list[str]


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


def score_pair(reference: np.ndarray, degraded: np.ndarray, sample_rate: int, metric_names: list[str],
               max_lag: int, known_delay: int | None = None, transcript: str | None = None) -> dict[str, Any]:
    """Align a decoded signal to its reference and score it (runs in a worker process); non-intrusive
    metrics score the signals as they are. The delay is `known_delay` when the codec declares one, else
    found by cross-correlation within `max_lag`. `transcript` is the utterance's corpus text, if any."""
    start = time.perf_counter()
    delay = estimate_delay(reference, degraded, max_lag) if known_delay is None else known_delay
    ref, deg = align(reference, degraded, delay)
    scores = evaluate(metric_names, ref, deg, sample_rate, unaligned=(reference, degraded), transcript=transcript)
    return {"delay_samples": delay, "values": scores.values, "errors": scores.errors,
            "metrics_s": time.perf_counter() - start}


def score_seeds(reference: np.ndarray, decodes: list[np.ndarray], sample_rate: int, metric_names: list[str],
                max_lag: int, known_delay: int | None = None, transcript: str | None = None) -> dict[str, Any]:
    """Score every decode of a stochastic codec (one per seed). With K > 1 decodes each metric column holds
    the mean over seeds, `<column>_seed_std` the sample standard deviation, and `n_seeds` is K."""
    results = [score_pair(reference, decoded, sample_rate, metric_names, max_lag, known_delay, transcript)
               for decoded in decodes]
    if len(results) == 1:
        return results[0]
    values: dict[str, Any] = {"n_seeds": len(results)}
    for column in results[0]["values"]:
        scores = np.array([r["values"][column] for r in results], dtype=float)
        values[column] = float(scores.mean())
        values[f"{column}_seed_std"] = float(scores.std(ddof=1))
    errors: dict[str, str] = {}
    for k, result in enumerate(results):
        for metric, reason in result["errors"].items():
            errors.setdefault(metric, f"seed {k}: {reason}")
    return {"delay_samples": results[0]["delay_samples"], "values": values, "errors": errors,
            "metrics_s": sum(r["metrics_s"] for r in results)}


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C and stops the pool


def metric_pool(workers: int) -> ProcessPoolExecutor:
    """Metric worker processes started by a fork server, not forked from this process: a child forked
    after torch (a neural codec here, or a metric) ran an OpenMP parallel region hangs in its next one."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                               initializer=_ignore_sigint)


class _InlineExecutor:
    """The executor used with one worker: no process, no pickling."""

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller like a pool would
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        return None


def _load_codecs(specs: list[CodecSpec], device: str) -> tuple[dict[str, Codec], dict[str, str]]:
    codecs, skipped = {}, {}
    for spec in specs:
        try:
            codecs[str(spec)] = load_codec(spec).to(device)
        except CodecUnavailable as exc:
            skipped[str(spec)] = str(exc).removeprefix(f"{spec}: unavailable: ")
    return codecs, skipped


def _base_row(utt: Utterance, spec: str, codec_name: str, target_kbps: float) -> dict[str, Any]:
    return {"utterance": utt.id, "speaker": utt.speaker, "split": utt.split, "duration_s": float("nan"),
            "codec": codec_name, "spec": spec, "target_kbps": target_kbps, "measured_kbps": float("nan"),
            "delay_samples": float("nan"), "encode_s": float("nan"), "decode_s": float("nan"),
            "payload_bytes": float("nan"), "metrics_s": float("nan"), "seed": float("nan"), "conversion": ""}


def _timed(stage_name: str, function: Any, argument: Any) -> tuple[Any, float]:
    """Call `function(argument)`; returns the result and its seconds, or raises RuntimeError naming the stage."""
    start = time.perf_counter()
    try:
        result = function(argument)
    except Exception as exc:
        raise RuntimeError(f"{stage_name} failed: {type(exc).__name__}: {exc}") from exc
    return result, time.perf_counter() - start


def code_utterance(codec: Codec, audio: LoadedAudio, row: dict[str, Any], seeds: list[int]) -> list[np.ndarray]:
    """Encode once and decode once per seed (`codec.reseed` before each decode); fills the codec columns
    of `row` (with the codec's extra `Encoded.columns`, and its `decode_info()` columns as means per
    decode, like decode_s) and returns the decoded signals at the working rate. Raises RuntimeError with
    the stage that failed."""
    encoded, row["encode_s"] = _timed("encode", codec.encode, resample(audio.samples, audio.sample_rate,
                                                                      codec.sample_rate))
    row["payload_bytes"] = encoded.payload_bytes
    row["measured_kbps"] = 8 * encoded.payload_bytes / audio.duration_s / 1000
    clash = sorted(set(encoded.columns) & set(row))
    if clash:
        raise RuntimeError(f"encode failed: the codec's extra columns {clash} clash with the row's columns")
    row.update(encoded.columns)
    outputs, elapsed, info = [], 0.0, {}
    for seed in seeds:
        codec.reseed(seed)
        decoded, seconds = _timed("decode", codec.decode, encoded)
        elapsed += seconds
        for key, value in codec.decode_info().items():
            info[key] = info.get(key, 0.0) + value / len(seeds)
        decoded = np.asarray(decoded, dtype=np.float32).reshape(-1)
        if decoded.size == 0 or not np.all(np.isfinite(decoded)):
            raise RuntimeError("decode failed: empty or non-finite output")
        outputs.append(resample(decoded, codec.sample_rate, audio.sample_rate))
    row["decode_s"] = elapsed / len(seeds)
    clash = sorted(set(info) & set(row))
    if clash:
        raise RuntimeError(f"decode failed: the codec's decode_info columns {clash} clash with the row's columns")
    row.update(info)
    return outputs


def decode_seeds(run_seed: int, utterance: str, spec: str, count: int) -> list[int]:
    """The decoder seeds of one (utterance, spec): the first is `derive_seed(run_seed, utterance, spec)`
    (the only one for deterministic codecs), the k-th adds k to the derivation."""
    return [derive_seed(run_seed, utterance, spec, *([str(k)] if k else [])) for k in range(count)]


def _prepare_out(out: Path, resume: bool, overwrite: bool, config: dict[str, Any]) -> dict[str, Any]:
    """Check the run directory against the request; returns the previous run.json (or {})."""
    store, run_json = ResultStore(out), out / "run.json"
    previous = json.loads(run_json.read_text()) if run_json.exists() else {}
    if store.exists() and not (resume or overwrite):
        raise FileExistsError(f"{out} already holds a run: pass --resume to finish it or --overwrite to redo it")
    if overwrite:
        store.clear()
        return {}
    if resume and previous:
        for key in ("metrics", "working_rate", "dataset_root", "split", "seed"):
            if key in previous["config"] and previous["config"][key] != config[key]:
                raise ValueError(f"--resume with a different {key} ({config[key]!r}) than the run in {out} "
                                 f"({previous['config'][key]!r}): use a new --out")
    return previous


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
    max_delay_s: float = MAX_DELAY_S,
    progress: bool = True,
    command: list[str] | None = None,
) -> RunResult:
    """Code every utterance with every codec spec, score it and store the rows.

    Args:
        selection: the utterances (see `codecbench.datasets.select`).
        specs: codec specs, e.g. `["opus@6", "codec2@2.4"]`.
        metrics: metric names, e.g. `["pesq_wb", "stoi"]`.
        out: run directory (`utterances.parquet/.csv`, `summary.csv`, `run.json`, `manifest.csv`).
        workers: metric processes (1: inline). They come from a fork server, so a script calling this
            with workers > 1 must guard its top level with `if __name__ == "__main__":`.
        resume: finish a previous run in `out`, skipping stored (utterance, spec) pairs.
        overwrite: discard a previous run in `out`.
        seed: run seed; stochastic codecs get a seed derived from it, the utterance id and the spec (and
            the decode number k for a spec with `seeds=K`: see `decode_seeds`).
        device: where codecs run (`cpu`, `cuda`).
        max_delay_s: the largest codec delay searched by the alignment.
        progress: show a tqdm bar.
        command: the command line recorded in run.json.

    Raises:
        ValueError: a bad spec, option or metric name (before any work is done).
        KeyboardInterrupt: after storing every finished row.
    """
    out = Path(out)
    parsed = [parse_spec(s) if isinstance(s, str) else s for s in specs]
    spec_names = list(dict.fromkeys(str(s) for s in parsed))
    metric_columns = metric_columns_of(metrics)
    config = {"metrics": metrics, "working_rate": WORKING_RATE, "dataset_root": str(selection.root),
              "split": selection.split, "seed": seed}
    previous = _prepare_out(out, resume, overwrite, config)
    codecs, skipped = _load_codecs(parsed, device)
    unavailable_metrics = {m: metric_availability(m).reason for m in metrics if not metric_availability(m).available}
    out.mkdir(parents=True, exist_ok=True)

    files = manifest(selection)
    files.to_csv(out / "manifest.csv", index=False)
    store = ResultStore(out)
    done = store.completed()
    todo = [(u, s) for u in selection.utterances for s in codecs if (u.id, s) not in done]
    started = datetime.now(timezone.utc).isoformat()

    run_info = {
        "command": shlex.join(command if command is not None else sys.argv),
        "config": {**config, "specs": spec_names, "workers": workers, "device": device,
                   "max_delay_s": max_delay_s, "dataset": selection.dataset, "limit_utterances": len(selection.utterances)},
        "versions": package_versions(),
        "environment": environment(),
        "dataset": {"name": selection.dataset, "root": str(selection.root), "split": selection.split,
                    "utterances": len(selection.utterances), "manifest_sha256": table_digest(files)},
        "codecs": {s: {"class": f"{type(c).__module__}.{type(c).__qualname__}", "sample_rate": c.sample_rate,
                       "target_kbps": c.target_kbps, "causal": c.causal,
                       "algorithmic_delay_ms": c.algorithmic_delay_ms,
                       "known_delay_samples": c.known_delay_samples, "provenance": c.provenance()}
                   for s, c in codecs.items()},
        "skipped": skipped,
        "unavailable_metrics": unavailable_metrics,
        "invocations": previous.get("invocations", []) + [{"started": started, "resumed": bool(previous),
                                                           "todo": len(todo)}],
    }
    _write_json(out / "run.json", run_info)
    for spec, reason in skipped.items():
        print(f"skipping {spec}: unavailable: {reason}", file=sys.stderr)
    for name, reason in unavailable_metrics.items():
        print(f"metric {name} is unavailable ({reason}): its columns are NaN with the reason in `error`",
              file=sys.stderr)

    executor = _InlineExecutor() if workers <= 1 else metric_pool(workers)
    pending: dict[Future, PendingRow] = {}
    bar = tqdm(total=len(todo), desc="coding + scoring", unit="row", disable=not progress)
    max_lag = int(round(max_delay_s * WORKING_RATE))

    def finish(future: Future) -> None:
        item = pending.pop(future)
        try:
            result = future.result()
            item.row["delay_samples"] = result["delay_samples"]
            item.row["metrics_s"] = result["metrics_s"]
            item.row.update(result["values"])
            item.errors += [f"{m}: {reason}" for m, reason in result["errors"].items()]
        except Exception as exc:
            item.errors.append(f"scoring failed: {type(exc).__name__}: {exc}")
            item.row.update({c: float("nan") for c in metric_columns})
        item.row["error"] = "; ".join(item.errors)
        store.append(item.row)
        bar.update(1)

    def drain(limit: int) -> None:
        while len(pending) > limit:
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in finished:
                finish(future)

    try:
        by_utterance: dict[str, list[str]] = {}
        for utt, spec in todo:
            by_utterance.setdefault(utt.id, []).append(spec)
        for utt in selection.utterances:
            if utt.id not in by_utterance:
                continue
            try:
                audio: LoadedAudio | None = load_audio(utt.path, WORKING_RATE)
                load_error = ""
            except AudioError as exc:
                audio, load_error = None, str(exc)
            for spec in by_utterance[utt.id]:
                codec = codecs[spec]
                row = _base_row(utt, spec, codec.name, codec.target_kbps)
                if audio is None:
                    row.update({c: float("nan") for c in metric_columns}, error=load_error)
                    store.append(row)
                    bar.update(1)
                    continue
                row["duration_s"] = audio.duration_s
                row["conversion"] = "; ".join(audio.conversions)
                seeds = decode_seeds(seed, utt.id, spec, codec.num_seeds if codec.stochastic else 1)
                row["seed"] = seeds[0]
                try:
                    decodes = code_utterance(codec, audio, row, seeds)
                except RuntimeError as exc:
                    row.update({c: float("nan") for c in metric_columns}, error=str(exc))
                    store.append(row)
                    bar.update(1)
                    continue
                future = executor.submit(score_seeds, audio.samples, decodes, WORKING_RATE, metrics, max_lag,
                                         codec.known_delay_at(WORKING_RATE), utt.transcript)
                pending[future] = PendingRow(row, [])
                drain(2 * max(workers, 1))
        drain(0)
    except BaseException as exc:
        executor.shutdown(wait=False, cancel_futures=True)
        bar.close()
        if isinstance(exc, KeyboardInterrupt):
            store.write_tables(metric_columns)
            print(f"\ninterrupted: {len(store.completed())} rows are stored in {out}; rerun with --resume to "
                  "finish the rest", file=sys.stderr)
        raise
    executor.shutdown(wait=True)
    bar.close()

    rows = store.write_tables(metric_columns)
    summary = summarize(rows, metric_columns, skipped, order=spec_names)
    summary.to_csv(out / "summary.csv", index=False)
    run_info["invocations"][-1]["finished"] = datetime.now(timezone.utc).isoformat()
    _write_json(out / "run.json", run_info)
    return RunResult(out, rows, summary, metric_columns, skipped)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)
