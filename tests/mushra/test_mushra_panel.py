"""The acceptance panel: 12 scripted listeners (one careless) on a 7-item test, through the real server, then
the exports and `analyze`: every output is written, exactly the careless listener is excluded, and the trials
export shows who skipped."""

from __future__ import annotations

import json

import pandas as pd

from codecbench.benchmarks.mushra_panel import panel


def test_twelve_listeners_one_careless(mushra_run, tmp_path):
    from codecbench.listening_test.build import Protocol, build_test
    from codecbench.listening_test.events import ListeningRule

    test_dir = tmp_path / "test"
    build_test(test_dir, run=mushra_run, items=7, training_items=1, progress=False,
               protocol=Protocol(ListeningRule(0.25)))  # listeners wait in real time
    result = panel(test_dir, tmp_path / "panel", listeners=12)

    assert result.missing == []
    assert result.analysis.screening.excluded["listener"].tolist() == result.careless
    print(result.summary())  # the numbers README quotes (`pytest -s`)
    info = json.loads((tmp_path / "panel" / "analysis" / "analysis.json").read_text())
    assert len(info["kept"]) == 11 and result.analysis.anova is not None and result.analysis.pairwise is not None
    listening = result.listening().set_index("listener")
    assert (listening["trials"] == 7).all()
    assert listening["listening_s"].idxmin() == result.careless[0]  # the listening-time export shows who skipped
    assert listening.loc[result.careless[0], "least_heard_s"] == 0.25 and (listening["least_heard_s"] >= 0.25).all()
    people = result.listeners.set_index("listener")
    assert people["PROLIFIC_PID"].str.startswith("pid").all() and (people["STUDY_ID"] == "panel").all()
    assert people.loc[result.careless[0], "comment"] == "rushed" and people["answered"].notna().all()
    passed = people.drop(result.careless[0])["huggins_passed"]
    assert passed.astype(bool).all()  # attentive listeners hear the Huggins tone
    assert len(pd.read_csv(tmp_path / "panel" / "ratings.csv")) == 12 * 8 * 5
