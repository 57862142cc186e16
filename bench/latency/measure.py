"""`measure_latency`: time codecs per setting and stage on real speech, count their size and arithmetic,
check their delay, and write `latency.csv` + `latency.json`."""

from __future__ import annotations

import json
import math
import shlex
import sys
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from codecbench import pipeline
from codecbench.audio import LoadedAudio, resample
from codecbench.codecs import (Codec, CodecSpec, CodecUnavailable, codec_packages, get_codec_class, load_codec,
                               parse_spec)
from codecbench.codecs.base import FAST_PATH_OPTIONS
from codecbench.latency import resources
from codecbench.latency.clips import DEFAULT_UTTERANCE, Clips, load_clips
from codecbench.latency.clock import Clock
from codecbench.latency.complexity import count_flops, count_parameters
from codecbench.alignment import estimate_envelope_delay
from codecbench.latency.delay import delay_check, output_delay_check, streaming_delay_ms
from codecbench.latency.rows import COLUMNS, NAN, LatencyRow
from codecbench.latency.settings import Timings, batch_interface, stream_frames, time_round_trips, time_stream
from codecbench.latency.stats import summarize_ms
from codecbench.resources import environment, package_versions
from codecbench.pipeline import WORKING_RATE
from codecbench.resources import set_torch_threads
from codecbench.safecsv import write_csv

SETTINGS = ("clip", "stream", "batch")
EAGER = {key: choices[0] for key, choices in FAST_PATH_OPTIONS.items()}  # compile=eager, dtype=fp32
QUALITY_METRIC = "pesq_wb"
PESQ_TOLERANCE = 0.02  # a fast path may lose at most this much PESQ-WB against eager fp32


@dataclass
class LatencyResult:
    """What `measure_latency` wrote: the rows of latency.csv and the specs or settings it skipped."""

    out: Path
    table: pd.DataFrame
    skipped: dict[str, str]

    def summary_text(self) -> str:
        """The end-to-end (`total`) rows as a fixed-width table."""
        totals = self.table[self.table["stage"] == "total"]
        columns = ["spec", "setting", "p50_ms", "p95_ms", "rtf", "clips_per_s", "params", "flops", "peak_rss_mb",
                   "peak_mem_mb", "delay_check", "output_delay_check"]
        return totals[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}")


def expand_specs(specs: list[str | CodecSpec], compile_modes: list[str], dtypes: list[str]) -> list[CodecSpec]:
    """Each spec once per (compile mode, dtype) when its codec has those options and the spec does not set
    them; the eager fp32 default adds no option (so `mel2mel` stays `mel2mel`). Other codecs appear once."""
    expanded: list[CodecSpec] = []
    for spec in (parse_spec(s) if isinstance(s, str) else s for s in specs):
        options = get_codec_class(spec.name).options
        choices = {"compile": compile_modes, "dtype": dtypes}  # keys of FAST_PATH_OPTIONS
        variants = [dict(spec.options)]
        for key, values in choices.items():
            if key in options and key not in spec.options:
                variants = [{**v, **({} if value == EAGER[key] else {key: value})} for v in variants for value in values]
        expanded += [CodecSpec(spec.name, spec.point, v) for v in variants]
    return list(dict.fromkeys(expanded))


def eager_spec(spec: CodecSpec) -> CodecSpec:
    """The spec without its fast-path options: the model whose FLOPs and quality the fast path must keep."""
    return CodecSpec(spec.name, spec.point, {k: v for k, v in spec.options.items() if k not in EAGER})


@dataclass
class _Reference:
    """Per eager spec: size, FLOPs per second of audio, and the quality of the batch-1 clip decode."""

    params: float
    flops: dict[str, float]
    quality: float
    alignment_delay_ms: float
    output_delay_check: str


