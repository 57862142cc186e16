"""`codecbench mushra` real invocations: build, analyze, and the errors users see."""

from __future__ import annotations

import pandas as pd
from mushra_helpers import ratings

from codecbench.cli import main


def test_build_and_analyze_invocations(mushra_run, tmp_path, capsys):
    out = tmp_path / "test"
    assert main(["mushra", "build", "--run", str(mushra_run), "--out", str(out), "--items", "5",
                 "--training-items", "0", "--conditions", "opus@12", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "LUFS" in printed and (out / "SHA256SUMS").exists()

    table = ratings(4, 5)
    table.loc[(table["listener"] == "L3") & (table["condition"] == "reference"), "rating"] = 40
    table.to_csv(tmp_path / "ratings.csv", index=False)
    assert main(["mushra", "analyze", str(tmp_path / "ratings.csv"), "--out", str(tmp_path / "analysis"),
                 "--no-plots"]) == 0
    printed = capsys.readouterr().out
    assert "excluded by post-screening: 1" in printed and "L3: hidden reference" in printed
    assert pd.read_csv(tmp_path / "analysis" / "summary.csv")["n"].tolist() == [15] * 5


def test_user_errors_exit_2(mushra_run, mushra_test_dir, tmp_path, capsys):
    assert main(["mushra", "build", "--run", str(mushra_run), "--out", str(tmp_path / "t"), "--items", "3"]) == 2
    assert "at least 5 items" in capsys.readouterr().err
    assert main(["mushra", "export", str(mushra_test_dir), "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no listener has started" in capsys.readouterr().err
    assert main(["mushra", "analyze", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "a")]) == 2
    assert main(["mushra", "serve", str(tmp_path / "nothing")]) == 2
    assert "test.yaml" in capsys.readouterr().err
    (tmp_path / "empty").write_text("")
    (tmp_path / "empty").chmod(0o600)
    assert main(["mushra", "serve", str(mushra_test_dir), "--admin-password-file", str(tmp_path / "empty")]) == 2
    assert "is empty" in capsys.readouterr().err
    assert main(["mushra", "serve", str(mushra_test_dir), "--registrations-per-hour", "0"]) == 2
    assert "must be >= 1" in capsys.readouterr().err
    assert main(["mushra", "invite", str(mushra_test_dir), "0", "--db", str(tmp_path / "i.sqlite")]) == 2
    assert "from 1 to 10000" in capsys.readouterr().err and not (tmp_path / "i.sqlite").exists()
