"""The two stages every command goes through: `code` (a signal through a codec and back) and `score` (the
delay rule, alignment and metrics). `run`, `score`, `sweep`, `latency`'s quality check and `mushra build`
all call these two functions, so a number means the same thing wherever it is printed.

    audio --resample--> codec.encode --bytes--> [channel] --> codec.decode (per seed) --resample--> Coded
    Coded --delay rule (--align)--> align --> metrics (mean and spread over seeds) --> Scored
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from codecbench.alignment import DEFAULT_ALIGN, Delay, align, delay_rule
from codecbench.audio import LoadedAudio, resample
from codecbench.codecs import Codec, Encoded
from codecbench.metrics import evaluate
from codecbench.rows import CLEAN, E2E_SUFFIX, reserved_columns
from codecbench.seeds import decode_seeds

WORKING_RATE = 16000  # every input is read, and every decode scored, at this rate
MAX_DELAY_S = 0.25  # the largest codec delay the delay estimators search


class CodingError(RuntimeError):
    """A codec stage failed; the message starts with the stage (`encode failed: ...`)."""


class Channel(Protocol):
    """What lies between encoder and decoder (packet loss, bit errors): `codecbench.channel.Transmission`.

    `code` passes the encoder's packets through `transmit` once per utterance and decodes what it
    returns; the measured bitrate counts the packets the encoder sent.

    Attributes:
        name: the row's `channel` column, e.g. `loss@5%`.
    """

    name: str

    def transmit(self, codec: Codec, encoded: Encoded) -> tuple[Encoded, dict[str, float | str]]:
        """The packets as received (lost, concealed or bit-flipped) and the row's channel columns."""


class Source(Protocol):
    """What the talker becomes before the encoder (noise, reverberation): `codecbench.channel.inputs.Degradation`.

    Attributes:
        name: the row's `input` column, e.g. `babble@0dB`.
    """

    name: str

    def degrade(self, clean: np.ndarray, sample_rate: int) -> np.ndarray:
        """The codec's input (the same length; `clean` itself for a clean condition)."""


@dataclass(frozen=True)
class Coded:
    """One input through one codec: the reference and every decode, at `sample_rate`.

    Args:
        reference: [T] the input.
        decodes: one [T'] signal per decoder seed.
        seeds: the decoder seeds, `seeds[0]` being the utterance's seed.
        known_delay: the codec's declared output delay at `sample_rate` (None: it declares none; see `delay_of`).
        payload_bytes: bytes the encoder sent (NaN for a signal decoded elsewhere).
        measured_kbps: 8 x payload bytes / input duration.
        encode_s, decode_s: wall seconds of the encode and of one decode (mean over seeds).
        columns: what the codec measured itself (`Encoded.columns`), the channel's columns (packets lost,
            bits flipped, concealment), then `decode_info()` means over seeds.
        channel: the transmission's name (`clean` without a channel).
        sample_rate: of every signal here.
        output: the first decode as the codec returned it, at `output_rate` (what `--keep-audio` keeps; None for a
            signal decoded elsewhere: `decodes[0]` is then all there is).
        output_rate: the codec's output rate (0 where `output` is None).
        clean: the clean talker when the run has input conditions (`reference` itself for a clean input, else
            `reference` is a degraded version of it); `score` then also scores every decode against it
            (`<metric>_e2e` columns). None: a run without input conditions.
    """

    reference: np.ndarray
    decodes: tuple[np.ndarray, ...]
    seeds: tuple[int, ...]
    known_delay: int | None
    payload_bytes: float
    measured_kbps: float
    encode_s: float
    decode_s: float
    columns: Mapping[str, float | str] = field(default_factory=dict)
    channel: str = CLEAN
    sample_rate: int = WORKING_RATE
    clean: np.ndarray | None = None
    output: np.ndarray | None = None
    output_rate: int = 0

    @property
    def duration_s(self) -> float:
        return len(self.reference) / self.sample_rate

    @classmethod
    def external(cls, reference: np.ndarray, degraded: np.ndarray, sample_rate: int = WORKING_RATE) -> "Coded":
        """A signal decoded outside codecbench (`codecbench score REF DEG`): no payload, no timings, delay unknown."""
        nan = float("nan")
        return cls(reference, (degraded,), (), None, nan, nan, nan, nan, sample_rate=sample_rate)


