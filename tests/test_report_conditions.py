"""`codecbench report` of a run with channel conditions: every spec under every condition is a compared system,
rate–quality curves and BD-rate never mix conditions, and a robustness section comes from `channel.robustness`."""

from __future__ import annotations

import pandas as pd
import pytest

from codecbench.channel import parse_channels
from codecbench.report import build_report
from codecbench.runner import run_benchmark

SPECS = ["opus@6", "opus@12", "codec2@2.4", "codec2@3.2"]


@pytest.fixture(scope="module")
def condition_report(short_selection, tmp_path_factory):
    """Two Opus and two Codec 2 operating points over a clean channel and at 10 % loss (3 real utterances)."""
    out = tmp_path_factory.mktemp("condition_report")
    run = run_benchmark(short_selection, SPECS, ["stoi"], out / "run", progress=False, seed=1,
                        channels=parse_channels(["clean,loss@10%"]))
    return run, build_report(run.out, out / "report", formats=("md", "tex"), command=["codecbench", "report"])


def test_each_spec_and_channel_is_a_system_with_the_summarys_means(condition_report):
    run, report = condition_report
    table = report.table.set_index("spec")
    assert list(table.index) == [label for spec in SPECS for label in (spec, f"{spec} · loss@10%")]
    assert list(report.table.columns[:3]) == ["spec", "channel", "codec"]
    summary = run.summary.set_index(["spec", "channel"])
    for spec in SPECS:
        for channel, label in (("clean", spec), ("loss@10%", f"{spec} · loss@10%")):
            assert table.loc[label, "channel"] == channel and table.loc[label, "n"] == 3
            assert table.loc[label, "stoi_mean"] == pytest.approx(summary.loc[(spec, channel), "stoi_mean"], abs=1e-12)
    assert (table.loc[[f"{s} · loss@10%" for s in SPECS], "stoi_mean"].to_numpy()
            < table.loc[SPECS, "stoi_mean"].to_numpy()).all()
    pairs = set(zip(report.significance["spec_a"], report.significance["spec_b"]))
    assert ("opus@6", "opus@6 · loss@10%") in pairs  # a spec is tested against itself under loss
    assert "opus@6 $\\cdot$ loss@10\\%" in (report.out / "report.tex").read_text()  # the label in LaTeX
    written = pd.read_csv(report.out / "table.csv")
    assert list(written["channel"]) == ["clean", "loss@10%"] * len(SPECS)


def test_curves_and_bd_rate_stay_within_one_condition(condition_report):
    _, report = condition_report
    bd = pd.read_csv(report.out / "bd_rate.csv")
    assert set(zip(bd["anchor"], bd["test"])) == {("opus", "codec2"), ("opus · loss@10%", "codec2 · loss@10%")}
    pareto = pd.read_csv(report.out / "pareto.csv")
    lossy = pareto["spec"].str.contains("loss@10%")
    assert pareto.loc[lossy, "pareto"].any() and pareto.loc[~lossy, "pareto"].any()  # a front per condition


def test_robustness_section_with_curves_and_table(condition_report):
    run, report = condition_report
    robustness = pd.read_csv(report.out / "robustness.csv").set_index(["spec", "condition"])
    summary = run.summary.set_index(["spec", "channel"])
    for spec in SPECS:
        lossy = robustness.loc[(spec, "loss@10%")]
        assert lossy["mean"] == pytest.approx(summary.loc[(spec, "loss@10%"), "stoi_mean"], abs=1e-12)
        assert lossy["drop_from_clean"] == pytest.approx(
            summary.loc[(spec, "clean"), "stoi_mean"] - summary.loc[(spec, "loss@10%"), "stoi_mean"], abs=1e-12)
    paired = pd.read_csv(report.out / "robustness_paired.csv")
    assert set(paired["condition"]) == {"clean", "loss@10%"} and (paired["n"] == 3).all()
    curve = report.out / "figures" / "stoi_vs_loss.png"
    assert curve.stat().st_size > 0 and curve.with_suffix(".pdf").is_file()
    markdown = (report.out / "report.md").read_text()
    assert "## Robustness" in markdown and "figures/stoi_vs_loss.png" in markdown
    assert "Robustness of stoi by channel" in markdown and "## Appendix: robustness paired tests" in markdown
    assert "channel (" not in markdown.split("Columns not reported", 1)[-1].split("\n", 1)[0]  # no longer left out


