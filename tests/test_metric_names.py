"""`--metrics` takes metric names, or an output column that names exactly one metric."""

import pytest

from codecbench.metrics import parse_metric_list


def test_a_column_names_its_metric_and_says_so(capsys):
    assert parse_metric_list(["pesq_wb,dnsmos_ovrl", "ref_dnsmos_sig,f0_rmse"]) == ["pesq_wb", "dnsmos", "f0"]
    err = capsys.readouterr().err.splitlines()
    assert err == ["--metrics: dnsmos_ovrl is a column of dnsmos; computing dnsmos",
                   "--metrics: ref_dnsmos_sig is a column of dnsmos; computing dnsmos",
                   "--metrics: f0_rmse is a column of f0; computing f0"]


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(ValueError, match="unknown metric 'dnsmos_ovr'; registered: .*dnsmos"):
        parse_metric_list(["dnsmos_ovr"])


def test_score_accepts_a_column_name(capsys, speech, tmp_path):
    import json

    import soundfile as sf

    from codecbench.cli import main

    path = tmp_path / "speech.wav"
    sf.write(path, speech, 16000)
    assert main(["score", str(path), str(path), "--metrics", "f0_rmse"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["scores"]["f0_rmse"] == 0
    assert captured.err.strip() == "--metrics: f0_rmse is a column of f0; computing f0"