@dataclass(frozen=True)
class Scored:
    """The scores of a `Coded`.

    Args:
        delay: the delay removed before intrusive metrics (of the first decode), with its method, confidence
            and flag (`alignment.Delay`).
        values: metric column -> value, the mean over decodes (NaN where a metric failed).
        errors: metric -> reason it failed (`seed k: ...` for a failure on decode k > 0).
        seed_std: metric column -> sample standard deviation over decodes (only with several decodes).
        n_seeds: how many decodes were scored.
        metrics_s: wall seconds of alignment and metrics.
    """

    delay: Delay
    values: Mapping[str, float]
    errors: Mapping[str, str]
    seed_std: Mapping[str, float]
    n_seeds: int
    metrics_s: float

    @property
    def delay_samples(self) -> int:
        return self.delay.samples


def max_lag(sample_rate: int = WORKING_RATE, max_delay_s: float = MAX_DELAY_S) -> int:
    """The cross-correlation search range in samples at `sample_rate`."""
    return int(round(max_delay_s * sample_rate))


def delay_of(reference: np.ndarray, decoded: np.ndarray, known_delay: int | None, lag: int,
             mode: str = DEFAULT_ALIGN, sample_rate: int = WORKING_RATE) -> Delay:
    """The delay rule under `--align MODE` (`alignment.delay_rule`): by default the codec's declared delay
    where it has one, else the phase-blind envelope estimate within ±`lag` samples, kept at 0 (flagged) where
    that estimate is not confident."""
    return delay_rule(reference, decoded, mode, known_delay, lag, sample_rate)


def timed_stage(stage: str, function: Callable[[Any], Any], argument: Any) -> tuple[Any, float]:
    """`function(argument)` and its wall seconds; what it raises becomes a `CodingError` naming `stage`."""
    start = time.perf_counter()
    try:
        result = function(argument)
    except Exception as exc:
        raise CodingError(f"{stage} failed: {type(exc).__name__}: {exc}") from exc
    return result, time.perf_counter() - start


def _check_clash(stage: str, what: str, names: Sequence[str], taken: set[str]) -> None:
    clash = sorted(set(names) & taken)
    if clash:
        raise CodingError(f"{stage} failed: the codec's {what} {clash} clash with the row's columns")


def code(codec: Codec, audio: LoadedAudio, seed: int, channel: Channel | None = None,
         source: Source | None = None) -> Coded:
    """Apply the input condition (`source`), resample to the codec's rate, encode once, send the bytes through `channel`, decode once per
    decoder seed (`codec.reseed` first; `seeds=K` of stochastic codecs gives K) and resample back.

    Args:
        codec: a loaded codec.
        audio: the input, mono, at its `sample_rate` (the working rate in a run).
        seed: the utterance's seed (`seeds.utterance_seed`); further decodes derive theirs from it.
        channel: the transmission between encoder and decoder (None: lossless).
        source: the input condition applied to `audio` before the encoder (None: a run without input
            conditions; with one, even a clean one, `Coded.clean` holds the talker and `score` scores `_e2e` too).

    Raises:
        CodingError: a stage failed, a decode is empty or not finite, or the codec's own columns clash
            with the row's columns; the message names the stage.
    """
    taken = reserved_columns()
    clean = None
    if source is not None:
        clean = audio.samples
        degraded, _ = timed_stage("input", lambda x: source.degrade(x, audio.sample_rate), clean)
        audio = replace(audio, samples=degraded)
    resampled = resample(audio.samples, audio.sample_rate, codec.sample_rate)
    encoded, encode_s = timed_stage("encode", codec.encode, resampled)
    _check_clash("encode", "extra columns", list(encoded.columns), taken)
    received, transmitted = encoded, {}
    if channel is not None:
        (received, transmitted), _ = timed_stage("channel", lambda e: channel.transmit(codec, e), encoded)
    seeds = decode_seeds(seed, codec.num_seeds if codec.stochastic else 1)
    decodes, elapsed, info = [], 0.0, {}
    output: np.ndarray | None = None
    for decode_seed in seeds:
        codec.reseed(decode_seed)
        decoded, seconds = timed_stage("decode", codec.decode, received)
        elapsed += seconds
        for key, value in codec.decode_info().items():
            info[key] = info.get(key, 0.0) + value / len(seeds)
        decoded = np.asarray(decoded, dtype=np.float32).reshape(-1)
        if decoded.size == 0 or not np.all(np.isfinite(decoded)):
            raise CodingError("decode failed: empty or non-finite output")
        output = decoded if output is None else output
        decodes.append(resample(decoded, codec.sample_rate, audio.sample_rate))
    _check_clash("decode", "decode_info columns", list(info), taken | set(encoded.columns) | set(transmitted))
    return Coded(reference=audio.samples, decodes=tuple(decodes), seeds=tuple(seeds),
                 known_delay=codec.known_delay_at(audio.sample_rate), payload_bytes=encoded.payload_bytes,
                 measured_kbps=8 * encoded.payload_bytes / audio.duration_s / 1000, encode_s=encode_s,
                 decode_s=elapsed / len(seeds), columns={**encoded.columns, **transmitted, **info},
                 channel=channel.name if channel is not None else CLEAN, sample_rate=audio.sample_rate, clean=clean,
                 output=output, output_rate=codec.sample_rate)