def test_a_clean_run_merges_with_a_condition_run(condition_report, short_selection, tmp_path):
    """The clean run's rows count as a clean channel: its spec keeps its name beside the condition run's systems."""
    from codecbench.report.merge import load_runs

    run, _ = condition_report
    plain = run_benchmark(short_selection, ["opus@24"], ["stoi"], tmp_path / "plain", progress=False, seed=1)
    merged = load_runs([run.out, plain.out])
    assert merged.specs[-1] == "opus@24" and "opus@6 · loss@10%" in merged.specs
    opus24 = merged.rows[merged.rows["spec"] == "opus@24"]
    assert set(opus24["channel"]) == {"clean"} and set(opus24["codec_spec"]) == {"opus@24"}


def test_input_conditions_report_the_end_to_end_scores(short_selection, tmp_path):
    """With input conditions the systems are spec x input, and `<metric>_e2e` (against the clean talker) is a
    reported metric column beside the metric's own (against the codec's input), in the table and the robustness."""
    from codecbench.channel.inputs import parse_inputs

    run = run_benchmark(short_selection, ["opus@6"], ["stoi"], tmp_path / "run", progress=False,
                        inputs=parse_inputs(["clean,white@10dB"]))
    report = build_report(run.out, tmp_path / "report", formats=("md",), command=["codecbench", "report"])
    table = report.table.set_index("spec")
    summary = run.summary.set_index(["spec", "input"])
    assert list(table.index) == ["opus@6", "opus@6 · white@10dB"] and list(table["input"]) == ["clean", "white@10dB"]
    for column in ("stoi", "stoi_e2e"):
        assert table.loc["opus@6 · white@10dB", f"{column}_mean"] == pytest.approx(
            summary.loc[("opus@6", "white@10dB"), f"{column}_mean"], abs=1e-12)
    assert table.loc["opus@6 · white@10dB", "stoi_e2e_mean"] != table.loc["opus@6 · white@10dB", "stoi_mean"]
    assert table.loc["opus@6", "stoi_e2e_mean"] == table.loc["opus@6", "stoi_mean"]  # clean input: the same pair
    robustness = pd.read_csv(report.out / "robustness.csv")
    assert set(robustness["metric"]) == {"stoi", "stoi_e2e"} and set(robustness["condition_column"]) == {"input"}


def test_robustness_intervals_follow_the_reports_ci_method(condition_report, tmp_path):
    """`--ci bca` gives BCa intervals in the robustness table too (robustness_bca.csv), the table's own means."""
    from codecbench.stats import CiMethod, mean_ci

    run, plain = condition_report
    method = CiMethod("bca", seed=3, resamples=2000)
    report = build_report(run.out, tmp_path, formats=("md",), ci=method)
    bca = pd.read_csv(report.out / "robustness_bca.csv").set_index(["spec", "condition"])
    t = pd.read_csv(plain.out / "robustness.csv").set_index(["spec", "condition"])
    rows = run.rows
    values = rows[(rows["spec"] == "opus@6") & (rows["channel"] == "loss@10%")]["stoi"].to_numpy()
    expected = mean_ci(values, method)
    assert bca.loc[("opus@6", "loss@10%"), "ci95_low"] == pytest.approx(expected.low, abs=1e-12)
    assert bca.loc[("opus@6", "loss@10%"), "mean"] == t.loc[("opus@6", "loss@10%"), "mean"]
    assert not (report.out / "robustness.csv").exists()
    assert "BCa bootstrap" in (report.out / "report.md").read_text().split("Robustness of stoi", 1)[1]