class _Session:
    """The shared state of one latency run: device, clock, clips, counts and progress."""

    def __init__(self, device: str, runs: int, warmup: int, batch_runs: int, clips: Clips, settings: tuple[str, ...],
                 bar: tqdm) -> None:
        self.device, self.runs, self.warmup, self.batch_runs = device, runs, warmup, batch_runs
        self.clips, self.settings, self.bar = clips, settings, bar
        self.clock = Clock(device)
        self.references: dict[str, _Reference] = {}
        self.skipped: dict[str, str] = {}
        self.rss_reset = True

    def tick(self) -> None:
        self.bar.update(1)

    def measure(self, spec: CodecSpec, codec: Codec) -> list[LatencyRow]:
        """Every setting of one codec spec, with the spec's common columns filled in."""
        fast = eager_spec(spec) != spec
        try:
            reference = self.reference(spec, codec)
            quality, alignment_ms, output_check = (self.quality(codec) if fast else
                                                   (reference.quality, reference.alignment_delay_ms,
                                                    reference.output_delay_check))
        except Exception as exc:  # noqa: BLE001 - one failing codec must not lose the others
            self.skipped[str(spec)] = f"failed: {type(exc).__name__}: {exc}"
            return []
        rows: list[LatencyRow] = []
        streamed_ms = NAN
        for setting in self.settings:
            try:
                if setting == "clip":
                    rows += self.clip_rows(spec, codec, reference)
                elif setting == "stream":
                    stream_rows, streamed_ms = self.stream_rows(spec, codec)
                    rows += stream_rows
                else:
                    rows += self.batch_rows(spec, codec, reference)
            except _Skip as skip:
                self.skipped[f"{spec} {setting}"] = str(skip)
                self.bar.total -= skip.runs
                self.bar.refresh()
            except Exception as exc:  # noqa: BLE001 - one failing codec must not lose the others
                self.skipped[f"{spec} {setting}"] = f"failed: {type(exc).__name__}: {exc}"
        declared = float(codec.algorithmic_delay_ms)
        delta = quality - reference.quality if fast else NAN
        common = {"params": reference.params, "algorithmic_delay_ms": declared, "measured_delay_ms": streamed_ms,
                  "alignment_delay_ms": alignment_ms, "delay_check": delay_check(declared, streamed_ms, alignment_ms),
                  "output_delay_check": output_check,
                  "pesq_wb": quality, "pesq_wb_delta": delta, "quality_check": quality_check(delta),
                  "device": self.device, **_fast_path(spec)}
        return [replace(row, **common) for row in rows]

    def reference(self, spec: CodecSpec, codec: Codec) -> _Reference:
        """Size, FLOPs and quality of the eager fp32 form of `spec` (loaded once when `spec` is a fast path)."""
        key = eager_spec(spec)
        if str(key) not in self.references:
            model = codec if key == spec else load_codec(key).to(self.device)
            model.reseed(0)
            modules = model.modules()
            flops = {"encode": NAN, "decode": NAN}
            if modules:
                signal = self.signal(model)
                encoded, flops["encode"] = count_flops(modules, model.encode, signal)
                _, flops["decode"] = count_flops(modules, model.decode, encoded)
                flops = {k: v / self.clips.seconds for k, v in flops.items()}
            quality, alignment_ms, output_check = self.quality(model)
            self.references[str(key)] = _Reference(count_parameters(modules), flops, quality, alignment_ms,
                                                   output_check)
        return self.references[str(key)]

    def quality(self, codec: Codec) -> tuple[float, float, str]:
        """(PESQ-WB, alignment delay in ms, the output delay check) of the seed-0 round trip of the clip, coded
        and scored by the pipeline; the check compares the declared output delay with the envelope estimate."""
        coded = pipeline.code(codec, LoadedAudio(self.clips.first, WORKING_RATE, WORKING_RATE), seed=0)
        scored = pipeline.score(coded, [QUALITY_METRIC])
        estimate = estimate_envelope_delay(coded.reference, coded.decodes[0], pipeline.max_lag(), WORKING_RATE)
        return (float(scored.values[QUALITY_METRIC]), 1000 * scored.delay_samples / WORKING_RATE,
                output_delay_check(coded.known_delay, estimate, WORKING_RATE, codec.causal))

    def signal(self, codec: Codec) -> np.ndarray:
        return resample(self.clips.first, WORKING_RATE, codec.sample_rate)

    def clip_rows(self, spec: CodecSpec, codec: Codec, reference: _Reference) -> list[LatencyRow]:
        resources.reset_peaks(self.device)
        timings, _ = time_round_trips(self.clock, codec.encode, codec.decode, self.signal(codec), self.runs,
                                      self.warmup, self.tick)
        return self.rows(timings, spec, codec, f"{self.clips.seconds:g}s_batch1", 1, self.clips.seconds,
                         self.runs, reference.flops)

    def stream_rows(self, spec: CodecSpec, codec: Codec) -> tuple[list[LatencyRow], float]:
        count = self.warmup + self.runs
        if not codec.causal:
            raise _Skip("not causal: the codec codes whole utterances", count)
        try:
            stream = codec.open_stream()
        except NotImplementedError as exc:
            raise _Skip(str(exc), count) from None
        signal = self.signal(codec)
        one_pass = len(signal) // stream.frame_samples  # the whole clip streams at least once: the delay needs it
        self.bar.total += max(one_pass - count, 0)
        resources.reset_peaks(self.device)
        frames = stream_frames(signal, stream.frame_samples, max(count, one_pass))
        timings, outputs = time_stream(self.clock, stream, frames, self.warmup, self.tick)
        streamed_ms = streaming_delay_ms(signal, outputs[:one_pass], stream.frame_samples, codec.sample_rate,
                                         stream.output_rate, pipeline.max_lag(codec.sample_rate))
        frame_s = stream.frame_samples / codec.sample_rate
        rows = self.rows(timings, spec, codec, f"stream_{1000 * frame_s:g}ms", 1, frame_s,
                         len(frames) - self.warmup, {"encode": NAN, "decode": NAN})
        return [replace(r, clips_per_s=NAN) for r in rows], streamed_ms

    def batch_rows(self, spec: CodecSpec, codec: Codec, reference: _Reference) -> list[LatencyRow]:
        size = len(self.clips.batch)
        if size < 2:
            raise _Skip("batch size 1 (--batch)", self.warmup + self.batch_runs)
        signals = [resample(c, WORKING_RATE, codec.sample_rate) for c in self.clips.batch]
        resources.reset_peaks(self.device)
        timings, _ = time_round_trips(self.clock, codec.encode_batch, codec.decode_batch, signals, self.batch_runs,
                                      self.warmup, self.tick)
        rows = self.rows(timings, spec, codec, f"{self.clips.seconds:g}s_batch{size}", size, self.clips.seconds,
                         self.batch_runs, reference.flops)
        if not batch_interface(codec):
            rows = [replace(r, note="no batch interface: the batch is coded one signal after another") for r in rows]
        return rows

    def rows(self, timings: Timings, spec: CodecSpec, codec: Codec, setting: str, batch: int, audio_s: float,
             runs: int, flops: dict[str, float]) -> list[LatencyRow]:
        """Statistics rows of one setting, with the setting's peak memory."""
        peak_rss, peak_gpu = resources.peak_rss_mb(), resources.peak_gpu_mb(self.device)
        flops = {**flops, "total": flops["encode"] + flops["decode"]}
        rows = []
        for (within, stage), samples in timings.runs.items():
            stats = summarize_ms(samples)
            whole = within == ""
            stage_flops = flops[stage] if whole else NAN
            rows.append(LatencyRow(
                codec=codec.name, spec=str(spec), setting=setting, stage=stage, within=within,
                calls=timings.calls[(within, stage)], runs=runs, warmup=self.warmup, batch=batch, audio_s=audio_s,
                **stats, rtf=stats["p50_ms"] / 1000 / (batch * audio_s),
                clips_per_s=1000 * batch / stats["p50_ms"] if whole else NAN,
                flops=stage_flops, macs=stage_flops / 2, peak_mem_mb=peak_gpu, peak_rss_mb=peak_rss,
                batched=batch_interface(codec)))
        return rows


