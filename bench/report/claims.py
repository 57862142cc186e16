"""Claim-check: numbers a paper reports, side by side with what this run measured.

A claims file (YAML) holds a list `claims`, each with `codec` (a codec name, e.g. `opus`) or `spec`
(an exact spec, e.g. `opus@6`), `metric` (a result column such as `pesq_wb`, `stoi` or `measured_kbps`, or
`latency_ms` for the end-to-end p50 of `--latency` results), `value`, `source`, and optionally
`bitrate_kbps` (the claimed operating point), `setting` (a latency setting) and `note`. A top-level
`source` applies to claims without one. A claim is matched to the spec of its codec whose measured
kbps is nearest to `bitrate_kbps`, within `BITRATE_TOLERANCE`; a claim whose codec, rate or metric is
not in the run is listed as not measured, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from codecbench.codecs import parse_spec
from codecbench.report.document import Cell, Grid, fmt
from codecbench.report.sources import LatencyData, MetricColumn
from codecbench.report.tables import RATE

BITRATE_TOLERANCE = 0.25  # a spec matches a claimed rate within ±25 % of it
LATENCY_METRIC = "latency_ms"
SHIPPED = ("seed_papers",)
RESULT_COLUMNS = ["codec", "claimed_kbps", "spec", "measured_kbps", "metric", "claimed", "measured", "ci95_low",
                  "ci95_high", "difference", "within_ci", "status", "source", "note"]


@dataclass(frozen=True)
class Claim:
    """One reported number."""

    metric: str
    value: float
    source: str
    codec: str = ""
    spec: str = ""
    bitrate_kbps: float | None = None
    setting: str | None = None
    note: str = ""


def shipped_claims(name: str) -> Path:
    """Path of a claims file that ships with codecbench (`seed_papers`)."""
    if name not in SHIPPED:
        raise ValueError(f"no shipped claims file {name!r}; shipped: {', '.join(SHIPPED)}")
    return Path(str(files("codecbench.report") / "data" / f"{name}.yaml"))


def resolve_claims_path(text: str) -> Path:
    """A claims file path, or the name of a shipped one."""
    path = Path(text)
    if path.is_file():
        return path
    if text in SHIPPED:
        return shipped_claims(text)
    raise FileNotFoundError(f"no claims file {text} (shipped claims: {', '.join(SHIPPED)})")


def load_claims(path: str | Path) -> list[Claim]:
    """Read and validate a claims YAML file.

    Raises:
        ValueError: a malformed file or claim, naming the entry and what is wrong.
    """
    import yaml

    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ValueError(f"{path}: expected a mapping with a list `claims`")
    allowed = {f.name for f in fields(Claim)}
    claims = []
    for i, entry in enumerate(data["claims"], start=1):
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: claim {i} is not a mapping")
        unknown = set(entry) - allowed
        if unknown:
            raise ValueError(f"{path}: claim {i} has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        entry = {"source": data.get("source", ""), **entry}
        missing = [k for k in ("metric", "value", "source") if not entry.get(k) and entry.get(k) != 0]
        if not (entry.get("codec") or entry.get("spec")):
            missing.append("codec or spec")
        if missing:
            raise ValueError(f"{path}: claim {i} misses {', '.join(missing)}")
        try:
            value = float(entry["value"])
            rate = None if entry.get("bitrate_kbps") is None else float(entry["bitrate_kbps"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: claim {i}: value and bitrate_kbps must be numbers ({exc})") from exc
        claims.append(Claim(metric=str(entry["metric"]), value=value, source=str(entry["source"]),
                            codec=str(entry.get("codec") or parse_spec(entry["spec"]).name),
                            spec=str(entry.get("spec") or ""), bitrate_kbps=rate,
                            setting=None if entry.get("setting") is None else str(entry["setting"]),
                            note=str(entry.get("note") or "")))
    return claims


def _pick(candidates: pd.DataFrame, claim: Claim, what: str) -> tuple[str | None, str]:
    """The spec in `candidates` (columns spec, kbps) that the claim refers to, or None and why not."""
    name = claim.spec or claim.codec
    if candidates.empty:
        return None, f"not measured: {name} is not in {what}"
    rates = candidates["kbps"].to_numpy(dtype=float)
    if claim.bitrate_kbps is not None and np.isfinite(rates).any():
        i = int(np.nanargmin(np.abs(rates - claim.bitrate_kbps)))
        if abs(rates[i] - claim.bitrate_kbps) > BITRATE_TOLERANCE * claim.bitrate_kbps:
            return None, (f"not measured at {claim.bitrate_kbps:g} kbps: nearest {name} spec "
                          f"{candidates['spec'].iloc[i]} runs at {rates[i]:.2f} kbps")
        return str(candidates["spec"].iloc[i]), ""
    if len(candidates) > 1:
        return None, f"not measured: {len(candidates)} specs of {name} in {what}; give bitrate_kbps or spec"
    return str(candidates["spec"].iloc[0]), ""


def _run_candidates(table: pd.DataFrame, claim: Claim) -> pd.DataFrame:
    part = table[table["spec"] == claim.spec] if claim.spec else table[table["codec"] == claim.codec]
    return pd.DataFrame({"spec": part["spec"], "kbps": part[f"{RATE}_mean"]})


def _latency_candidates(latency: LatencyData, table: pd.DataFrame, claim: Claim) -> pd.DataFrame:
    specs = list(dict.fromkeys(latency.table["spec"]))
    specs = [s for s in specs if (s == claim.spec if claim.spec else parse_spec(s).name == claim.codec)]
    measured = table.set_index("spec")[f"{RATE}_mean"]
    return pd.DataFrame({"spec": specs, "kbps": [measured.get(s, np.nan) for s in specs]})


def check_claims(claims: list[Claim], table: pd.DataFrame, metrics: list[MetricColumn],
                 latency: LatencyData | None = None) -> pd.DataFrame:
    """One row per claim: claimed vs measured, difference (measured − claimed), inside the 95 % CI."""
    columns = {RATE, *(m.column for m in metrics)}
    records = []
    for claim in claims:
        record = {"codec": claim.codec, "claimed_kbps": claim.bitrate_kbps, "spec": "", "measured_kbps": np.nan,
                  "metric": claim.metric, "claimed": claim.value, "measured": np.nan, "ci95_low": np.nan,
                  "ci95_high": np.nan, "difference": np.nan, "within_ci": "", "status": "", "source": claim.source,
                  "note": claim.note}
        if claim.metric == LATENCY_METRIC:
            if latency is None:
                spec, status = None, "not measured: no --latency results given"
            else:
                spec, status = _pick(_latency_candidates(latency, table, claim), claim, "the latency results")
            timing = latency.end_to_end(spec, claim.setting) if spec else None
            if spec and timing is None:
                status = f"not measured: no latency rows for {spec}" + (f" in setting {claim.setting}"
                                                                       if claim.setting else "")
            if timing is not None:
                record.update(measured=timing["p50_ms"], difference=timing["p50_ms"] - claim.value,
                              within_ci="n/a", status=f"measured: p50 (p95 {timing['p95_ms']:.2f} ms) of "
                                                      f"{timing['stages'] or 'one row'} in {timing['setting'] or 'the file'}")
        elif claim.metric not in columns:
            spec, status = None, f"not measured: {claim.metric} is not a result column of this run"
        else:
            spec, status = _pick(_run_candidates(table, claim), claim, "this run")
            if spec:
                row = table[table["spec"] == spec].iloc[0]
                mean, low, high = (row[f"{claim.metric}_{s}"] for s in ("mean", "ci95_low", "ci95_high"))
                record.update(measured=mean, ci95_low=low, ci95_high=high, difference=mean - claim.value,
                              within_ci="yes" if np.isfinite(low) and low <= claim.value <= high else "no",
                              status="measured")
        if spec:
            record["spec"] = spec
            rates = table.loc[table["spec"] == spec, f"{RATE}_mean"]
            record["measured_kbps"] = float(rates.iloc[0]) if len(rates) else np.nan
        if status:
            record["status"] = status
        records.append(record)
    return pd.DataFrame(records, columns=RESULT_COLUMNS)


def claims_grid(result: pd.DataFrame, metrics: list[MetricColumn]) -> Grid:
    decimals = {m.column: m.decimals for m in metrics} | {RATE: 2, LATENCY_METRIC: 2}
    sources = list(dict.fromkeys(result["source"]))
    rows = []
    for _, r in result.iterrows():
        d = decimals.get(r["metric"], 3)
        measured = fmt(r["measured"], d)
        if np.isfinite(r["ci95_low"]):
            measured += f" [{fmt(r['ci95_low'], d)}, {fmt(r['ci95_high'], d)}]"
        if not np.isfinite(r["measured"]):
            measured = r["status"]
        rows.append([Cell(r["codec"]), Cell(fmt(r["claimed_kbps"], 2)), Cell(r["spec"] or "–"),
                     Cell(fmt(r["measured_kbps"], 2)), Cell(r["metric"]), Cell(f"{r['claimed']:g}"),
                     Cell(measured), Cell(fmt(r["difference"], d)), Cell(r["within_ci"] or "–"),
                     Cell(f"[{sources.index(r['source']) + 1}]")])
    notes = ["measured: mean [95 % CI] of this run; difference: measured − claimed; inside CI: whether the "
             f"claimed value lies in the measured 95 % CI. A claim is matched to the codec's spec whose measured kbps "
             f"is nearest to the claimed rate, within ±{BITRATE_TOLERANCE:.0%}. Latency (latency_ms) is the "
             "end-to-end p50 of the --latency results, which carry no CI."]
    notes += [f"[{i}] {source}" for i, source in enumerate(sources, start=1)]
    notes += [f"{r['codec']} {r['metric']}: {r['note']}" for _, r in result.iterrows() if r["note"]]
    return Grid("claims", "Claim-check: reported vs measured",
                ["codec", "claimed kbps", "spec", "measured kbps", "metric", "claimed", "measured", "difference",
                 "inside CI", "source"], rows, notes, align="lrlrlrprll")
