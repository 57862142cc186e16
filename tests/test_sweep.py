"""`codecbench sweep`: a grid of codec options through the runner, a table and a figure per grid point."""

import pandas as pd
import pytest

from codecbench.cli import main
from codecbench.codecs import parse_spec
from codecbench.sweep import grid_specs, parse_param, run_sweep


def test_params_and_grid():
    assert parse_param("tau=25,50, 100") == ("tau", ["25", "50", "100"])
    for bad in ("tau", "tau=", "=1,2", "tau=1,,2", "tau=1,1"):
        with pytest.raises(ValueError):
            parse_param(bad)
    grid = grid_specs(parse_spec("ladiffcodec@1.5:sampler=midway"), {"tau": ["25", "50"], "gamma": ["0", "1"]})
    assert [str(spec) for _, spec in grid] == [
        "ladiffcodec@1.5:gamma=0,sampler=midway,tau=25", "ladiffcodec@1.5:gamma=1,sampler=midway,tau=25",
        "ladiffcodec@1.5:gamma=0,sampler=midway,tau=50", "ladiffcodec@1.5:gamma=1,sampler=midway,tau=50"]
    with pytest.raises(ValueError, match="already sets"):
        grid_specs(parse_spec("ladiffcodec:tau=5"), {"tau": ["1"]})
    with pytest.raises(ValueError, match="one or two"):
        grid_specs(parse_spec("opus@6"), {"a": ["1"], "b": ["1"], "c": ["1"]})


def test_two_dimensional_sweep_reuses_the_runner(tmp_path, short_selection):
    result = run_sweep(short_selection, "opus@6", {"frame_ms": ["20", "60"], "vbr": ["false", "true"]}, "pesq_wb",
                       tmp_path, extra_metrics=["stoi"], workers=1, progress=False)
    table = pd.read_csv(tmp_path / "sweep.csv")
    assert len(table) == 4 and (table["n"] == 3).all()
    assert {"frame_ms", "vbr", "pesq_wb_mean", "pesq_wb_ci95_low", "measured_kbps_mean",
            "decode_s_per_audio_s"} <= set(table.columns)
    assert table["pesq_wb_mean"].between(1.0, 4.7).all()
    rows = pd.read_csv(tmp_path / "utterances.csv")  # a regular run: rows of every grid point, both metrics
    assert set(rows["spec"]) == set(table["spec"]) and rows["stoi"].notna().all()
    assert (tmp_path / "sweep.png").stat().st_size > 10_000 and (tmp_path / "run.json").exists()
    assert result.table["spec"].tolist() == table["spec"].tolist()


def test_sweep_cli_line_plot(tmp_path, librispeech_root, capsys):
    code = main(["sweep", "opus@8", "--param", "frame_ms=20,40", "--metric", "stoi", "--root", str(librispeech_root),
                 "--split", "sample", "--limit", "1", "--out", str(tmp_path), "--workers", "1", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "stoi_mean" in out and "sweep.png" in out
    assert pd.read_csv(tmp_path / "sweep.csv")["frame_ms"].tolist() == [20, 40]
    assert main(["sweep", "opus@8", "--param", "frame_ms=20", "--metric", "nope", "--limit", "1",
                 "--out", str(tmp_path / "x")]) == 2
