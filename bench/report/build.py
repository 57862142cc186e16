"""`build_report`: read one or several runs' stored results (and optional latency, MUSHRA and claims files), write
the report.

The report reads like a results section: the main table (primary metrics first, `codecbench.summary.metric_order`)
and the rate–quality figure, then rankings and per-metric detail, the robustness section of runs with several
channel/input conditions (each spec under each condition is a compared system, `codecbench.rows.system_label`),
then latency / claims / MUSHRA when given, and the paired-significance matrices last, in an appendix (collapsed in
HTML).
"""

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

from codecbench import safecsv
from codecbench.resources import file_digest, package_versions
from codecbench.report import plots
from codecbench.report.claims import check_claims, claims_grid, load_claims, resolve_claims_path
from codecbench.report.controls import compare_controls, controls_blocks
from codecbench.report.correlation import correlation_grid, correlations, joined_scores
from codecbench.report.document import Block, Cell, Document, Grid, Section, cells, fmt, document_markdown
from codecbench.report.html import document_html
from codecbench.report.latex import document_latex
from codecbench.report.merge import load_runs
from codecbench.report.rankings import bd_comparisons, bd_grid, pareto_front, pareto_grid
from codecbench.report.robustness import Robustness, robustness_section
from codecbench.report.significance import (ALPHA, coverage, coverage_note, matrix_grid, not_different_from_best,
                                            paired_tests)
from codecbench.report.sources import CODEC_SPEC, LatencyData, MushraData, RunData, SourceRun, load_latency, load_mushra
from codecbench.report.validity import validity_section
from codecbench.report.tables import reference_grid, reference_table, spec_grid, spec_table, table_file
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
    coverage: pd.DataFrame | None = None
    claims: pd.DataFrame | None = None
    correlations: pd.DataFrame | None = None
    robustness: Robustness | None = None
    document: Document | None = field(default=None, repr=False)


def _source_lines(source: SourceRun, specs: list[str]) -> list[str]:
    info, dataset = source.info, source.info.dataset
    check = {True: "matches manifest.csv", False: "DOES NOT match manifest.csv", None: "manifest.csv not checked"}
    invocations = info.invocations
    return [f"Run: {info.command}",
            f"Run directory: {source.root} (started {invocations[0].get('started', '?') if invocations else '?'}, "
            f"finished {invocations[-1].get('finished', 'not recorded') if invocations else '?'}, run seed "
            f"{info.config.get('seed', '?')}); specs reported from it: {', '.join(specs) or 'none'}",
            f"Data: {dataset.get('name', '?')} {dataset.get('split', '')}, {dataset.get('utterances', '?')} utterances "
            f"from {dataset.get('root', '?')}; manifest sha256 {dataset.get('manifest_sha256', '?')} "
            f"({check[source.manifest_verified]})",
            "Run versions: " + ", ".join(f"{k} {v}" for k, v in info.versions.items()),
            "Run environment: " + ", ".join(f"{k} {v}" for k, v in info.environment.items())]


def _specs_of(run: RunData, index: int) -> list[str]:
    return [s for s in run.specs if run.spec_sources.get(s) == index]


def _footer(run: RunData, inputs: dict[str, str], settings: dict[str, Any], command: str) -> list[str]:
    lines = [line for i, source in enumerate(run.sources) for line in _source_lines(source, _specs_of(run, i))]
    return lines + [
        "Inputs sha256: " + ", ".join(f"{k} {v}" for k, v in inputs.items()),
        f"Report: {command}; " + ", ".join(f"{k} {v}" for k, v in package_versions(*REPORT_PACKAGES).items()),
        f"Statistics: {settings['ci']} intervals of the mean; paired Wilcoxon signed-rank over the utterances all "
        f"compared specs scored, Holm-corrected per metric, α = {settings['alpha']:g}"]


def _inputs(run: RunData) -> dict[str, str]:
    """sha256 of every file the report read, named by file (prefixed by the run folder when several)."""
    several = len(run.sources) > 1
    return {(f"{s.root.name}/{name}" if several else name): digest for s in run.sources
            for name, digest in s.checksums.items()}


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


