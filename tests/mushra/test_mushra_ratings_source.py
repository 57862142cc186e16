"""codecbench's own listening tests as a ratings source for `codecbench validity`: a `ratings.csv` export with
its test folder, and a `mushra analyze` output (its kept listeners only)."""

from __future__ import annotations

import pandas as pd
import pytest

from codecbench.listening_test.analysis import analyze
from codecbench.listening_test.testdef import load_test
from codecbench.ratings import read_source


def _export(test_dir, path):
    test = load_test(test_dir)
    typical = {"reference": 100, "lowpass@3.5k": 20, "lowpass@5k": 45, "opus@12": 80, "codec2@2.4": 35}
    rows = []
    for n in range(7):
        for trial, item in enumerate(test.items):
            for condition in item.stimuli:
                rating = 60 if (n == 0 and condition == "reference") else typical[condition]  # L0 misses the reference
                rows.append({"listener": f"L{n}", "session": 1, "trial": trial, "item": item.item,
                             "condition": condition, "rating": rating, "phase": "test", "timestamp": ""})
    pd.DataFrame(rows).to_csv(path, index=False)
    return test


def test_export_and_analysis_output_are_ratings_sources(mushra_test_dir, tmp_path):
    csv = tmp_path / "ratings.csv"
    test = _export(mushra_test_dir, csv)
    ratings = read_source(csv, stimuli=mushra_test_dir)
    assert ratings.reference == "reference" and set(ratings.anchors) == {"lowpass@3.5k", "lowpass@5k"}
    assert ratings.mid_anchor == "lowpass@5k" and set(ratings.systems) == {"opus@12", "codec2@2.4"}
    pairs = ratings.pairs()
    assert len(pairs) == 4 * len(test.items) and all(p.degraded.is_file() and p.reference.is_file() for p in pairs)
    analyze(csv, tmp_path / "analysis", plots=False)
    screened = read_source(tmp_path / "analysis", stimuli=mushra_test_dir)
    assert set(screened.table["listener"]) == {f"L{n}" for n in range(1, 7)}  # L0 excluded by the analysis
    assert "L0" in screened.notes[0] and len(screened.pairs()) == len(pairs)


def test_acr_and_dcr_analyses_are_ratings_sources(mushra_test_dir, tmp_path):
    """The votes of the listeners `mushra analyze --type acr` kept (P.808 gold-clip screening), one per listener
    and stimulus, the reference a rated condition; marked screened so that validity does not screen again."""
    from codecbench.listening_test.types.analysis import analyze_type
    from codecbench.ratings.sources import detect

    test = load_test(mushra_test_dir)
    typical = {"reference": 5, "lowpass@3.5k": 1, "lowpass@5k": 2, "opus@12": 4, "codec2@2.4": 3}
    rows = [{"listener": f"L{n}", "session": 1, "trial": trial, "item": item.item, "condition": condition,
             "rating": 2 if (n == 0 and condition == "reference") else max(1, typical[condition] - (n + trial) % 2),
             "phase": "test", "timestamp": ""}
            for n in range(4) for trial, item in enumerate(test.items) for condition in item.stimuli]
    analyze_type("acr", pd.DataFrame(rows), tmp_path / "acr")
    assert detect(tmp_path / "acr") == "listening"
    ratings = read_source(tmp_path / "acr", stimuli=mushra_test_dir)
    assert ratings.screened and set(ratings.table["listener"]) == {"L1", "L2", "L3"}  # L0 failed the gold clips
    assert "L0" in ratings.notes[1] and "ACR votes, 1 (Bad) to 5 (Excellent)" == ratings.notes[0]
    assert set(ratings.systems) == {"opus@12", "codec2@2.4"} and set(ratings.anchors) == {"lowpass@3.5k", "lowpass@5k"}
    kept = pd.DataFrame(rows).query("listener != 'L0'")
    assert ratings.table["rating"].sum() == kept["rating"].sum() and ratings.kept(["L1"]).screened
    assert len(ratings.pairs()) == 4 * len(test.items) and all(p.degraded.is_file() for p in ratings.pairs())
    ccr = pd.DataFrame([{**r, "rating": 3} for r in rows if r["condition"] in ("reference", "opus@12")])
    analyze_type("ccr", ccr.assign(condition=["reference"] * len(ccr)).assign(
        trial=[i // 2 for i in range(len(ccr))]), tmp_path / "ccr")
    with pytest.raises(ValueError, match="metric validity reads ACR and DCR votes"):
        read_source(tmp_path / "ccr")
