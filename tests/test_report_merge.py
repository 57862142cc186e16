"""Reports across runs (`codecbench report RUN_A RUN_B`) on real runs of the embedded sample, the report's layout,
and the fixed defects of the rankings (BD-rate points, overlap, monotony, reference columns) and of the tables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from codecbench.cli import main
from codecbench.report import build_report
from codecbench.report.merge import IncompatibleRuns, load_runs
from codecbench.report.plots import kbps_axis
from codecbench.report.rankings import bd_comparisons
from codecbench.report.sources import MetricColumn
from codecbench.stats import CiMethod
from run_helpers import SHORT_UTTERANCES, copy_utterances

BASELINES = ["opus@6", "opus@12"]
NEW_CODEC = ["codec2@2.4"]
METRICS = ["pesq_wb", "stoi"]


def _selection(librispeech_root, ids):
    from codecbench.datasets import Selection, select

    everything = select("librispeech", librispeech_root, "sample")
    by_id = {u.id: u for u in everything.utterances}
    return Selection(everything.dataset, everything.root, everything.split, [by_id[i] for i in ids])


def _run(selection, specs, out, metrics=METRICS):
    from codecbench.runner import run_benchmark

    run_benchmark(selection, specs, metrics, out, progress=False, command=["codecbench", "run", out.name])
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, librispeech_root):
    """Real runs over the 4 short sample utterances (PESQ-WB and STOI; about 20 s in all): baselines alone, the
    new codec alone, all of them in one run (metrics named in another order), the new codec over 3 of the 4
    utterances plus another one, the new codec over 2 other utterances, and Opus over a changed input file."""
    root = tmp_path_factory.mktemp("runs")
    four = _selection(librispeech_root, SHORT_UTTERANCES)
    others = ("1688-142285-0003", "2414-128291-0002")
    partial = _selection(librispeech_root, (*SHORT_UTTERANCES[:3], others[0]))
    changed = copy_utterances(librispeech_root, SHORT_UTTERANCES[:2], root / "changed-data")
    audio, rate = sf.read(changed / f"{SHORT_UTTERANCES[1]}.flac")
    sf.write(changed / f"{SHORT_UTTERANCES[1]}.flac", 0.5 * audio, rate)  # the same utterance, 6 dB quieter
    from codecbench.datasets import select

    return {"baselines": _run(four, BASELINES, root / "baselines"),
            "new": _run(four, NEW_CODEC, root / "new"),
            "all": _run(four, BASELINES + NEW_CODEC, root / "all", metrics=["stoi", "pesq_wb"]),
            "partial": _run(partial, NEW_CODEC, root / "partial"),
            "disjoint": _run(_selection(librispeech_root, others), NEW_CODEC, root / "disjoint"),
            "changed": _run(select("folder", changed), ["opus@6"], root / "changed-run", metrics=["pesq_wb"])}


@pytest.fixture(scope="module")
def merged(runs, tmp_path_factory):
    return build_report([runs["baselines"], runs["new"]], out=tmp_path_factory.mktemp("merged"),
                        command=["codecbench", "report", "merged"])


@pytest.fixture(scope="module")
def single(runs, tmp_path_factory):
    return build_report(runs["all"], out=tmp_path_factory.mktemp("single"), command=["codecbench", "report", "all"])


def _copy(run: Path, tmp_path: Path, edit) -> Path:
    copy = tmp_path / run.name
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("report"))
    info = json.loads((copy / "run.json").read_text())
    edit(info)
    (copy / "run.json").write_text(json.dumps(info))
    return copy


def test_merged_report_equals_the_report_of_one_run_holding_everything(merged, single):
    pd.testing.assert_frame_equal(merged.table, single.table)  # means, CIs, n, errors
    pd.testing.assert_frame_equal(merged.significance, single.significance)  # paired p, Holm
    assert list(merged.table["spec"]) == BASELINES + NEW_CODEC
    assert merged.significance["n_pairs"].eq(4).all() and len(merged.significance) == 2 * 3


@pytest.fixture(scope="module")
def bca_reports(runs, tmp_path_factory):
    """BCa-interval reports of the two runs merged and of the one run holding everything."""
    bca = CiMethod("bca", seed=1, resamples=1000)
    out = tmp_path_factory.mktemp("bca")
    return (build_report([runs["baselines"], runs["new"]], out=out / "merged", formats=("md",), ci=bca),
            build_report(runs["all"], out=out / "single", formats=("md",), ci=bca))


def test_merged_bca_intervals_equal_the_single_runs(bca_reports):
    merged_bca, single_bca = bca_reports
    pd.testing.assert_frame_equal(merged_bca.table, single_bca.table)


def test_report_json_records_every_source_run(merged, runs):
    record = json.loads((merged.out / "report.json").read_text())
    assert [r["run"] for r in record["runs"]] == [str(runs["baselines"]), str(runs["new"])]
    assert [r["specs"] for r in record["runs"]] == [BASELINES, NEW_CODEC]
    for entry, name in zip(record["runs"], ("baselines", "new")):
        info = json.loads((runs[name] / "run.json").read_text())
        assert entry["manifest_sha256"] == info["dataset"]["manifest_sha256"] and entry["manifest_verified"] is True
        assert entry["command"] == info["command"] and entry["versions"] == info["versions"]
        assert entry["metrics"]["pesq_wb"]["version"] == info["metrics"]["pesq_wb"]["version"]
    assert record["paired_tests"][0] == {"metric": "pesq_wb", "specs": 3, "utterances": 4, "shared": 4,
                                         "not_compared": ""}
    md = (merged.out / "report.md").read_text()
    assert f"Run directory: {runs['baselines']}" in md and f"Run directory: {runs['new']}" in md
    assert "Rows join on (utterance, input SHA-256)" in md


def test_paired_tests_use_only_utterances_every_spec_scored(runs, tmp_path):
    result = build_report([runs["baselines"], runs["partial"]], out=tmp_path, formats=("md",))
    covered = result.coverage.set_index("metric")
    assert covered.loc["pesq_wb", "shared"] == 3 and covered.loc["pesq_wb", "utterances"] == 5
    assert result.significance["n_pairs"].eq(3).all()
    rows = load_runs([runs["baselines"], runs["partial"]]).rows
    shared = rows[rows["utterance"].isin(SHORT_UTTERANCES[:3])]
    pivot = shared.pivot(index="utterance", columns="spec", values="pesq_wb")
    test = result.significance.query("metric == 'pesq_wb' and spec_a == 'opus@6' and spec_b == 'codec2@2.4'").iloc[0]
    assert test["p_value"] == pytest.approx(stats.wilcoxon(pivot["opus@6"], pivot["codec2@2.4"]).pvalue)
    md = (tmp_path / "report.md").read_text()
    assert "Paired tests use the 3 of 5 utterances that all 3 compared specs scored." in md
    table = result.table.set_index("spec")  # means stay over each spec's own utterances
    assert table.loc["codec2@2.4", "n"] == 4 and table.loc["opus@6", "n"] == 4


def test_rows_join_on_utterance_and_input_sha256(runs):
    merged = load_runs([runs["baselines"], runs["partial"]])
    manifest = pd.read_csv(runs["partial"] / "manifest.csv").set_index("utterance")["sha256"]
    part = merged.rows[merged.rows["spec"] == "codec2@2.4"]
    assert (part["input_sha256"] == part["utterance"].map(manifest)).all()
    assert merged.rows.groupby("utterance")["input_sha256"].nunique().eq(1).all()
    assert merged.spec_sources == {"opus@6": 0, "opus@12": 0, "codec2@2.4": 1}


def test_a_run_over_a_changed_input_is_refused(runs):
    with pytest.raises(IncompatibleRuns, match=f"utterance {SHORT_UTTERANCES[1]} differs in content between runs"):
        load_runs([runs["baselines"], runs["changed"]])


def test_runs_sharing_no_utterance_are_refused(runs):
    with pytest.raises(IncompatibleRuns, match="shares no utterance with"):
        load_runs([runs["baselines"], runs["disjoint"]])


def test_different_metric_versions_are_refused(runs, tmp_path):
    def older_pesq(info):
        info["metrics"]["pesq_wb"]["version"] = "0.0.1"

    copy = _copy(runs["new"], tmp_path, older_pesq)
    with pytest.raises(IncompatibleRuns, match="scored metric pesq_wb with different versions: .* vs '0.0.1'"):
        load_runs([runs["baselines"], copy])


def test_a_different_working_rate_is_refused(runs, tmp_path):
    def narrowband(info):
        info["config"]["working_rate"] = 8000

    copy = _copy(runs["new"], tmp_path, narrowband)
    with pytest.raises(IncompatibleRuns, match="differ in working_rate: 16000 vs 8000"):
        load_runs([runs["baselines"], copy])


def test_the_same_spec_twice_needs_prefer(runs, tmp_path):
    with pytest.raises(ValueError, match="spec opus@6 is in runs .* --prefer newest or --prefer RUN"):
        load_runs([runs["baselines"], runs["all"]])
    newest = load_runs([runs["baselines"], runs["all"]], prefer="newest")  # `all` finished after `baselines`
    assert newest.spec_sources == {"opus@6": 1, "opus@12": 1, "codec2@2.4": 1}
    chosen = load_runs([runs["baselines"], runs["all"]], prefer=str(runs["baselines"]))
    assert chosen.spec_sources == {"opus@6": 0, "opus@12": 0, "codec2@2.4": 1}
    with pytest.raises(ValueError, match="not one of the runs given"):
        load_runs([runs["baselines"], runs["all"]], prefer=str(tmp_path))


def test_report_layout_puts_the_main_table_and_figure_first(merged):
    md = (merged.out / "report.md").read_text()
    order = [md.index(h) for h in ("## Results", "**Results per codec spec**", "figures/rate_quality.png",
                                   "## Rankings", "## Per-metric detail", "## Appendix: paired significance",
                                   "**Paired significance: pesq_wb**")]
    assert order == sorted(order)
    html = (merged.out / "report.html").read_text()
    assert "<details><summary>Paired significance: pesq_wb</summary>" in html
    assert html.index("Results per codec spec") < html.index("<details>")


def test_primary_metrics_come_first_in_report_and_summary(single, runs):
    """The run named stoi before pesq_wb: the table, summary.csv and the printed summary put PESQ-WB first."""
    grid = single.document.sections[0].blocks[0]
    assert grid.header[4:] == ["pesq_wb ↑", "stoi ↑"]
    summary = pd.read_csv(runs["all"] / "summary.csv")
    assert summary.columns.get_loc("pesq_wb_mean") < summary.columns.get_loc("stoi_mean")
    assert list(pd.read_parquet(runs["all"] / "utterances.parquet").columns).index("stoi") < list(
        pd.read_parquet(runs["all"] / "utterances.parquet").columns).index("pesq_wb")  # the row contract keeps run order
    from codecbench.summary import format_summary, metric_order, summarize

    assert metric_order(["lsd", "ref_dnsmos_ovrl", "stoi", "dnsmos_ovrl", "visqol", "pesq_wb", "estoi"]) == [
        "pesq_wb", "stoi", "estoi", "visqol", "dnsmos_ovrl", "lsd", "ref_dnsmos_ovrl"]
    rows = pd.read_parquet(runs["all"] / "utterances.parquet")
    header = format_summary(summarize(rows, ["stoi", "pesq_wb"]), ["stoi", "pesq_wb"]).splitlines()[0]
    assert header.index("pesq_wb") < header.index("stoi")


def test_metrics_option_limits_the_report(runs, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["report", str(runs["baselines"]), str(runs["new"]), "--out", str(out), "--metrics", "stoi",
                 "--format", "md,html"]) == 0
    printed = capsys.readouterr().out
    assert "stoi ↑" in printed and "pesq_wb" not in printed
    assert set(pd.read_csv(out / "significance.csv")["metric"]) == {"stoi"}
    assert not (out / "figures" / "rate_quality_pesq_wb.png").exists()
    assert main(["report", str(runs["baselines"]), "--out", str(tmp_path / "x"), "--metrics", "visqol"]) == 2
    assert "--metrics visqol: not a metric of the report" in capsys.readouterr().err


def test_cli_errors_are_one_line(runs, capsys, tmp_path):
    assert main(["report", str(runs["baselines"]), str(runs["new"])]) == 2
    assert capsys.readouterr().err.strip().endswith("a report of several runs needs --out DIR")
    assert main(["report", str(runs["baselines"]), str(runs["changed"]), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "differs in content" in err and not (tmp_path / "r").exists()


def test_log_rate_axis_is_labelled_in_plain_kbps():
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([1.2, 2.4, 6.0, 12.0], [1, 2, 3, 4])
    kbps_axis(ax, np.array([1.2, 2.4, 6.0, 12.0]))
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1.5", "3", "6", "12"]
    assert [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()] == []


def _family_table(points: dict[str, list[tuple[float, float]]]) -> pd.DataFrame:
    return pd.DataFrame([{"spec": f"{codec}@{rate}", "codec": codec, "measured_kbps_mean": rate, "q_mean": q}
                         for codec, pts in points.items() for rate, q in pts])


QUALITY = MetricColumn("q", "q", True, (0.0, 1.0))


def test_bd_rate_needs_four_points_per_curve():
    """The audit's case: 2-point families gave −46 % from a straight line."""
    two = _family_table({"a": [(1.5, 0.70), (3.0, 0.80)], "b": [(1.6, 0.72), (3.2, 0.79)]})
    row = bd_comparisons(two, [QUALITY]).iloc[0]
    assert np.isnan(row["bd_rate_pct"]) and np.isnan(row["bd_quality"])
    assert "a: 2 scored points, a BD curve needs at least 4" in row["note"]
    four = _family_table({"a": [(1.5, 0.70), (3.0, 0.78), (6.0, 0.84), (12.0, 0.88)],
                          "b": [(1.2, 0.70), (2.4, 0.78), (4.8, 0.84), (9.6, 0.88)]})
    assert bd_comparisons(four, [QUALITY]).iloc[0]["bd_rate_pct"] == pytest.approx(-20.0)