@dataclass
class _Folder:
    """The report folder and every file written into it, in order."""

    path: Path
    files: list[Path] = field(default_factory=list)

    @classmethod
    def fresh(cls, path: Path) -> "_Folder":
        """The folder with an empty `figures/` (figures of an earlier report removed)."""
        folder = cls(path)
        folder.figures.mkdir(parents=True, exist_ok=True)
        for stale in [*folder.figures.glob("*.png"), *folder.figures.glob("*.pdf")]:
            stale.unlink()
        return folder

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    def csv(self, frame: pd.DataFrame, name: str) -> None:
        safecsv.write_csv(frame, self.path / name)
        self.files.append(self.path / name)

    def text(self, name: str, text: str) -> None:
        (self.path / name).write_text(text, encoding="utf-8")
        self.files.append(self.path / name)


@dataclass
class _Main:
    """The report's first sections (results, rankings, per-metric detail, diffusion controls) and their numbers."""

    sections: list[Section]
    table: pd.DataFrame
    tests: pd.DataFrame
    covered: pd.DataFrame


def _main_sections(run: RunData, ci: CiMethod, alpha: float, group_by: str | None, folder: _Folder) -> _Main:
    """The main table with its tests and Pareto fronts, the rankings, the per-metric figures and the diffusion
    controls; their CSV files are written."""
    table = spec_table(run, ci)
    folder.csv(table, table_file("table", ci))
    tests = paired_tests(run.rows, run.specs, run.metrics, alpha)
    folder.csv(tests, "significance.csv")
    covered = coverage(run.rows, run.specs, run.metrics)
    fronts = pd.concat([pareto_front(table, m) for m in run.metrics]) if run.metrics else pd.DataFrame(
        columns=["metric", "spec", "kbps", "value", "pareto"])
    folder.csv(fronts, "pareto.csv")
    pareto = {m.column: set(fronts.loc[(fronts["metric"] == m.column) & fronts["pareto"], "spec"]) for m in run.metrics}
    results = _results(run, table, tests, covered, pareto, ci, alpha, group_by, folder)
    bd = bd_comparisons(table, run.metrics)
    folder.csv(bd, "bd_rate.csv")
    sections = [Section("Results", results),
                Section("Rankings", [pareto_grid(fronts, run.metrics), bd_grid(bd, run.metrics)]),
                Section("Per-metric detail", [figure for m in run.metrics for figure in (
                    plots.rate_quality(table, m, pareto[m.column], folder.figures),
                    plots.distributions(run.rows, run.specs, m, folder.figures))])]
    coded = run.rows.assign(spec=run.rows[CODEC_SPEC]) if CODEC_SPEC in run.rows else run.rows  # specs, not labels
    controls = compare_controls(coded, list(dict.fromkeys(coded["spec"])), run.metrics, ci)
    if not controls.table.empty or controls.missing or controls.one_seed:
        folder.csv(controls.table, "diffusion_controls.csv")
        sections.insert(1, Section("Diffusion against its controls", controls_blocks(controls, run.metrics, ci)))
    return _Main(sections, table, tests, covered)


def _results(run: RunData, table: pd.DataFrame, tests: pd.DataFrame, covered: pd.DataFrame,
             pareto: dict[str, set[str]], ci: CiMethod, alpha: float, group_by: str | None,
             folder: _Folder) -> list[Block]:
    """The Results section: the main table, what it covers and leaves out, the reference input's own scores,
    the grouped table and the rate–quality overview."""
    results: list[Block] = [spec_grid(table, run, not_different_from_best(tests, table, run.metrics), alpha=alpha,
                                      method=ci)]
    if run.metrics:
        results.append(coverage_note(covered))
    if len(run.sources) > 1:
        results.append("Merged from " + "; ".join(f"{s.root} ({', '.join(_specs_of(run, i))})"
                                                  for i, s in enumerate(run.sources))
                       + ". Rows join on (utterance, input SHA-256).")
    if run.reference_columns:
        reference = reference_table(run, ci)
        folder.csv(reference, table_file("reference", ci))
        results.append(reference_grid(reference, run))
    if group_by:
        grouped = spec_table(run, ci, group_by)
        folder.csv(grouped, table_file(f"table_by_{group_by}", ci))
        results.append(spec_grid(grouped, run, group_by=group_by, method=ci))
    if not run.metrics:
        results.append("This run has no registered metric columns: only the measured bitrate is reported.")
    if run.ignored:
        results.append("Columns not reported: " + "; ".join(f"{c} ({r})" for c, r in run.ignored.items()) + ".")
    if run.metrics:
        results.append(plots.rate_quality_overview(table, run.metrics, pareto, folder.figures))
    return results


