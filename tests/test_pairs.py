"""`codecbench score` over many pairs: a run folder from files decoded elsewhere (real stimuli of the embedded
Stahl et al. 2024 subset, 24 kHz)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from codecbench.audio import load_audio, resample
from codecbench.cli import main
from codecbench.pairs import Pair, pairs_from_csv, pairs_from_folders, score_pair, score_pairs, PairPlan
from codecbench.ratings.stahl import STAHL2024

AUDIO = STAHL2024.embedded / "audio"


@pytest.fixture
def pairs_csv(tmp_path):
    rows = [(f"{AUDIO}/stim_01/ref.flac", f"{AUDIO}/stim_01/{c}.flac", "stim_01", c) for c in ("lyra_6", "prop_55")]
    rows.append(("ref2.flac", "lyra2.flac", "stim_02", "lyra_6"))  # relative to the CSV's folder
    shutil.copy(AUDIO / "stim_02" / "ref.flac", tmp_path / "ref2.flac")
    shutil.copy(AUDIO / "stim_02" / "lyra_6.flac", tmp_path / "lyra2.flac")
    path = tmp_path / "pairs.csv"
    pd.DataFrame(rows, columns=["reference", "degraded", "item", "condition"]).to_csv(path, index=False)
    return path


def test_csv_pairs_make_a_resumable_run_folder_that_report_reads(pairs_csv, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["score", "--pairs", str(pairs_csv), "--out", str(out), "--metrics", "pesq_wb,stoi",
                 "--no-progress"]) == 0
    rows = pd.read_csv(out / "utterances.csv", keep_default_na=False)
    assert sorted(zip(rows["utterance"], rows["spec"])) == [("stim_01", "lyra_6"), ("stim_01", "prop_55"),
                                                           ("stim_02", "lyra_6")]
    assert (rows["error"] == "").all() and rows["pesq_wb"].between(1, 4.7).all()
    assert (rows["sample_rate"] == 24000).all()  # read at the reference's rate, each metric at its own
    assert rows["metric_rates"].iloc[0] == "pesq_wb 16000 Hz (from 24000); stoi 10000 Hz (from 24000)"
    manifest = pd.read_csv(out / "manifest.csv")
    assert len(manifest) == 5 and manifest["sha256"].str.len().eq(64).all()  # 2 references, 3 decoded files
    assert set(manifest["split"]) == {"reference", "lyra_6", "prop_55"}
    journal = (out / "rows.journal").read_bytes()
    assert main(["score", "--pairs", str(pairs_csv), "--out", str(out), "--metrics", "pesq_wb,stoi",
                 "--resume", "--no-progress"]) == 0
    assert (out / "rows.journal").read_bytes() == journal  # nothing left to score
    assert json.loads((out / "run.json").read_text())["invocations"][-1]["todo"] == 0
    shutil.copy(AUDIO / "stim_02" / "prop_55.flac", tmp_path / "lyra2.flac")  # a decoded file changes
    capsys.readouterr()
    assert main(["score", "--pairs", str(pairs_csv), "--out", str(out), "--metrics", "pesq_wb,stoi",
                 "--resume", "--no-progress"]) == 2
    assert "changed since the run" in capsys.readouterr().err
    assert main(["report", str(out), "--format", "md"]) == 0
    assert "lyra_6" in (out / "report" / "report.md").read_text()


def test_folders_match_by_name_and_values_equal_one_pair_scoring(tmp_path):
    decoded = tmp_path / "mycodec"
    decoded.mkdir()
    for stim in ("stim_01", "stim_02"):
        (decoded / stim).mkdir()
        shutil.copy(AUDIO / stim / "audiodec_8.flac", decoded / stim / "ref.flac")
    (decoded / "stray.flac").write_bytes((AUDIO / "stim_01" / "ref.flac").read_bytes())  # no reference: left out
    pairs = pairs_from_folders(AUDIO, decoded)
    assert [(p.item, p.condition) for p in pairs] == [("stim_01/ref", "mycodec"), ("stim_02/ref", "mycodec")]
    metrics = ["pesq_wb", "stoi"]
    one = score_pairs(pairs, metrics, tmp_path / "one", "test", workers=1, progress=False)
    two = score_pairs(pairs, metrics, tmp_path / "two", "test", workers=2, progress=False)
    pd.testing.assert_frame_equal(one.rows[metrics], two.rows[metrics])  # the worker pool scores the same
    alone = score_pair(Pair("x", "c", AUDIO / "stim_01" / "ref.flac", AUDIO / "stim_01" / "audiodec_8.flac"),
                       PairPlan(tuple(metrics), tuple(metrics), 0.25))
    assert alone.metrics == pytest.approx(dict(one.rows.loc[0, metrics]))


def test_bad_pairs_are_clear_errors_or_error_rows(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("reference,decoded\na.wav,b.wav\n")
    with pytest.raises(ValueError, match="lacks the columns"):
        pairs_from_csv(bad)
    bad.write_text(f"reference,degraded,item\n{AUDIO}/stim_01/ref.flac,{AUDIO}/stim_01/lyra_6.flac,a\n"
                   f"{AUDIO}/stim_01/ref.flac,{AUDIO}/stim_01/prop_55.flac,a\n")
    with pytest.raises(ValueError, match="listed twice"):
        pairs_from_csv(bad)
    missing = Pair("a", "c", AUDIO / "stim_01" / "ref.flac", tmp_path / "absent.wav")
    row = score_pair(missing, PairPlan(("stoi",), ("stoi",), 0.25))
    assert row.error.startswith("cannot read the pair") and row.metrics["stoi"] != row.metrics["stoi"]
    assert main(["score", "--out", str(tmp_path / "x")]) == 2
    assert "REF_DIR DEG_DIR or --pairs" in capsys.readouterr().err


def test_many_pairs_follow_align(tmp_path):
    """`--align none` reaches the pairs scorer: AudioDec's ~9 ms delay (214 samples at 24 kHz) stays in."""
    rows = {}
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame([(f"{AUDIO}/stim_01/ref.flac", f"{AUDIO}/stim_01/audiodec_8.flac")],
                 columns=["reference", "degraded"]).to_csv(pairs, index=False)
    for mode in ("auto", "none"):
        assert main(["score", "--pairs", str(pairs), "--out", str(tmp_path / f"p{mode}"), "--metrics", "stoi",
                     "--no-progress", "--align", mode]) == 0
        rows[mode] = pd.read_csv(tmp_path / f"p{mode}" / "utterances.csv")
        assert json.loads((tmp_path / f"p{mode}" / "run.json").read_text())["config"]["align"] == mode
    assert rows["auto"]["delay_samples"].iloc[0] != 0 and rows["none"]["delay_samples"].iloc[0] == 0


