"""One row of `latency.csv`: a codec spec x setting x stage."""

from __future__ import annotations

from dataclasses import dataclass, fields

NAN = float("nan")


@dataclass
class LatencyRow:
    """Timing statistics of one stage of one codec spec in one setting.

    Args:
        codec, spec: registry name and the full spec.
        setting: `3s_batch1` (one clip), `stream` (one frame at a time) or `batch<B>` (throughput).
        stage: `total` (encode + decode, per run), `encode`, `decode`, or a stage the codec marks.
        within: for a marked stage, `encode` or `decode`; '' for the three above.
        calls: times the stage ran per run (e.g. one per sampler step).
        runs, warmup: timed runs and the untimed runs before them.
        batch: signals per call; audio_s: seconds of audio per signal (a frame in `stream`).
        p50_ms ... min_ms: statistics over the runs.
        rtf: p50 / (batch x audio_s): processing time per second of audio.
        clips_per_s: batch / p50 (throughput), for whole-call rows.
        params: parameters of the codec's torch modules (NaN: none).
        flops, macs: per second of audio, counted on the eager fp32 model (NaN: not torch, or a stage).
        peak_mem_mb: CUDA peak allocated memory in the setting (NaN on the CPU).
        peak_rss_mb: process peak resident memory in the setting (runtime included).
        algorithmic_delay_ms: declared by the codec (frame + lookahead; NaN for offline codecs).
        measured_delay_ms: streaming delay measured from the stream (NaN without one).
        alignment_delay_ms: the runner's cross-correlation delay of the offline round trip.
        delay_check: declared vs measured (see `delay.delay_check`).
        output_delay_check: the declared output delay vs the phase-blind estimate (`delay.output_delay_check`).
        pesq_wb: of the batch-1 clip decode (seed 0), aligned as the runner does.
        pesq_wb_delta: pesq_wb minus that of the eager fp32 decode of the same spec (fast paths only).
        quality_check: for fast paths, `within 0.02` when pesq_wb_delta >= -0.02, else `DROPS`.
        device, dtype, compile: where and how it ran (`n/a` for codecs without those options).
        batched: the codec codes a batch as one call (else sequentially).
        note: anything a reader must know about the row.
    """

    codec: str
    spec: str
    setting: str
    stage: str
    within: str = ""
    calls: int = 1
    runs: int = 0
    warmup: int = 0
    batch: int = 1
    audio_s: float = NAN
    p50_ms: float = NAN
    p95_ms: float = NAN
    p99_ms: float = NAN
    mean_ms: float = NAN
    std_ms: float = NAN
    min_ms: float = NAN
    rtf: float = NAN
    clips_per_s: float = NAN
    params: float = NAN
    flops: float = NAN
    macs: float = NAN
    peak_mem_mb: float = NAN
    peak_rss_mb: float = NAN
    algorithmic_delay_ms: float = NAN
    measured_delay_ms: float = NAN
    alignment_delay_ms: float = NAN
    delay_check: str = ""
    output_delay_check: str = ""
    pesq_wb: float = NAN
    pesq_wb_delta: float = NAN
    quality_check: str = ""
    device: str = "cpu"
    dtype: str = "n/a"
    compile: str = "n/a"
    batched: bool = False
    note: str = ""


COLUMNS = [f.name for f in fields(LatencyRow)]