def _latency_section(run: RunData, table: pd.DataFrame, latency: LatencyData, folder: _Folder) -> Section:
    blocks: list[Block] = [_latency_grid(latency, run.specs)]
    for m in run.metrics:
        points = _latency_points(table, latency, m.column)
        if not points.empty:
            blocks.append(plots.latency_quality(points, m, folder.figures))
    return Section("Latency", blocks)


def _mushra_section(run: RunData, table: pd.DataFrame, mushra: MushraData, correlation: pd.DataFrame,
                    folder: _Folder) -> Section:
    blocks = [_mushra_grid(mushra), plots.mushra_means(mushra.summary, folder.figures),
              correlation_grid(correlation, mushra)]
    for m, (_, r) in zip(run.metrics, correlation.iterrows()):
        joined = joined_scores(table, m, mushra)
        if not joined.empty:
            title = f"Pearson {fmt(r['pearson_r'], 2)}, Spearman {fmt(r['spearman_rho'], 2)}, Kendall {fmt(r['kendall_tau'], 2)}"
            blocks.append(plots.correlation_scatter(joined, m, title, folder.figures))
    return Section("Listening test (MUSHRA)", blocks)


def _render(document: Document, formats: tuple[str, ...], folder: _Folder) -> None:
    """The document in every asked format, then the list of figures."""
    writers = {"md": ("report.md", lambda: document_markdown(document, folder.path)),
               "tex": ("report.tex", lambda: document_latex(document, folder.path)),
               "html": ("report.html", lambda: document_html(document))}
    for fmt_name in formats:
        name, render = writers[fmt_name]
        folder.text(name, render())
    folder.files.extend(sorted(folder.figures.iterdir()))


def _listener_sections(run: RunData, table: pd.DataFrame, mushra: Any, mushra_data: Any, listening: Any,
                       folder: _Folder, inputs: dict[str, str], sections: list[Section]) -> pd.DataFrame | None:
    """Append what listeners say beside the metrics: the MUSHRA section (its correlation with each metric, also
    returned), the ACR/DCR/CCR/A-B sections of `listening`, and which metrics to trust; `inputs` gets their
    checksums."""
    correlation_result = None
    if mushra_data is not None:
        inputs[mushra_data.source.name] = mushra_data.sha256
        correlation_result = correlations(table, run.metrics, mushra_data)
        folder.csv(correlation_result, "correlation.csv")
        sections.append(_mushra_section(run, table, mushra_data, correlation_result, folder))
    columns = [m.column for m in run.metrics]
    if listening:
        from codecbench.report.listening import listening_section

        sections.append(listening_section(listening, run.rows, columns))
    sections.append(validity_section(sorted(set(run.rows["codec"].astype(str))), columns, mushra))
    return correlation_result


def _provenance(run: RunData) -> dict[str, Any]:
    """What report.json records of the runs and their columns."""
    return {"runs": [s.provenance(_specs_of(run, i)) for i, s in enumerate(run.sources)],
            "versions": package_versions(*REPORT_PACKAGES), "metrics": [asdict(m) for m in run.metrics],
            "reference_columns": [asdict(m) for m in run.reference_columns], "ignored_columns": run.ignored}


