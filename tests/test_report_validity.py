"""The report's "Which metrics to trust" section: the shipped validity table, the verdict for generative codecs,
and the user's own table with --mushra."""

from __future__ import annotations

import shutil

import pandas as pd

from codecbench.cli import main
from codecbench.listening_test.analysis import analyze
from codecbench.pairs import Pair, score_pairs
from codecbench.ratings.stahl import STAHL2024, read_stahl
from codecbench.report.validity import SHIPPED, SUPPORT_CONDITION_RHO, meeting_target

AUDIO = STAHL2024.embedded / "audio"


def test_section_names_supported_and_contradicted_metrics_for_generative_codecs(tmp_path):
    pairs = [Pair(s, "lyra", AUDIO / s / "ref.flac", AUDIO / s / "lyra_6.flac") for s in ("stim_01", "stim_02")]
    metrics = ["pesq_wb", "mel_distance", "stoi"]
    score_pairs(pairs, metrics, tmp_path / "run", "test", progress=False)
    ratings = read_stahl(STAHL2024.embedded)
    analyze(ratings.contract(), tmp_path / "mine" / "listeners", reference="Reference", mid_anchor=None, plots=False)
    shutil.copy(SHIPPED, tmp_path / "mine" / "validity.csv")  # a `codecbench validity` output's table
    assert main(["report", str(tmp_path / "run"), "--format", "md", "--mushra", str(tmp_path / "mine" / "listeners"),
                 "--out", str(tmp_path / "report")]) == 0
    text = (tmp_path / "report" / "report.md").read_text()
    section = text[text.index("## Which metrics to trust"):]
    assert "Stahl, Windtner & Sontacchi" in section and "Agreement with your listeners" in section
    assert ("No metric here reaches" in section) == (not meeting_target(pd.read_csv(SHIPPED)))
    verdict = next(line for line in section.splitlines() if line.startswith("This run holds generative codecs (lyra)"))
    supported = verdict.split(" supports ")[1].split(" (condition")[0]
    contradicted = verdict.split(" contradicts ")[1].split(" (condition")[0]
    spearman = pd.read_csv(SHIPPED).query("correlation == 'spearman'").set_index(["metric", "level"])["agreement"]
    low = pd.read_csv(SHIPPED).query("correlation == 'spearman'").set_index(["metric", "level"])["ci95_low"]
    for metric in metrics:
        condition = spearman[(metric, "condition")]
        supports = condition >= SUPPORT_CONDITION_RHO and low[(metric, "stimulus")] > 0
        assert (metric in supported.split(", ")) == supports
        assert (metric in contradicted.split(", ")) == (condition <= 0)


def test_the_report_reads_the_committed_measurement():
    from pathlib import Path

    committed = Path(__file__).resolve().parents[1] / "results" / "metric_validity.csv"
    assert SHIPPED.read_bytes() == committed.read_bytes()  # the package's copy is results/metric_validity.csv
    table = pd.read_csv(SHIPPED)
    assert set(table.groupby("level")["n"].unique().map(tuple)) == {(7,), (112,)}  # 7 systems, 16 items
    assert table.groupby(["metric", "level"]).size().eq(3).all() and table["rank"].notna().all()
