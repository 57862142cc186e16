"""PESQ/STOI wrappers agree with the reference libraries; PESQ's own failure is an error, never a score.
(Every metric's refusal of unscorable input is tested once, for all metrics, in test_metric_suite.py.)"""

import numpy as np
import pytest
from pesq import pesq
from pystoi import stoi

from codecbench.audio import resample
from codecbench.metrics import evaluate, metric_names

BASIC = ["pesq_wb", "pesq_nb", "stoi", "estoi"]


def test_registered():
    assert set(BASIC) <= set(metric_names())


def test_values_match_the_reference_libraries(speech):
    noisy = speech + 0.02 * np.random.default_rng(1).standard_normal(len(speech)).astype(np.float32)
    scores = evaluate(BASIC, speech, noisy, 16000)
    assert scores.errors == {}
    assert scores.values["pesq_wb"] == pytest.approx(pesq(16000, speech, noisy, "wb"), abs=1e-6)
    assert scores.values["pesq_nb"] == pytest.approx(pesq(16000, speech, noisy, "nb"), abs=1e-6)
    expected = stoi(resample(speech, 16000, 10000), resample(noisy, 16000, 10000), 10000)
    assert scores.values["stoi"] == pytest.approx(expected, abs=1e-9)
    assert scores.values["stoi"] == pytest.approx(stoi(speech, noisy, 16000), abs=0.005)  # pystoi's own resampler


def test_pesq_no_utterance_is_an_error_not_a_score():
    from codecbench.metrics.base import MetricError
    from codecbench.metrics.pesq import pesq_score

    silence = np.zeros(32000, np.float32)
    with pytest.raises(MetricError, match="No utterances"):
        pesq_score(silence, silence, 16000, "wb")
    scores = evaluate(["pesq_wb"], silence, silence, 16000)  # stopped earlier, with its own reason
    assert np.isnan(scores.values["pesq_wb"]) and "silent" in scores.errors["pesq_wb"]