class _Skip(Exception):
    """A setting that does not apply to a codec (the reason), and the progress runs it would have taken."""

    def __init__(self, reason: str, runs: int) -> None:
        super().__init__(reason)
        self.runs = runs


def quality_check(delta: float) -> str:
    """Whether a fast path keeps the eager decode's PESQ-WB (the issue's tolerance: 0.02)."""
    if math.isnan(delta):
        return ""
    return f"within {PESQ_TOLERANCE:g}" if delta >= -PESQ_TOLERANCE else f"DROPS by {-delta:.3f}"


def _fast_path(spec: CodecSpec) -> dict[str, str]:
    options = get_codec_class(spec.name).options
    return {key: spec.options.get(key, EAGER[key]) if key in options else "n/a" for key in EAGER}


def _check_device(device: str, compile_modes: list[str]) -> None:
    if device.startswith("cuda"):
        try:
            import torch
        except ImportError:
            raise ValueError("--device cuda needs torch: pip install 'codecbench[neural]'") from None
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available here (torch {torch.__version__})")
    elif device != "cpu":
        raise ValueError(f"--device must be cpu or cuda[:N], not {device!r}")
    elif "graph" in compile_modes:
        raise ValueError("--compile graph captures CUDA graphs and needs --device cuda; on the CPU use compile")