def test_a_decoded_file_equal_to_its_reference_is_scored_once_by_non_intrusive_metrics(tmp_path, monkeypatch):
    """The hidden reference as a condition: DNSMOS runs once for the reference and that decoded copy, with the
    values of scoring each file on its own."""
    from codecbench.metrics.dnsmos import Dnsmos

    calls = []
    compute = Dnsmos.compute
    monkeypatch.setattr(Dnsmos, "compute", lambda self, ref, deg: calls.append(len(deg)) or compute(self, ref, deg))
    shutil.copy(AUDIO / "stim_02" / "ref.flac", tmp_path / "copy.flac")
    pairs = [Pair("stim_02", "Reference", AUDIO / "stim_02" / "ref.flac", tmp_path / "copy.flac"),
             Pair("stim_02", "lyra_6", AUDIO / "stim_02" / "ref.flac", AUDIO / "stim_02" / "lyra_6.flac")]
    rows = score_pairs(pairs, ["dnsmos"], tmp_path / "run", "test", progress=False).rows.set_index("spec")
    assert len(calls) == 2  # the reference (once, cached) and lyra_6; not the copy again
    columns = Dnsmos.computed_columns()
    for spec, path in (("Reference", tmp_path / "copy.flac"), ("lyra_6", AUDIO / "stim_02" / "lyra_6.flac")):
        alone = Dnsmos().compute(None, resample(load_audio(path, 24000).samples, 24000, 16000))
        assert {c: rows.loc[spec, c] for c in columns} == alone  # bit for bit
        assert {c: rows.loc[spec, "ref_" + c] for c in columns} == {c: rows.loc["Reference", c] for c in columns}
