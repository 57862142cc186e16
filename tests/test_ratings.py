"""Listeners' ratings readers: the Stahl et al. 2024 dataset (its ratings ship in full with the package), a
webMUSHRA export, and the long table's checks."""

from __future__ import annotations

import ast

import pandas as pd
import pytest

from codecbench.listening_test.analysis import analyze
from codecbench.ratings import Ratings, read_source
from codecbench.ratings.stahl import FILTERED, RAW, STAHL2024, read_stahl

ROOT = STAHL2024.embedded


def _participants(path) -> set[str]:
    table = pd.read_csv(path)
    return {str(p) for ids in table["participant_ids"] for p in ast.literal_eval(ids)}


def test_screening_the_raw_ratings_removes_exactly_the_listeners_the_authors_removed(tmp_path):
    ratings = read_source(ROOT)
    assert ratings.reference == "Reference" and ratings.anchors == ("Anchor",)
    assert len(ratings.table) == 1512 and ratings.table["listener"].nunique() == 21
    assert ratings.table.groupby("listener")["item"].nunique().eq(8).all()  # each listener rated 8 of 16 items
    result = analyze(ratings.contract(), tmp_path, reference=ratings.reference, mid_anchor=ratings.mid_anchor,
                     plots=False)
    removed_by_authors = _participants(ROOT / RAW) - _participants(ROOT / FILTERED)
    assert removed_by_authors  # the filtered file does leave listeners out
    assert set(result.screening.excluded["listener"]) == removed_by_authors
    filtered = read_stahl(ROOT, filtered=True)
    kept = ratings.kept(result.screening.kept).table
    pd.testing.assert_frame_equal(kept.sort_values(["item", "condition", "listener"]).reset_index(drop=True),
                                  filtered.table.sort_values(["item", "condition", "listener"]).reset_index(drop=True))


def test_stahl_pairs_are_the_rated_systems_with_audio_here():
    ratings = read_stahl(ROOT)
    pairs = ratings.pairs()
    assert {p.item for p in pairs} == {"VCTK_p229_293", "VCTK_p229_157"}  # the embedded audio's items
    assert {p.condition for p in pairs} == set(ratings.systems) and len(pairs) == 14
    assert all(p.reference.name == "ref.flac" and p.degraded.is_file() for p in pairs)
    assert "112 of 128 stimuli have no audio" in ratings.notes[0]


def test_webmushra_export_with_its_configuration(tmp_path):
    audio = ROOT / "audio" / "stim_01"
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "test.yaml").write_text(f"""testname: t
testId: t
pages:
  - type: generic
    id: intro
    name: Welcome
  - - random
    - type: mushra
      id: trial1
      reference: {audio}/ref.flac
      stimuli:
        C1: {audio}/lyra_6.flac
        C2: {audio}/prop_55.flac
        anchor35: {audio}/lyra_32.flac
""")
    lines = ["session_test_id,name,age,trial_id,rating_stimulus,rating_score,rating_time,rating_comment"]
    for listener, scores in (("ann", (100, 40, 70, 10)), ("bob", (95, 35, 80, 5))):
        stimuli = ("reference", "C1", "C2", "anchor35")
        lines += [f"t,{listener},30,trial1,{s},{v},2000," for s, v in zip(stimuli, scores)]
    csv = tmp_path / "mushra.csv"
    csv.write_text("\n".join(lines) + "\n")
    ratings = read_source(csv, stimuli=tmp_path / "configs" / "test.yaml")
    assert ratings.reference == "reference" and ratings.anchors == ("anchor35",) and ratings.systems == ["C1", "C2"]
    assert ratings.mid_anchor is None  # only the 3.5 kHz anchor: no mid-anchor rule
    assert set(ratings.table["listener"]) == {"ann", "bob"}
    assert ratings.table.set_index(["listener", "condition"]).loc[("bob", "C2"), "rating"] == 80
    assert {(p.condition, p.degraded.name) for p in ratings.pairs()} == {("C1", "lyra_6.flac"), ("C2", "prop_55.flac"),
                                                                         ("anchor35", "lyra_32.flac")}
    (tmp_path / "plain.csv").write_text("session_test_id,trial_id,rating_stimulus,rating_score\nt,trial1,C1,40\n")
    with pytest.raises(ValueError, match="no participant column"):
        read_source(tmp_path / "plain.csv", kind="webmushra")


def test_bad_ratings_are_refused_with_the_reason(tmp_path):
    table = pd.DataFrame({"listener": ["a", "a"], "item": ["i", "i"], "condition": ["reference", "x"],
                          "rating": [100, 140], "file": ["", ""]})
    with pytest.raises(ValueError, match="from 0 to 100"):
        Ratings(table, "reference")
    table["rating"] = [100, 40]
    with pytest.raises(ValueError, match="no ratings of the reference"):
        Ratings(table, "Reference")
    with pytest.raises(ValueError, match="name no stimulus files"):
        Ratings(table, "reference").pairs()
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="none of the known ratings layouts"):
        read_source(tmp_path / "x.csv")