def measure_latency(
    specs: list[str | CodecSpec],
    out: str | Path,
    device: str = "cpu",
    runs: int = 30,
    warmup: int = 5,
    batch: int = 32,
    batch_runs: int | None = None,
    compile_modes: list[str] | None = None,
    dtypes: list[str] | None = None,
    settings: tuple[str, ...] = SETTINGS,
    root: str | Path | None = None,
    split: str = "test-other",
    utterance: str = DEFAULT_UTTERANCE,
    seconds: float = 3.0,
    threads: int | None = None,
    progress: bool = True,
    command: list[str] | None = None,
) -> LatencyResult:
    """Time every codec spec in every setting and write `out/latency.csv` and `out/latency.json`.

    Settings: `clip` (one `seconds` clip at batch 1), `stream` (one frame at a time through the codec's
    `open_stream`, causal codecs only), `batch` (`batch` clips per call: throughput). Each times encode,
    decode and their sum per run, and every stage the codec marks, over `runs` runs after `warmup`
    untimed ones.

    Args:
        specs: codec specs; codecs with `compile`/`dtype` options are expanded over `compile_modes` x `dtypes`.
        out: output directory.
        device: `cpu` or `cuda[:N]`.
        runs: timed runs per setting (the issue's protocol: at least 30).
        warmup: untimed runs before them (compilation and graph capture happen here).
        batch: clips per call in the `batch` setting.
        batch_runs: timed runs in the `batch` setting (default `runs`).
        compile_modes: `eager`, `compile`, `graph` (default eager).
        dtypes: `fp32`, `bf16`, `fp16` (default fp32).
        settings: which of `clip`, `stream`, `batch` to run.
        root, split, utterance: where the LibriSpeech clips come from (`utterance` is the batch-1 clip).
        seconds: clip length.
        threads: torch intra-op threads (default: torch's own choice).
        progress: show a tqdm bar.
        command: the command line recorded in latency.json.

    Raises:
        ValueError: bad arguments, specs or options (before anything is timed).
    """
    compile_modes, dtypes = list(compile_modes or [EAGER["compile"]]), list(dtypes or [EAGER["dtype"]])
    for key, values in (("compile", compile_modes), ("dtype", dtypes)):
        bad = sorted(set(values) - set(FAST_PATH_OPTIONS[key]))
        if bad:
            raise ValueError(f"{key} {bad}: select from {list(FAST_PATH_OPTIONS[key])}")
    if runs < 1 or warmup < 0 or batch < 1 or (batch_runs is not None and batch_runs < 1):
        raise ValueError("runs and batch runs must be at least 1, warmup at least 0, batch at least 1")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; select from {list(SETTINGS)}")
    _check_device(device, compile_modes)
    expanded = expand_specs(specs, compile_modes, dtypes)
    set_torch_threads(threads)
    clips = load_clips(root, split, utterance, seconds, batch if "batch" in settings else 1)
    machine = {**environment(), **resources.device_info(device)}  # load average before the timing
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    batch_runs = batch_runs or runs
    per_spec = sum({"clip": warmup + runs, "stream": warmup + runs, "batch": warmup + batch_runs}[s] for s in settings)
    bar = tqdm(total=per_spec * len(expanded), desc="timing", unit="run", disable=not progress)
    session = _Session(device, runs, warmup, batch_runs, clips, tuple(settings), bar)
    session.rss_reset = resources.reset_peaks(device)
    rows: list[LatencyRow] = []
    provenance: dict[str, Any] = {}
    for spec in expanded:
        bar.set_postfix_str(str(spec))
        try:
            codec = load_codec(spec).to(device)
        except CodecUnavailable as exc:
            session.skipped[str(spec)] = str(exc).split(": ", 1)[-1]
            bar.total -= per_spec
            continue
        provenance[str(spec)] = {"provenance": codec.provenance(), "sample_rate": codec.sample_rate,
                                 "causal": codec.causal}
        rows += session.measure(spec, codec)
        del codec
    bar.close()
    table = pd.DataFrame([asdict(r) for r in rows], columns=COLUMNS)
    write_csv(table, out / "latency.csv")
    info = {
        "command": shlex.join(command if command is not None else sys.argv),
        "finished": datetime.now(timezone.utc).isoformat(),
        "environment": {**machine, "load_average_1m_end": resources.device_info(device)["load_average_1m"]},
        "versions": package_versions(*codec_packages(spec.name for spec in expanded)),
        "protocol": {"runs": runs, "warmup": warmup, "batch": batch, "batch_runs": batch_runs,
                     "settings": list(settings), "compile_modes": compile_modes, "dtypes": dtypes,
                     "clip_seconds": seconds, "split": split, "utterance": utterance,
                     "timer": "CUDA events + synchronize" if device.startswith("cuda") else "time.perf_counter",
                     "peak_rss_scope": "per setting (Linux clear_refs)" if session.rss_reset else "process lifetime"},
        "clips": {"root": str(clips.root), "split": split, "sha256": clips.sources},
        "codecs": provenance,
        "skipped": session.skipped,
    }
    (out / "latency.json").write_text(json.dumps(info, indent=2, default=str))
    for what, reason in session.skipped.items():
        print(f"skipped {what}: {reason}", file=sys.stderr)
    return LatencyResult(out, table, session.skipped)
