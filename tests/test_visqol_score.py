"""ViSQOL v3 conformance with Google's C++ values, and `codecbench score` on the same pair."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codecbench.cli import main

CONFORMANCE = Path(__file__).resolve().parent / "data" / "visqol"  # Google's pair, shipped with the tests
REF, DEG = CONFORMANCE / "CA01_01.wav", CONFORMANCE / "transcoded_CA01_01.wav"
LATTICE, EXPONENTIAL, IDENTITY = 3.3129234313964844, 3.374505555111911, 4.505550384521484  # conformance.h


@pytest.fixture(scope="module")
def pair48k():
    reference, rate = sf.read(REF)
    degraded, _ = sf.read(DEG)
    assert rate == 48000
    return reference, degraded


@pytest.mark.parametrize("lattice, expected", [(True, LATTICE), (False, EXPONENTIAL)])
def test_conformance_at_the_files_rate(pair48k, lattice, expected):
    """Google's values come from the 48 kHz files in speech mode; the port reproduces them."""
    from codecbench.metrics.visqol import visqol_moslqo

    assert visqol_moslqo(*pair48k, 48000, lattice=lattice) == pytest.approx(expected, abs=0.01)


def test_conformance_identity(pair48k):
    from codecbench.metrics.visqol import visqol_moslqo

    assert visqol_moslqo(pair48k[0], pair48k[0], 48000) == pytest.approx(IDENTITY, abs=0.01)


def test_score_prints_one_json_line(capsys):
    from pesq import pesq

    from codecbench.audio import load_audio

    assert main(["score", str(REF), str(DEG), "--metrics", "visqol,visqol_exp,pesq_wb,dnsmos"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["errors"] == {} and result["delay_samples"] == 0
    assert result["conversions"]["degraded"] == ["resampled 48000->16000 Hz"]
    # The path users run: files read at the 16 kHz working rate, ViSQOL upsamples to 48 kHz (3.3012 at 16 kHz).
    assert result["scores"]["visqol"] == pytest.approx(LATTICE, abs=0.005)
    assert result["scores"]["visqol_exp"] == pytest.approx(EXPONENTIAL, abs=0.005)
    ref, deg = load_audio(REF, 16000).samples, load_audio(DEG, 16000).samples
    assert result["scores"]["pesq_wb"] == pytest.approx(pesq(16000, ref, deg, "wb"), abs=1e-9)
    assert result["scores"]["ref_dnsmos_ovrl"] > result["scores"]["dnsmos_ovrl"]


def test_score_reports_failures_as_null_with_reasons(tmp_path, speech, capsys, monkeypatch):
    from codecbench.metrics import metric_availability

    monkeypatch.setenv("CODECBENCH_WHISPER", str(tmp_path / "no-whisper-here"))
    metric_availability.cache_clear()
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(32000, np.float32), 16000)
    reference = tmp_path / "ref.wav"
    sf.write(reference, speech, 16000)
    assert main(["score", str(reference), str(silent), "--metrics", "pesq_wb,dnsmos,dwer_whisper"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["scores"]["pesq_wb"] is None and "silent" in result["errors"]["pesq_wb"]
    assert result["scores"]["dnsmos_ovrl"] is None and result["scores"]["ref_dnsmos_ovrl"] > 1
    assert result["scores"]["dwer_whisper"] is None
    assert result["errors"]["dwer_whisper"].startswith("unavailable: weights not found")
    metric_availability.cache_clear()


def test_score_refuses_unreadable_files(tmp_path, capsys):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000")
    assert main(["score", str(REF), str(broken), "--metrics", "pesq_wb"]) == 2
    assert "cannot read" in capsys.readouterr().err