def build_report(
    run_dir: str | Path | list[str | Path],
    out: str | Path | None = None,
    formats: tuple[str, ...] = FORMATS,
    latency: str | Path | None = None,
    mushra: str | Path | None = None,
    listening: list[str | Path] | None = None,
    claims: str | Path | None = None,
    group_by: str | None = None,
    ci: CiMethod = DEFAULT,
    alpha: float = ALPHA,
    command: list[str] | None = None,
    prefer: str | None = None,
    metrics: list[str] | None = None,
) -> ReportResult:
    """Write the report of one finished run, or of several merged (`codecbench.report.merge`), into `out`.

    Args:
        run_dir: a run directory written by `codecbench run`, or a list of them.
        out: report directory (default `RUN_DIR/report/` of a single run; required for several).
        formats: any of `md`, `tex`, `html` (CSV tables and PNG/PDF figures are always written).
        latency: `latency.csv` of `codecbench latency`, or its directory.
        mushra: MUSHRA `summary.csv` / `ratings.csv`, or their directory.
        listening: analysis folders of `mushra analyze --type acr|ab` (see `report.listening`).
        claims: a claims YAML file, or the name of a shipped one (`seed_papers`).
        group_by: also tabulate per value of this column (`split`, `speaker`).
        ci: the confidence interval of the means (default: Student-t, as in the run's summary.csv).
        alpha: significance level of the Holm-corrected paired tests.
        command: the command line recorded in the footer.
        prefer: which run a spec found in several runs is reported from: `newest` or one of the run directories.
        metrics: report only these metric columns (or metrics, for all their columns).

    Raises:
        FileNotFoundError: a missing run or input file.
        ValueError: a malformed input, an unknown format or metric, runs that cannot be merged
            (`IncompatibleRuns`), or several runs without `out`.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown report format(s) {sorted(unknown)}; choose from {', '.join(FORMATS)}")
    run_dirs = list(run_dir) if isinstance(run_dir, (list, tuple)) else [run_dir]
    if len(run_dirs) > 1 and out is None:
        raise ValueError("a report of several runs needs --out DIR")
    run = load_runs(run_dirs, prefer)
    if metrics:
        run = run.limited_to(metrics)
    latency_data = load_latency(latency) if latency is not None else None
    mushra_data = load_mushra(mushra) if mushra is not None else None
    claims_path = resolve_claims_path(str(claims)) if claims is not None else None
    claim_list = load_claims(claims_path) if claims_path is not None else None
    folder = _Folder.fresh(Path(out) if out is not None else run.root / "report")

    main = _main_sections(run, ci, alpha, group_by, folder)
    table, sections = main.table, main.sections
    robust = robustness_section(run, folder.figures, alpha, ci)
    if robust is not None:
        folder.csv(robust.table, table_file("robustness", ci))
        folder.csv(robust.paired, "robustness_paired.csv")
        sections.append(Section("Robustness", robust.blocks))
    if run.seed_columns:
        sections.append(Section("Seed spread", [_seed_grid(run)] + [
            plots.seed_spread(run.rows, run.specs, run.metric(m), c, folder.figures) for m, c in run.seed_columns.items()]))
    inputs = _inputs(run)
    if latency_data is not None:
        inputs[latency_data.source.name] = latency_data.sha256
        sections.append(_latency_section(run, table, latency_data, folder))
    claim_result = None
    if claim_list is not None:
        inputs[claims_path.name] = file_digest(claims_path)
        claim_result = check_claims(claim_list, table, run.metrics, latency_data)
        folder.csv(claim_result, "claims.csv")
        sections.append(Section("Claim-check", [claims_grid(claim_result, run.metrics)]))
    correlation_result = _listener_sections(run, table, mushra, mushra_data, listening, folder, inputs, sections)
    sections.append(Section("Appendix: paired significance", [matrix_grid(main.tests, m, run.specs, alpha)
                                                              for m in run.metrics], appendix=True))
    if robust is not None:
        sections.append(Section("Appendix: robustness paired tests", robust.appendix, appendix=True))

    command_text = shlex.join(command if command is not None else sys.argv)
    settings = {"ci": ci.label, "alpha": alpha}
    title = " + ".join(s.root.name for s in run.sources)
    document = Document(f"codecbench report: {title}", sections, _footer(run, inputs, settings, command_text))
    _render(document, formats, folder)
    provenance = {"command": command_text, "written": datetime.now(timezone.utc).isoformat(), **_provenance(run),
                  "prefer": prefer, "inputs_sha256": inputs, "settings": settings, "group_by": group_by,
                  "paired_tests": main.covered.to_dict(orient="records")}
    folder.text("report.json", json.dumps(provenance, indent=2, default=str))
    return ReportResult(folder.path, folder.files, table, main.tests, main.covered, claim_result, correlation_result,
                        robust, document)
