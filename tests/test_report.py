"""`codecbench report` on a real run: tables, CIs, significance, rankings, plots, claim-check, MUSHRA correlation."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from codecbench.cli import main
from codecbench.report import build_report
from codecbench.report.claims import load_claims, shipped_claims
from codecbench.report.rankings import bd_comparisons, pareto_front
from codecbench.report.merge import load_runs
from codecbench.report.sources import MetricColumn
from codecbench.stats import CiMethod, mean_ci

SPECS = ["opus@6", "opus@12", "codec2@2.4", "codec2@1.2", "lowpass@3.5k"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, librispeech_root):
    """A real run: 5 specs x 4 utterances of the embedded sample, PESQ-WB and STOI (a few seconds)."""
    from codecbench.datasets import select
    from codecbench.runner import run_benchmark

    out = tmp_path_factory.mktemp("run")
    selection = select("librispeech", librispeech_root, "sample", limit=4)
    run_benchmark(selection, SPECS, ["pesq_wb", "stoi"], out, progress=False, command=["codecbench", "run", "test"])
    return out


@pytest.fixture(scope="module")
def inputs(run_dir, tmp_path_factory):
    """Crafted MUSHRA summary, latency.csv and claims whose answers follow from the run's own rows."""
    folder = tmp_path_factory.mktemp("inputs")
    rows = pd.read_parquet(run_dir / "utterances.parquet")
    pesq = rows.groupby("spec")["pesq_wb"].mean()
    # MUSHRA means a strictly increasing function of the PESQ means: rank correlations must be exactly 1.
    mushra = pd.DataFrame({"condition": SPECS, "n": 40, "mean": [10 + 12 * pesq[s] ** 1.5 for s in SPECS]})
    mushra["ci95_low"], mushra["ci95_high"] = mushra["mean"] - 5, mushra["mean"] + 5
    mushra["median"], mushra["iqr"] = mushra["mean"], 10.0
    mushra.to_csv(folder / "summary.csv", index=False)
    latency = pd.DataFrame({"spec": ["opus@6", "opus@6", "codec2@2.4"], "setting": ["3s_batch1"] * 3,
                            "stage": ["encode", "decode", "total"], "p50_ms": [1.5, 2.0, 4.0],
                            "p95_ms": [2.0, 2.5, 5.0], "rtf": [0.001, 0.001, 0.002]})
    latency.to_csv(folder / "latency.csv", index=False)
    opus6 = rows.loc[rows["spec"] == "opus@6", "pesq_wb"].mean()
    (folder / "claims.yaml").write_text(f"""
source: crafted
claims:
  - {{codec: opus, bitrate_kbps: 6, metric: pesq_wb, value: {opus6:.6f}}}
  - {{codec: opus, bitrate_kbps: 12, metric: pesq_wb, value: 4.5}}
  - {{codec: opus, bitrate_kbps: 64, metric: pesq_wb, value: 4.0}}
  - {{codec: lyra, bitrate_kbps: 3.2, metric: pesq_wb, value: 2.5}}
  - {{spec: opus@6, metric: visqol, value: 3.0}}
  - {{codec: opus, bitrate_kbps: 6, metric: latency_ms, value: 5.0}}
""")
    return folder


@pytest.fixture(scope="module")
def report(run_dir, inputs):
    return build_report(run_dir, latency=inputs, mushra=inputs, claims=inputs / "claims.yaml", group_by="speaker",
                        command=["codecbench", "report", "test"])


