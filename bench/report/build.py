"""`build_report`: read a run's stored results (and optional latency, MUSHRA and claims files), write the report."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from codecbench.resources import file_digest, package_versions
from codecbench.report import plots
from codecbench.report.claims import check_claims, claims_grid, load_claims, resolve_claims_path
from codecbench.report.correlation import correlation_grid, correlations, joined_scores
from codecbench.report.document import Block, Cell, Document, Grid, Section, cells, fmt, document_markdown
from codecbench.report.html import document_html
from codecbench.report.latex import document_latex
from codecbench.report.rankings import bd_comparisons, bd_grid, pareto_front, pareto_grid
from codecbench.report.significance import ALPHA, matrix_grid, not_different_from_best, paired_tests
from codecbench.report.sources import LatencyData, MushraData, RunData, load_latency, load_mushra, load_run
from codecbench.report.tables import spec_grid, spec_table
from codecbench.stats import DEFAULT, CiMethod

FORMATS = ("md", "tex", "html")
REPORT_PACKAGES = ("scipy", "statsmodels", "matplotlib", "bjontegaard", "pyyaml", "pandas", "numpy")


@dataclass
class ReportResult:
    """What `build_report` wrote and the numbers behind it."""

    out: Path
    files: list[Path]
    table: pd.DataFrame
    significance: pd.DataFrame
    claims: pd.DataFrame | None = None
    correlations: pd.DataFrame | None = None
    document: Document | None = field(default=None, repr=False)


def _footer(run: RunData, inputs: dict[str, str], settings: dict[str, Any], command: str) -> list[str]:
    info, dataset = run.run_info, run.run_info.get("dataset", {})
    check = {True: "matches manifest.csv", False: "DOES NOT match manifest.csv", None: "manifest.csv not checked"}
    invocations = info.get("invocations", [])
    lines = [f"Run: {info.get('command', '?')}",
             f"Run directory: {run.root} (started {invocations[0].get('started', '?') if invocations else '?'}, "
             f"finished {invocations[-1].get('finished', 'not recorded') if invocations else '?'}, run seed "
             f"{info.get('config', {}).get('seed', '?')})",
             f"Data: {dataset.get('name', '?')} {dataset.get('split', '')}, {dataset.get('utterances', '?')} utterances "
             f"from {dataset.get('root', '?')}; manifest sha256 {dataset.get('manifest_sha256', '?')} "
             f"({check[run.manifest_verified]})",
             "Run versions: " + ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items()),
             "Run environment: " + ", ".join(f"{k} {v}" for k, v in info.get("environment", {}).items()),
             "Inputs sha256: " + ", ".join(f"{k} {v}" for k, v in inputs.items()),
             f"Report: {command}; " + ", ".join(f"{k} {v}" for k, v in package_versions(*REPORT_PACKAGES).items()),
             f"Statistics: {settings['ci']} intervals of the mean; paired Wilcoxon signed-rank, Holm-corrected per "
             f"metric, α = {settings['alpha']:g}"]
    return lines


def _latency_points(table: pd.DataFrame, latency: LatencyData, column: str) -> pd.DataFrame:
    records = []
    for _, r in table.iterrows():
        timing = latency.end_to_end(r["spec"])
        if timing is not None and np.isfinite(r[f"{column}_mean"]):
            records.append({"spec": r["spec"], "codec": r["codec"], "p50_ms": timing["p50_ms"],
                            "mean": r[f"{column}_mean"], "low": r[f"{column}_ci95_low"],
                            "high": r[f"{column}_ci95_high"]})
    return pd.DataFrame(records, columns=["spec", "codec", "p50_ms", "mean", "low", "high"])


def _latency_grid(latency: LatencyData, specs: list[str]) -> Grid:
    rows = []
    for spec in list(dict.fromkeys([*specs, *latency.table["spec"]])):
        timing = latency.end_to_end(spec)
        if timing is not None:
            rows.append(cells(spec, timing["setting"] or "–", timing["stages"] or "–", fmt(timing["p50_ms"], 2),
                              fmt(timing["p95_ms"], 2), "yes" if spec in specs else "no"))
    return Grid("latency", f"End-to-end latency ({latency.source.name})",
                ["spec", "setting", "stages", "p50 ms", "p95 ms", "in this run"], rows,
                ["Per spec, its first setting; end-to-end is the total stage, else encode + decode (sum of "
                 "per-stage percentiles, an upper bound of the percentile of the sum)."], align="lllrrl")


def _seed_grid(run: RunData) -> Grid:
    rows = []
    for spec in run.specs:
        part = run.rows[run.rows["spec"] == spec]
        rows.append([Cell(spec)] + [Cell(fmt(part[c].mean(), run.metric(m).decimals) if part[c].notna().any() else "–")
                                    for m, c in run.seed_columns.items()])
    return Grid("seed-spread", "Seed spread of stochastic decoders", ["spec", *(f"{m} std" for m in run.seed_columns)],
                rows, ["Mean over utterances of the per-utterance standard deviation of a metric over decoder seeds "
                       "(columns `<metric>_seed_std`); – : a deterministic spec."])


def _mushra_grid(mushra: MushraData) -> Grid:
    rows = [cells(r["condition"], int(r["n"]), f"{fmt(r['mean'], 1)} [{fmt(r['ci95_low'], 1)}, {fmt(r['ci95_high'], 1)}]")
            for _, r in mushra.summary.iterrows()]
    return Grid("mushra", f"MUSHRA per condition ({mushra.source.name})", ["condition", "n", "mean [95 % CI]"], rows,
                list(mushra.notes))


def build_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    formats: tuple[str, ...] = FORMATS,
    latency: str | Path | None = None,
    mushra: str | Path | None = None,
    claims: str | Path | None = None,
    group_by: str | None = None,
    ci: CiMethod = DEFAULT,
    alpha: float = ALPHA,
    command: list[str] | None = None,
) -> ReportResult:
    """Write the report of a finished run into `out` (default `RUN_DIR/report/`).

    Args:
        run_dir: a run directory written by `codecbench run`.
        out: report directory.
        formats: any of `md`, `tex`, `html` (CSV tables and PNG/PDF figures are always written).
        latency: `latency.csv` of `codecbench latency`, or its directory.
        mushra: MUSHRA `summary.csv` / `ratings.csv`, or their directory.
        claims: a claims YAML file, or the name of a shipped one (`seed_papers`).
        group_by: also tabulate per value of this column (`split`, `speaker`).
        ci: the confidence interval of the means (default: Student-t, as in the run's summary.csv).
        alpha: significance level of the Holm-corrected paired tests.
        command: the command line recorded in the footer.

    Raises:
        FileNotFoundError: a missing run or input file.
        ValueError: a malformed input or an unknown format.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown report format(s) {sorted(unknown)}; choose from {', '.join(FORMATS)}")
    run = load_run(run_dir)
    latency_data = load_latency(latency) if latency is not None else None
    mushra_data = load_mushra(mushra) if mushra is not None else None
    claims_path = resolve_claims_path(str(claims)) if claims is not None else None
    claim_list = load_claims(claims_path) if claims_path is not None else None
    out = Path(out) if out is not None else run.root / "report"
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    for stale in [*figures.glob("*.png"), *figures.glob("*.pdf")]:
        stale.unlink()
    files: list[Path] = []

    def write_csv(frame: pd.DataFrame, name: str) -> None:
        frame.to_csv(out / name, index=False)
        files.append(out / name)

    table = spec_table(run, ci)
    write_csv(table, "table.csv")
    tests = paired_tests(run.rows, run.specs, run.metrics, alpha)
    write_csv(tests, "significance.csv")
    results: list[Block] = [spec_grid(table, run, not_different_from_best(tests, table, run.metrics), alpha=alpha,
                                      method=ci)]
    if group_by:
        grouped = spec_table(run, ci, group_by)
        write_csv(grouped, f"table_by_{group_by}.csv")
        results.append(spec_grid(grouped, run, group_by=group_by, method=ci))
    if not run.metrics:
        results.append("This run has no registered metric columns: only the measured bitrate is reported.")
    if run.ignored:
        results.append("Columns not reported: " + "; ".join(f"{c} ({r})" for c, r in run.ignored.items()) + ".")

    fronts = pd.concat([pareto_front(table, m) for m in run.metrics]) if run.metrics else pd.DataFrame(
        columns=["metric", "spec", "kbps", "value", "pareto"])
    write_csv(fronts, "pareto.csv")
    bd = bd_comparisons(table, run.metrics)
    write_csv(bd, "bd_rate.csv")
    rankings: list[Block] = [pareto_grid(fronts, run.metrics), bd_grid(bd, run.metrics)]
    rankings += [plots.rate_quality(table, m, set(fronts.loc[(fronts["metric"] == m.column) & fronts["pareto"], "spec"]),
                                    figures) for m in run.metrics]
    sections = [Section("Results", results),
                Section("Paired significance", [matrix_grid(tests, m, run.specs, alpha) for m in run.metrics]),
                Section("Rankings", rankings),
                Section("Per-utterance distributions", [plots.distributions(run.rows, run.specs, m, figures)
                                                        for m in run.metrics])]
    if run.seed_columns:
        sections.append(Section("Seed spread", [_seed_grid(run)] + [
            plots.seed_spread(run.rows, run.specs, run.metric(m), c, figures) for m, c in run.seed_columns.items()]))
    inputs = dict(run.checksums)
    if latency_data is not None:
        inputs[latency_data.source.name] = latency_data.sha256
        blocks: list[Block] = [_latency_grid(latency_data, run.specs)]
        for m in run.metrics:
            points = _latency_points(table, latency_data, m.column)
            if not points.empty:
                blocks.append(plots.latency_quality(points, m, figures))
        sections.append(Section("Latency", blocks))
    claim_result = None
    if claim_list is not None:
        inputs[claims_path.name] = file_digest(claims_path)
        claim_result = check_claims(claim_list, table, run.metrics, latency_data)
        write_csv(claim_result, "claims.csv")
        sections.append(Section("Claim-check", [claims_grid(claim_result, run.metrics)]))
    correlation_result = None
    if mushra_data is not None:
        inputs[mushra_data.source.name] = mushra_data.sha256
        correlation_result = correlations(table, run.metrics, mushra_data)
        write_csv(correlation_result, "correlation.csv")
        blocks = [_mushra_grid(mushra_data), plots.mushra_means(mushra_data.summary, figures),
                  correlation_grid(correlation_result, mushra_data)]
        for m, (_, r) in zip(run.metrics, correlation_result.iterrows()):
            joined = joined_scores(table, m, mushra_data)
            if not joined.empty:
                title = f"Pearson {fmt(r['pearson_r'], 2)}, Spearman {fmt(r['spearman_rho'], 2)}, Kendall {fmt(r['kendall_tau'], 2)}"
                blocks.append(plots.correlation_scatter(joined, m, title, figures))
        sections.append(Section("Listening test (MUSHRA)", blocks))

    command_text = shlex.join(command if command is not None else sys.argv)
    settings = {"ci": ci.label, "alpha": alpha}
    document = Document(f"codecbench report: {run.root.name}", sections, _footer(run, inputs, settings, command_text))
    writers = {"md": ("report.md", lambda: document_markdown(document, out)),
               "tex": ("report.tex", lambda: document_latex(document, out)),
               "html": ("report.html", lambda: document_html(document))}
    for fmt_name in formats:
        name, render = writers[fmt_name]
        (out / name).write_text(render(), encoding="utf-8")
        files.append(out / name)
    files += sorted(figures.iterdir())
    provenance = {"command": command_text, "written": datetime.now(timezone.utc).isoformat(), "run": str(run.root),
                  "inputs_sha256": inputs, "settings": settings, "group_by": group_by, "versions": package_versions(*REPORT_PACKAGES),
                  "run_versions": run.run_info.get("versions", {}), "manifest_verified": run.manifest_verified,
                  "metrics": [asdict(m) for m in run.metrics], "ignored_columns": run.ignored}
    (out / "report.json").write_text(json.dumps(provenance, indent=2, default=str))
    files.append(out / "report.json")
    return ReportResult(out, files, table, tests, claim_result, correlation_result, document)