def score(coded: Coded, metrics: Sequence[str], max_delay_s: float = MAX_DELAY_S,
          transcript: str | None = None, align_mode: str = DEFAULT_ALIGN) -> Scored:
    """Apply the delay rule to every decode, align it to the reference and score it (intrusive metrics
    see the aligned, trimmed pair; non-intrusive ones the signals as they are). With several decodes each
    metric column is the mean over them and `seed_std` their sample standard deviation.

    Args:
        coded: the output of `code` (or `Coded.external`).
        metrics: registered metric names (may be empty: only the delay is found).
        max_delay_s: the largest delay the delay estimators search.
        transcript: the input's corpus transcript, for metrics that need one (None: there is none).
        align_mode: the delay rule (`alignment.ALIGN_MODES`, `--align`).

    With `coded.clean` (a degraded input) every metric is also scored against the clean talker: those values,
    spreads and errors carry `E2E_SUFFIX` (`pesq_wb_e2e`), the plain ones score against the codec's input.
    """
    start = time.perf_counter()
    delay, values, errors, seed_std = _score_against(coded.reference, coded, metrics, max_delay_s, transcript,
                                                          align_mode)
    if coded.clean is not None:
        e2e, e2e_errors, e2e_std = dict(values), dict(errors), dict(seed_std)  # a clean input: the same scores
        if coded.clean is not coded.reference:
            _, e2e, e2e_errors, e2e_std = _score_against(coded.clean, coded, metrics, max_delay_s, transcript,
                                                          align_mode)
        values.update({c + E2E_SUFFIX: v for c, v in e2e.items()})
        seed_std.update({c + E2E_SUFFIX: v for c, v in e2e_std.items()})
        errors.update({m + E2E_SUFFIX: reason for m, reason in e2e_errors.items()})
    return Scored(delay, values, errors, seed_std, len(coded.decodes), time.perf_counter() - start)


def _score_against(reference: np.ndarray, coded: Coded, metrics: Sequence[str], max_delay_s: float,
                   transcript: str | None, align_mode: str
                   ) -> tuple[Delay, dict[str, float], dict[str, str], dict[str, float]]:
    """Every decode of `coded` scored against `reference`: the first delay, mean values, errors, seed spread."""
    lag = max_lag(coded.sample_rate, max_delay_s)
    delays, results = [], []
    for decoded in coded.decodes:
        delay = delay_of(reference, decoded, coded.known_delay, lag, align_mode, coded.sample_rate)
        aligned, degraded = align(reference, decoded, delay.samples)
        delays.append(delay)
        results.append(evaluate(list(metrics), aligned, degraded, coded.sample_rate,
                                unaligned=(reference, decoded), transcript=transcript))
    errors: dict[str, str] = {}
    for k, result in enumerate(results):
        for metric, reason in result.errors.items():
            errors.setdefault(metric, reason if k == 0 else f"seed {k}: {reason}")
    columns = list(results[0].values)
    table = np.array([[r.values[c] for c in columns] for r in results], dtype=float).reshape(len(results), -1)
    values = dict(zip(columns, table.mean(axis=0).tolist()))
    seed_std = dict(zip(columns, table.std(axis=0, ddof=1).tolist())) if len(results) > 1 else {}
    return delays[0], values, errors, seed_std
