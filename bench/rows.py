"""`Row`: one (utterance, codec spec[, conditions]) result, and the output columns of a run in one place.

Column order of `utterances.parquet/.csv` (the output contract): `LEADING_COLUMNS`, the metric columns,
`error`, the condition columns (e.g. `channel`, `input`; none for a plain run), `TRAILING_COLUMNS`, then the
columns codecs measure themselves (`Encoded.columns`, `decode_info()`) and, for specs decoded with several
seeds, `n_seeds` and `<metric>_seed_std`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LEADING_COLUMNS = [
    "utterance", "speaker", "split", "duration_s", "codec", "spec", "target_kbps", "measured_kbps",
    "delay_samples", "encode_s", "decode_s",
]
TRAILING_COLUMNS = [
    "payload_bytes", "metrics_s", "seed", "conversion", "delay_method", "delay_confidence", "delay_flag", "audio_sha256",
]
AUDIO_SHA256 = "audio_sha256"  # the SHA-256 of the row's kept decoded audio (`--keep-audio`), '' where none was kept
ERROR = "error"
KEY = ["utterance", "spec"]  # plus the condition columns of a run that has them
CONDITIONS = ("channel", "input")  # the condition columns, in column order (`codecbench run --channel/--input`)
CLEAN = "clean"  # a condition column's value for an unaltered channel or input
SYSTEM_SEPARATOR = " · "  # between a spec and its conditions in `system_label`
SEED_STD_SUFFIX = "_seed_std"
E2E_SUFFIX = "_e2e"  # metric columns scored against the clean talker when the codec's input was degraded
N_SEEDS = "n_seeds"
NAN = float("nan")


def reserved_columns(conditions: Iterable[str] = ()) -> set[str]:
    """Names a codec's own columns may not take: the contract columns (metric columns are checked by RunDir)."""
    return {*LEADING_COLUMNS, *TRAILING_COLUMNS, ERROR, N_SEEDS, *conditions}


def column_order(metric_columns: Iterable[str], conditions: Iterable[str] = ()) -> list[str]:
    """The fixed columns of a run's table, in contract order (extra columns follow in order of appearance)."""
    return [*LEADING_COLUMNS, *metric_columns, ERROR, *conditions, *TRAILING_COLUMNS]


@dataclass(frozen=True, kw_only=True)
class Row:
    """One row of a run's table. Fields are the contract columns; the mappings hold the columns that vary.

    Args:
        utterance, speaker, split: the input (LibriSpeech: `1688-142285-0002`, `1688`, `test-other`).
        codec, spec: the codec name and the full spec string.
        target_kbps: the declared operating point (NaN where the codec has none).
        duration_s: the input's duration.
        measured_kbps: 8 x payload bytes / duration.
        delay_samples: the delay removed before intrusive metrics, at the working rate.
        encode_s, decode_s: wall seconds of encoding and of one decode (mean over seeds).
        metrics: every metric column of the run -> value (NaN where the metric failed).
        error: why something is missing ('' for a complete row).
        conditions: condition columns -> value (e.g. `channel`, `input`; empty for a plain run).
        payload_bytes, metrics_s, seed, conversion: bookkeeping (`seed`: the first decoder seed).
        delay_method, delay_confidence, delay_flag: how `delay_samples` was chosen (`alignment.Delay`: `declared`,
            `envelope`, `envelope+waveform`, `xcorr`, `none`, `fallback`), the estimate's confidence (NaN where
            none was made) and why the delay is doubtful ('' when it is not).
        audio_sha256: the SHA-256 of the FLAC file holding the row's decoded audio (`--keep-audio`,
            `codecbench.kept_audio`); '' where the run kept none.
        extra: codec-measured columns, then `n_seeds` and `<metric>_seed_std` of multi-seed specs.
    """

    utterance: str
    speaker: str
    split: str
    duration_s: float = NAN
    codec: str
    spec: str
    target_kbps: float = NAN
    measured_kbps: float = NAN
    delay_samples: float = NAN
    encode_s: float = NAN
    decode_s: float = NAN
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str = ""
    conditions: Mapping[str, str] = field(default_factory=dict)
    payload_bytes: float = NAN
    metrics_s: float = NAN
    seed: float = NAN
    conversion: str = ""
    delay_method: str = ""
    delay_confidence: float = NAN
    delay_flag: str = ""
    audio_sha256: str = ""
    extra: Mapping[str, float | str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, ...]:
        """What identifies the row within a run: utterance, spec and the condition values."""
        return (self.utterance, self.spec, *self.conditions.values())

    def record(self) -> dict[str, object]:
        """The row as one flat mapping in column order (what the journal stores and the tables hold)."""
        flat: dict[str, object] = {name: getattr(self, name) for name in LEADING_COLUMNS}
        flat.update(self.metrics)
        flat[ERROR] = self.error
        flat.update(self.conditions)
        flat.update({name: getattr(self, name) for name in TRAILING_COLUMNS})
        flat.update(self.extra)
        return flat


def system_label(spec: str, conditions: Mapping[str, str]) -> str:
    """What a report or listening test compares: the spec followed by its non-clean conditions in column order
    (`opus@6`, `opus@6 · loss@10%`, `opus@6 · loss@10% · white@10dB`); a spec under clean conditions is the spec."""
    return SYSTEM_SEPARATOR.join([spec, *(str(conditions[c]) for c in CONDITIONS
                                          if c in conditions and str(conditions[c]) != CLEAN)])


def run_systems(specs: Sequence[str], listed: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, dict[str, str]]]:
    """Every spec under every combination of the listed conditions (condition column -> its values, as the run
    lists them), in run order: label (`system_label`) -> (spec, conditions)."""
    columns = [c for c in CONDITIONS if c in listed]
    return {system_label(spec, dict(zip(columns, values))): (spec, dict(zip(columns, values)))
            for spec in specs for values in itertools.product(*(listed[c] for c in columns))}


def system_labels(table: Any) -> list[str]:
    """`system_label` of every row of a DataFrame with `spec` and any condition columns."""
    present = [c for c in CONDITIONS if c in table]
    return [system_label(spec, dict(zip(present, values)))
            for spec, *values in table[["spec", *present]].itertuples(index=False)]


def record_key(record: Mapping[str, object], conditions: Iterable[str] = ()) -> tuple[str, ...]:
    """What identifies a stored record within a run: utterance, spec and the condition values."""
    return (str(record["utterance"]), str(record["spec"]), *(str(record[c]) for c in conditions))


def nan_metrics(metric_columns: Iterable[str]) -> dict[str, float]:
    """Every metric column NaN (a row whose coding or scoring failed)."""
    return {column: NAN for column in metric_columns}
