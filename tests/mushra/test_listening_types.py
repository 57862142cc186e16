"""ACR, DCR, CCR and A/B tests: the analysis on data with known answers, the plans (every cell once, A/B and CCR
sides balanced and seeded), the answers the store accepts, `mushra build --type` and `mushra analyze --type`, and
the scripted panels through the real server."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from codecbench.benchmarks.choice_panel import panel
from codecbench.cli import main
from codecbench.listening_test.testdef import load_test
from codecbench.listening_test.types import type_of
from codecbench.listening_test.types.analysis import (acr_screening, analyze_type, bradley_terry,
                                                      category_screening, category_table, ccr_votes, comparisons,
                                                      mos_table, preference_table)


def pairs_table(counts: dict[tuple[str, str], tuple[int, int, int]]) -> pd.DataFrame:
    """Comparisons {(first, second): (first wins, second wins, ties)} as `comparisons` returns them."""
    rows = []
    for (first, second), (wins, losses, ties) in counts.items():
        rows += [{"first": first, "second": second, "outcome": outcome}
                 for outcome, n in ((1.0, wins), (0.0, losses), (0.5, ties)) for _ in range(n)]
    return pd.DataFrame(rows)


def ab_ratings(trials: list[tuple[str, str, str, int, int]]) -> pd.DataFrame:
    """A/B ratings rows from (listener, condition x, condition y, rating x, rating y), one trial each."""
    rows = []
    for number, (listener, x, y, rx, ry) in enumerate(trials, start=1):
        rows += [{"listener": listener, "session": 1, "trial": number, "item": f"i{number}", "condition": c,
                  "rating": r, "phase": "test", "timestamp": "t"} for c, r in ((x, rx), (y, ry))]
    return pd.DataFrame(rows)


# -- analysis: known answers ---------------------------------------------------------------------------------

def test_bradley_terry_recovers_worths_from_their_expected_wins():
    """Worths 4 : 2 : 1 make P(x over y) = 2/3, P(x over z) = 4/5, P(y over z) = 2/3; 15 comparisons per pair with
    exactly these shares are their own maximum-likelihood fit."""
    table, note = bradley_terry(pairs_table({("x", "y"): (10, 5, 0), ("x", "z"): (12, 3, 0), ("y", "z"): (10, 5, 0)}))
    assert note == "" and table["condition"].tolist() == ["x", "y", "z"] and table["rank"].tolist() == [1, 2, 3]
    assert np.allclose(table["worth"], [4 / 7, 2 / 7, 1 / 7], atol=1e-6)


def test_bradley_terry_counts_ties_half_and_stays_finite_for_an_unbeaten_condition():
    table, note = bradley_terry(pairs_table({("a", "b"): (3, 1, 2)}))  # a: 3 + 1 of 6 -> P(a over b) = 2/3
    assert note == "" and np.allclose(table.set_index("condition")["worth"][["a", "b"]], [2 / 3, 1 / 3], atol=1e-6)
    table, note = bradley_terry(pairs_table({("a", "b"): (5, 0, 0), ("b", "c"): (3, 1, 0)}))
    assert "one tie was added" in note and np.isfinite(table["worth"]).all()
    assert table["condition"].tolist() == ["a", "b", "c"]


def test_preference_shares_have_wilson_intervals_and_binomial_tests():
    table = preference_table(pairs_table({("a", "b"): (8, 2, 3), ("a", "c"): (5, 5, 0), ("b", "c"): (0, 0, 2)}))
    ab = table.iloc[0]
    assert (ab["n"], ab["first_wins"], ab["second_wins"], ab["ties"]) == (13, 8, 2, 3)
    z = stats.norm.ppf(0.975)  # Wilson (1927) for 8 of 10
    centre, half = (0.8 + z * z / 20) / (1 + z * z / 10), z / (1 + z * z / 10) * math.sqrt(0.8 * 0.2 / 10 + z * z / 400)
    assert ab["share_first"] == 0.8 and math.isclose(ab["ci95_low"], centre - half, rel_tol=1e-9)
    assert math.isclose(ab["ci95_high"], centre + half, rel_tol=1e-9)
    assert math.isclose(ab["ci95_low"], 0.4902, abs_tol=1e-4)  # 8 of 10: Wilson 95 % CI (0.4902, 0.9433)
    assert math.isclose(ab["p_binomial"], 2 * sum(math.comb(10, k) for k in range(8, 11)) / 2 ** 10)
    assert table.iloc[1]["p_binomial"] == 1.0 and table.iloc[1]["share_first"] == 0.5
    assert math.isnan(table.iloc[2]["share_first"]) and math.isnan(table.iloc[2]["p_holm"])  # ties only
    assert math.isclose(table.iloc[0]["p_holm"], min(1.0, 2 * ab["p_binomial"]))  # Holm over the 2 tested pairs


def test_comparisons_read_ab_ratings_and_refuse_other_data():
    pairs = comparisons(ab_ratings([("L1", "opus", "codec2", 100, 0), ("L1", "codec2", "opus", 100, 0),
                                    ("L2", "opus", "codec2", 50, 50)]))
    assert pairs[["first", "second"]].drop_duplicates().values.tolist() == [["codec2", "opus"]]
    assert pairs["outcome"].tolist() == [0.0, 1.0, 0.5]
    with pytest.raises(ValueError, match="not an A/B answer"):
        comparisons(ab_ratings([("L1", "opus", "codec2", 100, 100)]))


def test_acr_screening_applies_the_gold_clip_and_the_behaviour_rule():
    rows = []
    answers = {"L1": {"reference": 5, "opus": 4, "codec2": 2}, "L2": {"reference": 4, "opus": 4, "codec2": 1},
               "L3": {"reference": 3, "opus": 4, "codec2": 2}, "L4": {"reference": 3, "opus": 3, "codec2": 3}}
    for listener, given in answers.items():
        for item in ("i1", "i2"):
            rows += [{"listener": listener, "session": 1, "trial": 1, "item": item, "condition": c, "rating": r,
                      "phase": "test", "timestamp": "t"} for c, r in given.items()]
    screened = acr_screening(pd.DataFrame(rows)).set_index("listener")
    assert screened["excluded"].to_dict() == {"L1": False, "L2": False, "L3": True, "L4": True}
    assert screened.loc["L3", "reason"] == "failed 2 of 2 gold clips (reference rated 3 or lower)"
    assert "the same answer (3) to all 6 trials" in screened.loc["L4", "reason"]
    assert screened.loc["L1", "r_with_others"] > 0.8
    mos = mos_table(pd.DataFrame(rows)[lambda t: t["listener"].isin(["L1", "L2"])]).set_index("condition")
    assert mos.index.tolist() == ["reference", "opus", "codec2"]
    votes = np.array([5, 5, 4, 4.0])
    low, high = stats.t.interval(0.95, 3, loc=4.5, scale=stats.sem(votes))
    assert mos.loc["reference", "mos"] == 4.5 and math.isclose(mos.loc["reference", "ci95_low"], low)
    assert mos.loc["reference", "ci95_high"] == min(5.0, high) and mos.loc["opus", "ci95_low"] == 4.0  # no spread


def test_analyze_type_from_the_command_line(tmp_path, capsys):
    trials = [(f"L{n}", "opus", "codec2", 100, 0) for n in range(6)] + [("L0", "opus", "lpc", 100, 0)] * 3 + \
        [("L5", "opus", "codec2", 0, 100), ("L1", "codec2", "lpc", 0, 100), ("L2", "codec2", "lpc", 100, 0),
         ("L3", "codec2", "lpc", 100, 0), ("L4", "opus", "lpc", 0, 100), ("L9", "opus", "lpc", 50, 50),
         ("L9", "opus", "codec2", 50, 50)]
    ab_ratings(trials).to_csv(tmp_path / "ab.csv", index=False)
    assert main(["mushra", "analyze", str(tmp_path / "ab.csv"), "--type", "ab", "--out", str(tmp_path / "ab")]) == 0
    printed = capsys.readouterr().out
    assert "L9: no preference in all 2 trials" in printed
    ranking = pd.read_csv(tmp_path / "ab" / "bradley_terry.csv")
    assert ranking["condition"].tolist() == ["opus", "codec2", "lpc"] and ranking["note"].isna().all()
    assert {p.name for p in (tmp_path / "ab").iterdir()} == {"screening.csv", "excluded_listeners.csv",
                                                             "preferences.csv", "bradley_terry.csv"}
    ab_ratings(trials).to_csv(tmp_path / "not_acr.csv", index=False)
    assert main(["mushra", "analyze", str(tmp_path / "not_acr.csv"), "--type", "acr",
                 "--out", str(tmp_path / "x")]) == 2
    assert "ACR ratings are 1-5" in capsys.readouterr().err


def ccr_ratings(trials: list[tuple[str, str, str, str, int]]) -> pd.DataFrame:
    """CCR ratings rows from (listener, item, condition shown as A, condition shown as B, answer c: B against A),
    stored as the server stores them: 3 - c for A, 3 + c for B."""
    rows = []
    for number, (listener, item, a, b, c) in enumerate(trials, start=1):
        rows += [{"listener": listener, "session": 1, "trial": number, "item": item, "condition": x, "rating": r,
                  "phase": "test", "timestamp": "t"} for x, r in ((a, 3 - c), (b, 3 + c))]
    return pd.DataFrame(rows)


def test_ccr_votes_correct_the_sign_for_the_order_and_the_gold_clip_screens():
    # (listener, item): the processed condition's score against the reference, shown either way round
    trials = []
    votes = {"L1": {"opus": -1, "codec2": -3, "gold": 0}, "L2": {"opus": 0, "codec2": -2, "gold": 1},
             "L3": {"opus": -1, "codec2": -2, "gold": 3}, "L4": {"opus": 0, "codec2": 0, "gold": 0}}
    for listener, given in votes.items():
        for n, item in enumerate(("i1", "i2")):
            for condition in ("opus", "codec2"):  # reference first on i1, processed first on i2: c flips its sign
                v = given[condition]
                trials.append((listener, item, "reference", condition, v) if n == 0 else
                              (listener, item, condition, "reference", -v))
            trials.append((listener, item, "reference", "reference", given["gold"] * (1 if n == 0 else -1)))
    ratings = ccr_ratings(trials)
    corrected = ccr_votes(ratings)
    assert len(corrected) == len(trials)
    opus = corrected[(corrected["listener"] == "L1") & (corrected["condition"] == "opus")]
    assert opus["rating"].tolist() == [-1, -1]  # the same vote whichever came first
    assert corrected.loc[(corrected["listener"] == "L3") & (corrected["condition"] == "reference"),
                         "rating"].tolist() == [3, 3]  # gold: the distance from "About the same"
    screened = category_screening("ccr", corrected).set_index("listener")
    assert screened["excluded"].to_dict() == {"L1": False, "L2": False, "L3": True, "L4": True}
    assert screened.loc["L3", "reason"] == ("failed 2 of 2 gold clips (reference more than one category from "
                                            "About the same)")
    assert screened.loc["L2", "gold_failed"] == 0  # one category off is accepted
    assert screened.loc["L4", "reason"] == "the same answer (0) to all 6 trials"
    cmos = category_table("ccr", corrected[corrected["listener"].isin(["L1", "L2"])]).set_index("condition")
    assert cmos.index.tolist() == ["opus", "codec2"]  # the reference against itself is screening, not a condition
    low, high = stats.t.interval(0.95, 3, loc=-2.5, scale=stats.sem([-3, -3, -2, -2]))
    assert cmos.loc["codec2", "cmos"] == -2.5 and math.isclose(cmos.loc["codec2", "ci95_low"], max(-3.0, low))
    assert math.isclose(cmos.loc["codec2", "ci95_high"], high) and cmos.loc["opus", "cmos"] == -0.5
    with pytest.raises(ValueError, match="not a CCR answer"):
        ccr_votes(ccr_ratings([("L1", "i1", "reference", "opus", 1)]).assign(rating=[3, 4]))
    with pytest.raises(ValueError, match="not a CCR answer"):
        ccr_votes(ccr_ratings([("L1", "i1", "opus", "codec2", 1)]))  # no reference in the trial


def test_dcr_analysis_from_the_command_line(tmp_path, capsys):
    answers = {"L1": {"reference": 5, "opus": 4, "codec2": 2}, "L2": {"reference": 4, "opus": 3, "codec2": 1},
               "L3": {"reference": 5, "opus": 4, "codec2": 1}, "L4": {"reference": 2, "opus": 4, "codec2": 3}}
    rows = [{"listener": listener, "session": 1, "trial": t, "item": item, "condition": c, "rating": r,
             "phase": "test", "timestamp": "t"}
            for listener, given in answers.items() for t, (item, (c, r)) in
            enumerate(((i, cr) for i in ("i1", "i2") for cr in given.items()), start=1)]
    pd.DataFrame(rows).to_csv(tmp_path / "dcr.csv", index=False)
    assert main(["mushra", "analyze", str(tmp_path / "dcr.csv"), "--type", "dcr", "--out", str(tmp_path / "d")]) == 0
    printed = capsys.readouterr().out
    assert "L4: failed 2 of 2 gold clips (reference rated 3 or lower)" in printed and "dmos" in printed
    dmos = pd.read_csv(tmp_path / "d" / "dmos.csv").set_index("condition")
    assert dmos.index.tolist() == ["reference", "opus", "codec2"] and dmos["votes"].eq(6).all()
    assert math.isclose(dmos.loc["codec2", "dmos"], 4 / 3) and dmos.loc["reference", "ci95_high"] == 5.0
    votes = pd.read_csv(tmp_path / "d" / "votes.csv")
    assert set(votes["listener"]) == {"L1", "L2", "L3"} and len(votes) == 18
    info = json.loads((tmp_path / "d" / "listening.json").read_text())
    assert info["type"] == "dcr" and info["kept"] == ["L1", "L2", "L3"] and info["excluded"][0]["listener"] == "L4"
    assert (tmp_path / "d" / "paired_tests.csv").is_file()
    pd.DataFrame(rows).assign(rating=80).to_csv(tmp_path / "mushra.csv", index=False)
    assert main(["mushra", "analyze", str(tmp_path / "mushra.csv"), "--type", "dcr", "--out", str(tmp_path / "x")]) == 2
    assert "DCR ratings are 1-5" in capsys.readouterr().err


# -- plans and answers ---------------------------------------------------------------------------------------

def test_acr_plan_has_every_cell_once_and_answers_are_one_to_five(typed_test_dir):
    test = load_test(typed_test_dir("acr"))
    kind = type_of(test)
    plan = kind.plan(test, seed=7)
    assert [t.phase for t in plan] == ["training"] * 3 + ["test"] * 15
    cells = [(t.item, t.stimuli[0][1]) for t in plan if t.phase == "test"]
    assert len(set(cells)) == 15 and all(len(t.stimuli) == 1 and t.reference_file is None for t in plan)
    assert [(t.item, t.stimuli[0][1]) for t in kind.plan(test, seed=7)] == [(t.item, t.stimuli[0][1]) for t in plan]
    assert cells != [(t.item, t.stimuli[0][1]) for t in kind.plan(test, seed=8) if t.phase == "test"]
    assert kind.check({"k": 5}, {"k": "opus@12"}, 1) is None
    assert "1 to 5" in kind.check({"k": 0}, {"k": "opus@12"}, 1) and "1 to 5" in kind.check({"k": True}, {"k": "x"}, 1)
    assert "one rating" in kind.check({"k": 5, "j": 5}, {"k": "opus@12"}, 1)
    assert test.spec["acr"]["gold"] == {"condition": "reference", "expected": 5, "tolerance": 1}
    assert test.spec["traps"]["items"] == {}  # MUSHRA's spoken traps are not added


def test_ab_plan_balances_the_sides_per_listener_and_answers_are_choices(typed_test_dir):
    test = load_test(typed_test_dir("ab"))
    kind = type_of(test)
    assert [sorted(p) for p in test.spec["ab"]["pairs"]] == [["codec2@2.4", "opus@12"]]
    assert kind.reference and kind.no_preference
    for seed in range(6):
        plan = kind.plan(test, seed)
        first = [t.stimuli[0][1] for t in plan]
        assert max(first.count("opus@12"), first.count("codec2@2.4")) == 3  # 6 trials: 3 and 3
        assert all(t.reference_file == test.training[0].stimuli["reference"] or t.phase == "test" for t in plan)
    assert len({tuple(t.stimuli[0][1] for t in kind.plan(test, seed)) for seed in range(6)}) > 1
    rated = {"a": "opus@12", "b": "codec2@2.4"}
    for good in ({"a": 100, "b": 0}, {"a": 0, "b": 100}, {"a": 50, "b": 50}):
        assert kind.check(good, rated, 1) is None
    for bad in ({"a": 100, "b": 100}, {"a": 60, "b": 40}, {"a": "100", "b": 0}, {"a": True, "b": 0}):
        assert "choose A or B, or no preference" in kind.check(bad, rated, 1)
    assert "one answer for each of its 2 stimuli" in kind.check({"a": 100}, rated, 1)
    forced = type_of(load_test(typed_test_dir("ab-forced")))
    assert not forced.reference and "choose A or B (" in forced.check({"a": 50, "b": 50}, rated, 1)


def test_dcr_and_ccr_plans_show_the_reference_and_balance_the_order(typed_test_dir):
    dcr_test = load_test(typed_test_dir("dcr"))
    dcr = type_of(dcr_test)
    plan = dcr.plan(dcr_test, seed=3)
    assert [t.phase for t in plan] == ["training"] * 3 + ["test"] * 15
    assert len({(t.item, t.stimuli[0][1]) for t in plan if t.phase == "test"}) == 15
    entries = {e.item: e for e in dcr_test.items + dcr_test.training}
    assert all(len(t.stimuli) == 1 and t.reference_file == entries[t.item].stimuli["reference"] for t in plan)
    assert dcr.check({"k": 1}, {"k": "opus@12"}, 1) is None and "1 to 5" in dcr.check({"k": 6}, {"k": "x"}, 1)
    shown = dcr.player(dcr_test)
    assert shown["choices"][0] == {"value": 5, "label": "5 Degradation is inaudible"}
    assert shown["choices"][-1]["label"] == "1 Degradation is very annoying"
    assert dcr_test.spec["dcr"]["gold"] == {"condition": "reference", "expected": 5, "tolerance": 1}

    ccr_test = load_test(typed_test_dir("ccr"))
    ccr = type_of(ccr_test)
    orders = set()
    for seed in range(6):
        plan = ccr.plan(ccr_test, seed)
        assert len(plan) == 18 and all([s[0] for s in t.stimuli] == ["A", "B"] for t in plan)
        assert all("reference" in {s[1] for s in t.stimuli} and t.reference_file is None for t in plan)
        processed_first = {}
        for t in plan:
            (_, a, _), (_, b, _) = t.stimuli
            condition = b if a == "reference" else a
            processed_first.setdefault(condition, []).append(a != "reference")
        for condition in ("opus@12", "codec2@2.4"):  # 6 items each (training too): first on 3 of them
            assert sum(processed_first[condition]) == 3, (seed, condition)
        orders.add(tuple(t.stimuli[0][1] for t in plan))
    assert len(orders) > 1  # the order is drawn per listener
    rated = {"a": "reference", "b": "opus@12"}
    for good in ({"a": 1, "b": 5}, {"a": 3, "b": 3}, {"a": 6, "b": 0}):
        assert ccr.check(good, rated, 1) is None
    for bad in ({"a": 2, "b": 5}, {"a": -1, "b": 7}, {"a": True, "b": 5}, {"a": "3", "b": 3}):
        assert "one answer c from -3 to +3" in ccr.check(bad, rated, 1)
    shown = ccr.player(ccr_test)
    assert shown["offset"] == 3 and [c["label"] for c in shown["choices"]][::3] == \
        ["+3 Much better", "0 About the same", "-3 Much worse"]
    assert ccr_test.spec["ccr"]["gold"] == {"condition": "reference", "expected": 0, "tolerance": 1}


def test_build_type_from_the_command_line(stimulus_folder, tmp_path, capsys):
    out = tmp_path / "ab"
    args = ["mushra", "build", "--stimuli", str(stimulus_folder), "--out", str(out), "--items", "5", "--type", "ab"]
    assert main(args + ["--pairs", "lowpass@3.5k:nope"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "names nope, not a condition of this test" in error and not out.exists()
    assert main(args + ["--pairs", "lowpass@3.5k:lowpass@5k", "--forced-choice"]) == 0
    assert "(ab test:" in capsys.readouterr().out
    spec = yaml.safe_load((out / "test.yaml").read_text())
    assert spec["type"] == "ab" and spec["ab"]["pairs"] == [["lowpass@3.5k", "lowpass@5k"]]
    assert spec["ab"]["no_preference"] is False and "two versions" in spec["texts"]["welcome"]
    assert load_test(out).digest  # re-sealed: the checksums hold
    assert main(["mushra", "build", "--stimuli", str(stimulus_folder), "--out", str(tmp_path / "acr"),
                 "--type", "acr", "--pairs", "a:b"]) == 2
    assert "belong to --type ab" in capsys.readouterr().err


# -- scripted panels through the real server -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["acr", "ab"])
def test_scripted_panel_excludes_the_careless_listener_and_ranks_by_bitrate(name, typed_test_dir, tmp_path):
    result = panel(typed_test_dir(name), tmp_path / "panel", listeners=4)
    print(result.summary())  # the numbers docs/listening-tests.md quotes (`pytest -s`)
    screened = result.tables["screening"]
    assert screened.loc[screened["excluded"], "listener"].tolist() == result.careless
    if name == "acr":
        mos = result.tables["mos"]
        assert mos["condition"].tolist() == ["reference", "opus@12", "codec2@2.4"]
        assert (mos["votes"] == 15).all() and (mos["ci95_low"] <= mos["mos"]).all()
    else:
        assert result.tables["bradley_terry"]["condition"].tolist() == ["opus@12", "codec2@2.4"]
        preferences = result.tables["preferences"].iloc[0]
        assert preferences["n"] == 15 and preferences["first"] == "codec2@2.4" and preferences["share_first"] < 0.5


def test_scripted_ccr_panel_excludes_the_careless_listener_and_corrects_the_order(typed_test_dir, tmp_path):
    """CCR through the real server: the order drawn per trial, the answers stored as 3 - c / 3 + c, the gold clip
    (the reference against itself) screening the careless listener. (DCR's server path is ACR's with the open
    reference of A/B; its plan is tested above.)"""
    result = panel(typed_test_dir("ccr"), tmp_path / "ccr", listeners=3)
    print(result.summary())  # the numbers docs/listening-tests.md quotes (`pytest -s`)
    screened = result.tables["screening"]
    assert screened.loc[screened["excluded"], "listener"].tolist() == result.careless
    assert "failed 5 of 5 gold clips" in screened.loc[screened["excluded"], "reason"].iloc[0]
    cmos = result.tables["cmos"]
    assert cmos["condition"].tolist() == ["opus@12", "codec2@2.4"] and (cmos["votes"] == 10).all()
    assert (cmos["cmos"] < 0).all() and (cmos["ci95_low"] <= cmos["cmos"]).all()
    assert result.ratings.groupby(["listener", "phase", "trial"])["rating"].sum().eq(6).all()  # 3 - c and 3 + c


def test_report_shows_the_acr_and_ab_tables(mushra_run, tmp_path, capsys):
    votes = {"reference": [5, 5, 4], "opus@12": [4, 4, 3], "codec2@2.4": [2, 3, 2]}
    acr = pd.DataFrame([{"listener": f"L{n}", "session": 1, "trial": 1, "item": f"i{k}", "condition": c, "rating": v,
                         "phase": "test", "timestamp": "t"}
                        for c, values in votes.items() for n, v in enumerate(values) for k in range(2)])
    analyze_type("acr", acr, tmp_path / "acr")
    analyze_type("ab", ab_ratings([(f"L{n}", "opus@12", "codec2@2.4", 100, 0) for n in range(4)]
                                  + [("L0", "opus@12", "codec2@2.4", 50, 50)]), tmp_path / "ab")
    analyze_type("ccr", ccr_ratings([(f"L{n}", f"i{k}", "reference", "opus@12", -1 - (n + k) % 2) for n in range(3)
                                     for k in range(2)]), tmp_path / "ccr")
    assert main(["report", str(mushra_run), "--out", str(tmp_path / "report"), "--format", "md",
                 "--listening", str(tmp_path / "acr"), "--listening", str(tmp_path / "ab"),
                 "--listening", str(tmp_path / "ccr")]) == 0
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Listening tests (ACR, A/B, CCR)" in text and "3 of 3 listeners kept after screening" in text
    assert "| condition | votes | CMOS [95 % CI] |" in text and "| opus@12 | 6 | -1.50 [-2.07, -0.93] |" in text
    assert "| opus@12 | 6 | 3.67 [3.12, 4.21] |" in text
    assert "| codec2@2.4 vs opus@12 | 5 | 1 | 0.00 [0.00, 0.49] | 0.125 |" in text
    assert "| 1 | opus@12 |" in text  # the Bradley-Terry ranking
    assert main(["report", str(mushra_run), "--out", str(tmp_path / "r2"), "--listening", str(tmp_path)]) == 2
    assert "holds neither mos.csv" in capsys.readouterr().err