def test_bd_rate_refuses_a_small_overlap():
    """Quality ranges overlapping by a sliver (0.80–0.802 of 0.70–0.88) give no BD-rate; the overlap is reported."""
    table = _family_table({"a": [(1.5, 0.70), (3.0, 0.75), (6.0, 0.78), (12.0, 0.802)],
                           "b": [(1.5, 0.80), (3.0, 0.83), (6.0, 0.86), (12.0, 0.88)]})
    row = bd_comparisons(table, [QUALITY]).iloc[0]
    assert row["quality_overlap"] == pytest.approx(0.002 / 0.18)
    assert np.isnan(row["bd_rate_pct"]) and "quality ranges overlap 1.1% < 75%: no BD-rate" in row["note"]
    assert np.isfinite(row["bd_quality"])  # the rate ranges overlap fully


def test_bd_rate_refuses_quality_falling_with_rate():
    """The audit's case: DNSMOS 1.834 -> 1.742 while the rate doubles (monotone, but the wrong way)."""
    table = _family_table({"a": [(1.5, 1.6), (3.0, 1.7), (6.0, 1.8), (12.0, 1.9)],
                           "b": [(1.5, 1.95), (3.0, 1.834), (6.0, 1.742), (12.0, 1.65)]})
    row = bd_comparisons(table, [QUALITY]).iloc[0]
    assert np.isnan(row["bd_rate_pct"]) and np.isnan(row["bd_quality"])
    assert "b: q does not improve as the rate rises (1.950 at 1.50 kbps, 1.834 at 3.00 kbps)" in row["note"]
    distance = MetricColumn("q", "q", False, (0.0, 5.0))  # for a lower-is-better metric falling is improving
    assert "b: q does not improve" not in bd_comparisons(table, [distance]).iloc[0]["note"]


