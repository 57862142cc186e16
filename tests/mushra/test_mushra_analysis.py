"""BS.1534-3 post-screening and the statistics, on crafted ratings with known outcomes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mushra_helpers import ratings
from scipy import stats

from codecbench.listening_test.analysis import analyze, screen_listeners, validate_ratings


def excluded(table: pd.DataFrame) -> dict[str, str]:
    screening = screen_listeners(validate_ratings(table))
    return dict(zip(screening.excluded["listener"], screening.excluded["reason"]))


def test_exactly_15_percent_is_kept_and_more_is_excluded():
    low = {("L0", f"i{i}", "reference"): 85 for i in range(3)}  # 3 of 20 = 15 %: kept
    low |= {("L1", f"i{i}", "reference"): 70 for i in range(4)}  # 4 of 20 = 20 %: excluded
    out = excluded(ratings(3, 20, low))
    assert list(out) == ["L1"]
    assert "4 of 20" in out["L1"] and "hidden reference" in out["L1"]


def test_pymushra_one_bad_reference_rating_is_kept():
    """pyMUSHRA drops a listener for a single hidden-reference rating below 90; BS.1534-3 does not."""
    table = ratings(4, 10, {("L2", "i7", "reference"): 60})
    assert excluded(table) == {}
    screening = screen_listeners(validate_ratings(table)).listeners.set_index("listener")
    assert screening.loc["L2", "reference_below_90"] == 1 and not screening.loc["L2", "excluded"]


def test_mid_anchor_rule_with_the_25_percent_item_exemption():
    high = {}
    for listener, items in {"L1": ["i0", "i1", "i2"], "L2": ["i0", "i1"], "L3": ["i0"],
                            "L4": ["i3", "i4"], "L5": ["i3"]}.items():
        high |= {(listener, item, "lowpass@7k"): 95 for item in items}
    table = ratings(8, 10, high)
    screening = screen_listeners(validate_ratings(table))
    # i0: 3 of 8 listeners (37.5 %) rate its mid anchor > 90 -> not used; i1 and i3: exactly 25 % -> used
    assert screening.exempt_items == ["i0"]
    out = dict(zip(screening.excluded["listener"], screening.excluded["reason"]))
    assert sorted(out) == ["L1", "L4"]  # 2 of 9 used items each (22 %)
    assert "2 of 9" in out["L1"] and "lowpass@7k" in out["L1"]
    # without the exemption L2 would count 2 of 10 (20 %) and be excluded: it is kept with 1 of 9
    rows = screening.listeners.set_index("listener")
    assert rows.loc["L2", "anchor_above_90"] == 1 and rows.loc["L2", "anchor_items"] == 9


def test_training_rows_are_ignored(tmp_path):
    training = ratings(3, 5, {(f"L{n}", f"i{i}", "reference"): 10 for n in range(3) for i in range(5)},
                       phase="training")
    test = ratings(3, 5)
    result = analyze(pd.concat([training, test]), tmp_path, plots=False)
    assert result.screening.excluded.empty
    summary = result.summary.set_index("condition")
    assert summary.loc["reference", "n"] == 15 and summary.loc["reference", "mean"] == 100
    info = json.loads((tmp_path / "analysis.json").read_text())
    assert info["training_ratings_ignored"] == len(training) and info["test_ratings_analysed"] == len(test)


def test_summary_statistics_and_files(tmp_path):
    rng = np.random.default_rng(3)
    table = ratings(6, 5)
    table["rating"] = np.clip(table["rating"] + rng.integers(-8, 9, len(table)), 0, 100)
    table.loc[table["condition"] == "reference", "rating"] = 100
    x_values = [10, 20, 30, 40]
    extra = pd.DataFrame([{"listener": f"L{n}", "session": 1, "trial": 1, "item": "i0", "condition": "x",
                           "rating": v, "phase": "test", "timestamp": ""} for n, v in enumerate(x_values)])
    bad = ratings(1, 5, {("L0", f"i{i}", "reference"): 50 for i in range(5)}).assign(listener="BAD")
    table = pd.concat([table, extra, bad], ignore_index=True)
    table.to_csv(tmp_path / "ratings.csv", index=False)
    result = analyze(tmp_path / "ratings.csv", tmp_path / "out")

    out = tmp_path / "out"
    assert pd.read_csv(out / "excluded_listeners.csv").columns.tolist() == ["listener", "reason"]
    assert pd.read_csv(out / "excluded_listeners.csv")["listener"].tolist() == ["BAD"]
    summary = pd.read_csv(out / "summary.csv")
    assert summary.columns.tolist()[:7] == ["condition", "n", "mean", "ci95_low", "ci95_high", "median", "iqr"]
    assert summary["condition"].tolist()[:3] == ["reference", "lowpass@7k", "lowpass@3.5k"]
    ref = summary.set_index("condition").loc["reference"]
    assert (ref["n"], ref["mean"], ref["ci95_low"], ref["ci95_high"], ref["iqr"]) == (30, 100, 100, 100, 0)
    x = summary.set_index("condition").loc["x"]
    half = stats.t.ppf(0.975, 3) * np.std(x_values, ddof=1) / 2
    assert x["mean"] == 25 and x["median"] == 25 and x["iqr"] == 15
    assert x["ci95_low"] == pytest.approx(25 - half) and x["ci95_high"] == pytest.approx(25 + half)
    assert x["ci"] == "Student-t 95%"
    opus = table[(table["condition"] == "opus@12") & (table["listener"] != "BAD")]["rating"]
    assert summary.set_index("condition").loc["opus@12", "mean"] == pytest.approx(opus.mean())

    items = pd.read_csv(out / "item_summary.csv")
    assert set(items["item"]) == {f"i{i}" for i in range(5)} and (items.groupby("item").size() >= 5).all()
    anova = pd.read_csv(out / "anova.csv")
    assert anova["Source"].tolist() == ["condition", "item", "condition * item"]
    assert anova.set_index("Source").loc["condition", "p_unc"] < 1e-6
    pairs = pd.read_csv(out / "pairwise.csv")
    assert set(pairs["test"]) == {"paired t", "wilcoxon"}
    assert (pairs["p_holm"] >= pairs["p_unc"] - 1e-12).all()
    assert "x" not in set(pairs["A"]) | set(pairs["B"])  # blocks without every condition are left out
    for plot in ("ratings_by_condition.png", "ratings_by_item.png", "mean_ci.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.notes == []


def test_anova_needs_two_complete_listeners(tmp_path):
    result = analyze(ratings(1, 5), tmp_path, plots=False)
    assert result.anova is None and not (tmp_path / "anova.csv").exists()
    assert any("anova.csv not written" in note for note in result.notes)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop(columns="phase"), "lack the columns"),
    (lambda t: t.assign(rating=t["rating"].where(t.index != 3, 101)), "whole numbers"),
    (lambda t: t.assign(rating=t["rating"].astype(float).where(t.index != 3, 50.5)), "whole numbers"),
    (lambda t: t.assign(phase=t["phase"].where(t.index != 3, "warmup")), "unknown phase"),
    (lambda t: pd.concat([t, t.iloc[[0]]]), "duplicate ratings"),
])
def test_invalid_ratings_are_refused(change, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        analyze(change(ratings(2, 5)), tmp_path, plots=False)


def test_outputs_are_written_whatever_screening_leaves(tmp_path):
    slips = {(f"L{n}", "i0", "reference"): 70 for n in range(6)}  # one slip in 5 items (20 %) excludes everyone
    table = ratings(6, 5, slips)
    result = analyze(table, tmp_path / "screened", plots=True)
    assert len(result.screening.excluded) == 6 and result.summary["n"].eq(0).all()
    written = {p.name for p in (tmp_path / "screened").iterdir()}
    assert {"summary.csv", "item_summary.csv", "screening.csv", "excluded_listeners.csv", "analysis.json",
            "mean_ci.png"} <= written and "pairwise.csv" not in written
    assert any("no test-phase ratings of a kept listener" in note for note in result.notes)

    kept = analyze(table, tmp_path / "all", plots=False, screening=False)
    assert kept.screening.excluded.empty and kept.pairwise is not None
    assert kept.summary.set_index("condition").loc["reference", "n"] == 30


def test_no_inferential_test_below_the_minimum_and_cis_within_the_scale(tmp_path):
    table = ratings(2, 10, {("L1", "i0", "reference"): 80})  # one slip in 10 items: kept
    result = analyze(table, tmp_path, plots=False)
    assert result.pairwise is None and result.anova is None and not (tmp_path / "pairwise.csv").exists()
    assert any("fewer than the 6" in note for note in result.notes)
    reference = result.summary.set_index("condition").loc["reference"]
    assert reference["ci95_high"] == 100 and reference["mean"] == 99  # the t interval reaches 101.1: clipped