def test_writes_every_format_and_figure(report, run_dir):
    out = run_dir / "report"
    assert report.out == out
    for name in ("report.md", "report.tex", "report.html", "report.json", "table.csv", "significance.csv",
                 "pareto.csv", "bd_rate.csv", "claims.csv", "correlation.csv", "table_by_speaker.csv"):
        assert (out / name).stat().st_size > 0, name
    for stem in ("rate_quality_pesq_wb", "rate_quality_stoi", "distribution_pesq_wb", "latency_quality_pesq_wb",
                 "mushra_means", "mushra_vs_stoi"):
        assert (out / "figures" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / "figures" / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"


def test_tables_list_every_spec(report, run_dir):
    out = run_dir / "report"
    md, tex, html = ((out / n).read_text() for n in ("report.md", "report.tex", "report.html"))
    for spec in SPECS:
        assert f"| {spec} |" in md
        assert spec in tex and spec in html
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert "pesq\\_wb" in tex and "$\\uparrow$" in tex
    assert 'src="data:image/png;base64,' in html and "<img" in html and 'src="figures/' not in html


def test_table_value_equals_pandas_recomputation(report, run_dir):
    rows = pd.read_parquet(run_dir / "utterances.parquet")
    table = pd.read_csv(run_dir / "report" / "table.csv").set_index("spec")
    for spec in SPECS:
        part = rows[rows["spec"] == spec]
        assert table.loc[spec, "pesq_wb_mean"] == pytest.approx(part["pesq_wb"].mean(), rel=1e-12)
        assert table.loc[spec, "measured_kbps_mean"] == pytest.approx(part["measured_kbps"].mean(), rel=1e-12)
        assert table.loc[spec, "n"] == len(part) == 4
    md = (run_dir / "report" / "report.md").read_text()
    assert f"{rows[rows['spec'] == 'opus@12']['stoi'].mean():.3f} [" in md


def test_ci_is_the_run_summarys_to_the_printed_digit(report, run_dir):
    """The report and the run's summary.csv print the same interval (one routine: codecbench.stats)."""
    summary = pd.read_csv(run_dir / "summary.csv").set_index("spec")
    table = report.table.set_index("spec")
    md = (run_dir / "report" / "report.md").read_text()
    for spec in SPECS:
        for column in ("pesq_wb", "stoi", "measured_kbps"):
            for suffix in ("mean", "ci95_low", "ci95_high"):
                assert table.loc[spec, f"{column}_{suffix}"] == pytest.approx(summary.loc[spec, f"{column}_{suffix}"],
                                                                              rel=1e-12, abs=1e-12)
        low, high = (summary.loc[spec, f"stoi_ci95_{s}"] for s in ("low", "high"))
        assert f"{summary.loc[spec, 'stoi_mean']:.3f} [{low:.3f}, {high:.3f}]" in md
    assert set(summary["ci"]) == {"Student-t 95%"} and "Student-t 95%" in md
    values = pd.read_parquet(run_dir / "utterances.parquet").query("spec == 'opus@12'")["pesq_wb"].to_numpy()
    low, high = stats.t.interval(0.95, values.size - 1, loc=values.mean(), scale=stats.sem(values))
    assert table.loc["opus@12", "pesq_wb_ci95_low"] == pytest.approx(low, rel=1e-12)
    assert table.loc["opus@12", "pesq_wb_ci95_high"] == pytest.approx(high, rel=1e-12)


def test_bca_bootstrap_on_request(run_dir, tmp_path):
    rows = pd.read_parquet(run_dir / "utterances.parquet")
    values = rows.loc[rows["spec"] == "opus@12", "pesq_wb"].to_numpy()
    expected = stats.bootstrap((values,), np.mean, n_resamples=2000, method="BCa",
                               rng=np.random.default_rng(3)).confidence_interval
    result = build_report(run_dir, out=tmp_path, formats=("md",), ci=CiMethod("bca", seed=3, resamples=2000))
    row = result.table.set_index("spec").loc["opus@12"]
    assert row["pesq_wb_ci95_low"] == pytest.approx(expected.low, rel=1e-12)
    assert row["pesq_wb_ci95_high"] == pytest.approx(expected.high, rel=1e-12)
    assert "BCa bootstrap 95% (2000 resamples, seed 3)" in (tmp_path / "report.md").read_text()


def test_mean_ci_edge_cases_and_bootstrap_agreement():
    values = np.random.default_rng(7).normal(3.0, 0.4, 400)
    t = mean_ci(values)
    bca = mean_ci(values, CiMethod("bca"))
    assert bca.low == pytest.approx(t.low, abs=0.01) and bca.high == pytest.approx(t.high, abs=0.01)
    assert mean_ci(np.array([2.0, np.nan])).n == 1 and np.isnan(mean_ci(np.array([2.0])).low)
    assert mean_ci(np.full(5, 1.5)).low == 1.5
    with pytest.raises(ValueError, match="select one of"):
        CiMethod("normal")


def test_bold_marks_the_direction_aware_best(report, run_dir):
    md = (run_dir / "report" / "report.md").read_text()
    table = report.table.set_index("spec")
    best = table["pesq_wb_mean"].idxmax()
    assert re.search(rf"\| {re.escape(best)} \|[^\n]*\*\*{table.loc[best, 'pesq_wb_mean']:.2f} \[", md)
    grid = report.document.sections[0].blocks[0]
    bold = {(row[0].text, grid.header[i]) for row in grid.rows for i, cell in enumerate(row) if cell.bold}
    assert bold == {(table["pesq_wb_mean"].idxmax(), "pesq_wb ↑"), (table["stoi_mean"].idxmax(), "stoi ↑")}
    # a lower-is-better view of the same numbers bolds the other end
    from codecbench.report.tables import best_specs

    lower = MetricColumn("pesq_wb", "pesq_wb", False, (1.04, 4.64))
    assert best_specs(report.table, lower) == {table["pesq_wb_mean"].idxmin()}
    assert r"\textbf{" in (run_dir / "report" / "report.tex").read_text()


def test_significance_is_paired_and_holm_corrected(report):
    tests = report.significance
    assert set(tests["metric"]) == {"pesq_wb", "stoi"} and len(tests) == 2 * 10
    row = tests[(tests["metric"] == "pesq_wb") & (tests["spec_a"] == "opus@6") & (tests["spec_b"] == "opus@12")].iloc[0]
    assert row["n_pairs"] == 4 and row["better"] == "opus@12"
    run = load_runs([report.out.parent])
    pivot = run.rows.pivot(index="utterance", columns="spec", values="pesq_wb")
    assert row["p_value"] == pytest.approx(stats.wilcoxon(pivot["opus@6"], pivot["opus@12"]).pvalue)
    from statsmodels.stats.multitest import multipletests

    block = tests[tests["metric"] == "pesq_wb"]
    np.testing.assert_allclose(block["p_holm"], multipletests(block["p_value"], method="holm")[1])
    md = (report.out / "report.md").read_text()
    assert "Paired significance: pesq_wb" in md and "Holm" in md and "†" in md


def test_claim_check_of_crafted_claims(report):
    exact = report.claims.iloc[0]
    assert exact["spec"] == "opus@6" and exact["within_ci"] == "yes" and abs(exact["difference"]) < 1e-6
    assert report.claims.iloc[1]["within_ci"] == "no" and report.claims.iloc[1]["difference"] < -1
    assert report.claims.iloc[2]["status"].startswith("not measured at 64 kbps")
    assert report.claims.iloc[3]["status"] == "not measured: lyra is not in this run"
    assert "visqol is not a result column" in report.claims.iloc[4]["status"]
    latency = report.claims.iloc[5]
    assert latency["measured"] == pytest.approx(3.5) and latency["difference"] == pytest.approx(-1.5)
    assert len(report.claims) == 6


def test_shipped_claims_file(run_dir, tmp_path):
    claims = load_claims(shipped_claims("seed_papers"))
    assert {(c.metric, c.value) for c in claims} >= {("pesq_wb", 3.204), ("stoi", 0.831), ("latency_ms", 46.23)}
    assert all(c.codec == "melvq-ddpm" and c.bitrate_kbps == 1.48 for c in claims)
    result = build_report(run_dir, out=tmp_path, formats=("md",), claims="seed_papers")
    assert (result.claims["status"].str.startswith("not measured")).all()
    assert "Claim-check" in (tmp_path / "report.md").read_text()


def test_bad_claims_file_names_the_problem(run_dir, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("claims:\n  - {codec: opus, metric: pesq_wb, value: 3.0}\n")
    with pytest.raises(ValueError, match="claim 1 misses source"):
        load_claims(bad)
    bad.write_text("claims:\n  - {codec: opus, metric: pesq_wb, value: 3.0, source: x, bitrate: 6}\n")
    with pytest.raises(ValueError, match="unknown keys"):
        load_claims(bad)


def test_correlation_with_crafted_mushra(report):
    corr = report.correlations.set_index("metric")
    assert corr.loc["pesq_wb", "n_conditions"] == 5
    assert corr.loc["pesq_wb", "spearman_rho"] == pytest.approx(1.0)
    assert corr.loc["pesq_wb", "kendall_tau"] == pytest.approx(1.0)
    means = report.table.set_index("spec")["pesq_wb_mean"].reindex(SPECS).to_numpy()
    mushra = 10 + 12 * means ** 1.5
    assert corr.loc["pesq_wb", "pearson_r"] == pytest.approx(np.corrcoef(means, mushra)[0, 1])
    assert "Objective metrics vs MUSHRA" in (report.out / "report.md").read_text()


def test_rankings_pareto_and_bd_rate(report):
    fronts = pd.read_csv(report.out / "pareto.csv")
    assert set(fronts.loc[fronts["metric"] == "pesq_wb", "spec"]) == set(SPECS)
    bd = pd.read_csv(report.out / "bd_rate.csv")
    assert list(bd["anchor"]) == ["opus", "opus"] and list(bd["test"]) == ["codec2", "codec2"]
    assert bd["note"].str.contains("opus: 2 scored points, a BD curve needs at least 4").all()
    assert bd["bd_rate_pct"].isna().all() and bd["rate_overlap"].eq(0).all()  # 1.2-2.4 vs 6-12 kbps


def _synthetic(points: dict[str, list[tuple[float, float]]]) -> pd.DataFrame:
    return pd.DataFrame([{"spec": f"{codec}@{rate}", "codec": codec, "measured_kbps_mean": rate, "q_mean": q}
                         for codec, pts in points.items() for rate, q in pts])


def test_bd_rate_known_answers():
    """A family needing exactly 20 % less rate for every quality has BD-rate −20 %; one scoring 0.3 higher at
    every rate has BD-quality +0.3 (exact for any interpolation); directions hold for lower-is-better metrics."""
    anchor = [(1.5, 1.8), (3.0, 2.4), (6.0, 3.0), (12.0, 3.5)]
    metric = MetricColumn("q", "q", True, (1.0, 4.5))
    cheaper = _synthetic({"a": anchor, "b": [(0.8 * r, q) for r, q in anchor]})
    assert bd_comparisons(cheaper, [metric]).iloc[0]["bd_rate_pct"] == pytest.approx(-20.0)
    better = _synthetic({"a": anchor, "b": [(r, q + 0.3) for r, q in anchor]})
    assert bd_comparisons(better, [metric]).iloc[0]["bd_quality"] == pytest.approx(0.3)
    distance = MetricColumn("q", "q", False, (0.0, 10.0))
    flipped = _synthetic({"a": [(r, -q) for r, q in anchor], "b": [(0.8 * r, -q) for r, q in anchor]})
    assert bd_comparisons(flipped, [distance]).iloc[0]["bd_rate_pct"] == pytest.approx(-20.0)
    wiggle = _synthetic({"a": anchor, "b": [(1.5, 2.0), (3.0, 1.9), (6.0, 3.2), (12.0, 3.6)]})
    assert "b: q does not improve as the rate rises" in bd_comparisons(wiggle, [metric]).iloc[0]["note"]


def test_pareto_front_is_direction_aware():
    table = _synthetic({"a": [(2, 2.0), (4, 3.0)], "b": [(3, 1.5), (6, 3.5)]})
    higher = pareto_front(table, MetricColumn("q", "q", True, (0, 5)))
    assert set(higher.loc[higher["pareto"], "spec"]) == {"a@2", "a@4", "b@6"}
    lower = pareto_front(table, MetricColumn("q", "q", False, (0, 5)))
    assert set(lower.loc[lower["pareto"], "spec"]) == {"a@2", "b@3"}


def test_unknown_columns_are_listed_and_seed_spread_is_reported(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("report"))
    rows = pd.read_parquet(copy / "utterances.parquet")
    rows["index_entropy_kbps"] = rows["measured_kbps"] * 0.9  # a column no registered metric produces
    rows["pesq_wb_seed_std"] = np.where(rows["codec"] == "opus", 0.05, np.nan)
    rows.to_parquet(copy / "utterances.parquet", index=False)
    run = load_runs([copy])
    assert [m.column for m in run.metrics] == ["pesq_wb", "stoi"]
    assert "index_entropy_kbps" in run.ignored and run.seed_columns == {"pesq_wb": "pesq_wb_seed_std"}
    result = build_report(copy, formats=("md",))
    md = (result.out / "report.md").read_text()
    assert "index_entropy_kbps (numeric, but no metric of this run produces it)" in md
    assert "Seed spread" in md and (result.out / "figures" / "seed_spread_pesq_wb.png").exists()


def test_a_run_reports_metrics_whose_plugin_is_not_installed(run_dir, tmp_path):
    """run.json records each metric's columns, direction and range: the report needs no plugin to read them."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("report"))
    rows = pd.read_parquet(copy / "utterances.parquet")
    rows["noise_db"] = -rows["pesq_wb"]  # lower is better, as its (uninstalled) metric declared
    rows.to_parquet(copy / "utterances.parquet", index=False)
    info = json.loads((copy / "run.json").read_text())
    info["config"]["metrics"].append("noise")
    info["metrics"]["noise"] = {**info["metrics"]["pesq_wb"], "columns": ["noise_db"], "higher_is_better": False,
                                "value_range": [-5.0, 0.0], "class": "gone_plugin.Noise", "distribution": "gone"}
    (copy / "run.json").write_text(json.dumps(info))
    run = load_runs([copy])
    assert run.metric("noise_db") == MetricColumn("noise_db", "noise", False, (-5.0, 0.0))
    table = build_report(copy, formats=("md",)).table.set_index("spec")
    assert table["noise_db_mean"].idxmin() == table["pesq_wb_mean"].idxmax()


def test_missing_run_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "utterances.parquet is missing" in capsys.readouterr().err


def test_cli_real_invocation(run_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["report", str(run_dir), "--format", "md,tex", "--out", str(out), "--claims", "seed_papers",
                 "--ci", "bca", "--resamples", "2000"]) == 0
    printed = capsys.readouterr().out
    assert "Results per codec spec" in printed and "Claim-check" in printed and "melvq-ddpm" in printed
    assert (out / "report.md").exists() and (out / "report.tex").exists() and not (out / "report.html").exists()
    assert "manifest sha256" in (out / "report.md").read_text() and "matches manifest.csv" in (out / "report.md").read_text()


def test_latex_escaping():
    from codecbench.report.latex import escape

    assert escape("[1] pesq_wb 50% --latency ↑ −1") == r"{}[1] pesq\_wb 50\% -{}-latency $\uparrow$ $-$1"