def test_reference_columns_are_reported_apart_and_never_ranked(runs, tmp_path):
    """`ref_*` columns (the reference input's own score, the same for every spec) are neither bolded, tested,
    put on Pareto fronts nor BD-rated; they get their own table."""
    def with_reference_score(info):
        info["metrics"]["dnsmos"] = {**info["metrics"]["stoi"], "columns": ["dnsmos_ovrl", "ref_dnsmos_ovrl"],
                                     "scores_reference": True, "value_range": [1.0, 5.0]}

    copy = _copy(runs["all"], tmp_path, with_reference_score)
    rows = pd.read_parquet(copy / "utterances.parquet")
    rows["dnsmos_ovrl"] = 1 + 2 * rows["stoi"]
    rows["ref_dnsmos_ovrl"] = rows.groupby("utterance")["stoi"].transform("max") + 2.5  # one value per utterance
    rows.to_parquet(copy / "utterances.parquet", index=False)
    result = build_report(copy, formats=("md",))
    assert "ref_dnsmos_ovrl" not in set(result.significance["metric"]) and "dnsmos_ovrl" in set(result.significance["metric"])
    assert "ref_dnsmos_ovrl" not in set(pd.read_csv(result.out / "pareto.csv")["metric"])
    assert "ref_dnsmos_ovrl" not in set(pd.read_csv(result.out / "bd_rate.csv")["metric"])
    grid = result.document.sections[0].blocks[0]
    assert not any("ref_dnsmos" in h for h in grid.header)
    reference = pd.read_csv(result.out / "reference.csv")
    expected = rows.drop_duplicates("utterance")["ref_dnsmos_ovrl"]
    assert reference.loc[0, "n_inputs"] == 4 and reference.loc[0, "ref_dnsmos_ovrl_mean"] == pytest.approx(expected.mean())
    assert "Scores of the reference input itself" in (result.out / "report.md").read_text()


