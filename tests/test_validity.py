"""Metric validity: agreement statistics on the real ratings of Stahl et al. 2024 (shipped in full), and the
command end to end on the embedded two-item subset."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from codecbench.cli import main
from codecbench.ratings.stahl import STAHL2024, read_stahl
from codecbench.validity import Column, measure, systems_only

ROOT = STAHL2024.embedded


@pytest.fixture(scope="module")
def listeners():
    return systems_only(read_stahl(ROOT, filtered=True))


def test_a_metric_equal_to_the_listeners_agrees_perfectly_in_either_direction(listeners):
    mos = listeners.groupby(["item", "condition"], as_index=False)["rating"].mean()
    rng = np.random.default_rng(1)
    scores = mos.assign(oracle=mos["rating"], distance=-mos["rating"], noise=rng.normal(size=len(mos)))
    columns = [Column("oracle", "oracle", True), Column("distance", "distance", False), Column("noise", "noise", True)]
    v = measure(listeners, scores, columns, resamples=200, seed=0)
    table = v.table.set_index(["metric", "level", "correlation"])
    for metric in ("oracle", "distance"):  # a lower-is-better column that tracks listeners agrees at +1
        assert table.loc[(metric, "stimulus", "pearson"), "agreement"] == pytest.approx(1.0)
        assert table.loc[(metric, "condition", "spearman"), "agreement"] == pytest.approx(1.0)
        low = table.loc[(metric, "stimulus", "spearman"), "ci95_low"]
        assert 0.7 < low < 1.0  # resampled listeners disagree with the full panel's means a little
    noise = table.loc[("noise", "stimulus", "spearman")]
    assert noise["ci95_low"] < 0 < noise["ci95_high"] and noise["n"] == 112
    assert table.loc[("noise", "condition", "kendall"), "n"] == 7
    assert v.ranking["metric"].tolist()[-1] == "noise" and v.ranking.loc[2, "p_first"] == 0
    assert v.items == 16 and v.listeners == 19
    again = measure(listeners, scores, columns, resamples=200, seed=0)
    pd.testing.assert_frame_equal(v.table, again.table)  # seeded: the same CIs


def test_validity_command_on_the_embedded_subset(tmp_path, capsys):
    out = tmp_path / "validity"
    assert main(["validity", str(ROOT), "--out", str(out), "--metrics", "stoi,mel_distance", "--resamples", "100",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "7 systems (reference and anchors excluded), 2 items" in printed and "mel_distance" in printed
    info = json.loads((out / "validity.json").read_text())
    assert {e["listener"] for e in info["excluded_listeners"]} == {"6", "17"}
    table = pd.read_csv(out / "validity.csv")
    assert set(table["metric"]) == {"stoi", "mel_distance"} and set(table["level"]) == {"condition", "stimulus"}
    assert table.query("level == 'stimulus'")["n"].eq(14).all()
    scores = pd.read_csv(out / "scores" / "utterances.csv")
    ms = scores.set_index("spec")["delay_samples"] / 24  # the stimuli's rate: 24 kHz
    assert ms.filter(like="Proposed").eq(0).all()  # the authors time-aligned their codec's files
    assert ms["AudioDec"].between(8, 10).all()  # AudioDec's own delay (~9 ms) is still in its files
    assert scores["delay_method"].str.startswith("envelope").all() and scores["delay_flag"].isna().all()
    stimuli = pd.read_csv(out / "stimuli.csv")
    assert len(stimuli) == 14 and not stimuli["condition"].isin(["Reference", "Anchor"]).any()
    for name in ("validity_scatter.png", "validity_ranking.png", "listeners/summary.csv", "scores/utterances.csv"):
        assert (out / name).is_file(), name
    assert main(["validity", str(ROOT), "--out", str(out), "--metrics", "stoi,mel_distance", "--resamples", "100",
                 "--no-progress", "--no-plots", "--resume"]) == 0
    assert json.loads((out / "scores" / "run.json").read_text())["invocations"][-1]["todo"] == 0