def test_interval_method_is_named_in_the_tables(runs, single, bca_reports):
    summary = pd.read_csv(runs["all"] / "summary.csv")
    assert set(pd.read_csv(single.out / "table.csv")["ci"]) == set(summary["ci"]) == {"Student-t 95%"}
    bca = bca_reports[1]
    assert not (bca.out / "table.csv").exists()
    assert set(pd.read_csv(bca.out / "table_bca.csv")["ci"]) == {"BCa bootstrap 95% (1000 resamples, seed 1)"}


def test_per_metric_n_is_shown_where_it_differs_from_the_rows(runs, tmp_path):
    copy = tmp_path / "failed"
    shutil.copytree(runs["all"], copy, ignore=shutil.ignore_patterns("report"))
    rows = pd.read_parquet(copy / "utterances.parquet")
    failed = (rows["spec"] == "opus@6") & (rows["utterance"] == SHORT_UTTERANCES[0])
    rows.loc[failed, "pesq_wb"] = np.nan
    rows.loc[failed, "error"] = "pesq_wb: no utterances detected"
    rows.to_parquet(copy / "utterances.parquet", index=False)
    result = build_report(copy, formats=("md",))
    row = next(r for r in result.document.sections[0].blocks[0].rows if r[0].text == "opus@6")
    assert row[1].text == "4" and row[2].text == "1"
    assert row[4].text.endswith("(n = 3)") and not row[5].text.endswith(")")
