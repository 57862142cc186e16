"""The metric suite: every metric fails as NaN plus a reason, and each one measures what it claims on real speech."""

import numpy as np
import pytest

from codecbench.codecs.lowpass import lowpass_anchor
from codecbench.metrics import evaluate, get_metric_class, metric_availability, metric_names
from codecbench.metrics.base import REFERENCE_PREFIX

CASES = ["silence", "short", "nan", "dc"]


def _case(speech: np.ndarray, case: str) -> tuple[np.ndarray, np.ndarray]:
    degraded = {
        "silence": np.zeros_like(speech),
        "short": speech[8000:9600],  # 0.1 s of speech
        "nan": np.where(np.arange(len(speech)) == 100, np.nan, speech).astype(np.float32),
        "dc": np.full_like(speech, 0.3),
    }[case]
    reference = speech[8000:9600] if case == "short" else speech
    return reference, degraded


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", metric_names())
def test_every_metric_refuses_unscorable_input(speech, name, case):
    reference, degraded = _case(speech, case)
    cls = get_metric_class(name)
    transcript = "a sentence of the corpus" if cls.needs_transcript else None
    scores = evaluate([name], reference, degraded, 16000, unaligned=(reference, degraded), transcript=transcript)
    assert set(scores.values) == set(cls.output_columns())
    for column in cls.computed_columns():
        assert np.isnan(scores.values[column]), (name, column, scores.values[column])
    assert scores.errors[name]
    if not metric_availability(name).available:
        assert scores.errors[name].startswith("unavailable: ")
    if cls.scores_reference and metric_availability(name).available:
        # the reference side fails only when the reference itself is unusable
        ref_values = [scores.values[REFERENCE_PREFIX + c] for c in cls.computed_columns()]
        if case == "short":
            assert np.isnan(ref_values).all() and scores.errors[REFERENCE_PREFIX + name]
        else:
            assert np.isfinite(ref_values).all()


def test_default_set_is_available_and_leaves_slow_or_weighted_metrics_out():
    from codecbench.metrics import default_metric_names

    defaults = default_metric_names()
    assert {"pesq_wb", "stoi", "si_sdr", "lsd", "mel_distance", "mrstft"} <= set(defaults)
    assert not {"dnsmos", "visqol", "visqol_exp", "f0", "speaker_sim", "speaker_sim_wavlm", "dwer", "dwer_whisper",
                "wer", "wer_whisper"} & set(defaults)
    assert all(get_metric_class(n).sample_rate > 0 for n in metric_names())


def _si_sdr_numpy(reference: np.ndarray, degraded: np.ndarray) -> float:
    reference, degraded = reference - reference.mean(), degraded - degraded.mean()
    target = (degraded @ reference) / (reference @ reference) * reference
    return 10 * np.log10((target @ target) / ((degraded - target) @ (degraded - target)))


def test_waveform_and_spectral_distances(speech):
    noisy = speech + 0.01 * np.random.default_rng(0).standard_normal(len(speech)).astype(np.float32)
    names = ["si_sdr", "lsd", "mel_distance", "mrstft"]
    same = evaluate(names, speech, speech, 16000)
    assert same.errors == {}
    assert same.values["si_sdr"] > 60
    assert same.values["lsd"] == pytest.approx(0, abs=1e-6)
    assert same.values["mel_distance"] == pytest.approx(0, abs=1e-6)
    assert same.values["mrstft"] == pytest.approx(0, abs=1e-6)
    scores = evaluate(names, speech, noisy, 16000).values
    assert scores["si_sdr"] == pytest.approx(_si_sdr_numpy(speech.astype(np.float64), noisy.astype(np.float64)),
                                             abs=1e-3)
    narrow = evaluate(names, speech, lowpass_anchor(speech, 3500, 16000), 16000).values
    wide = evaluate(names, speech, lowpass_anchor(speech, 7000, 16000), 16000).values
    for name in ("lsd", "mel_distance", "mrstft"):
        assert 0 < wide[name] < narrow[name], name


def test_f0_tracks_pitch(speech):
    same = evaluate(["f0"], speech, speech, 16000)
    assert same.errors == {} and same.values["f0_rmse"] == 0 and same.values["vde"] == 0
    lowpassed = evaluate(["f0"], speech, lowpass_anchor(speech, 3500, 16000), 16000).values
    assert 0 <= lowpassed["f0_rmse"] < 5 and lowpassed["vde"] < 0.15  # pitch survives a 3.5 kHz low-pass
    # One semitone up (timing kept): every F0 rises by 5.9 % (12 Hz at this speaker's 210 Hz), plus the
    # gross errors a phase vocoder provokes, which RMSE weighs heavily.
    import librosa

    higher = librosa.effects.pitch_shift(speech, sr=16000, n_steps=1.0)
    shifted = evaluate(["f0"], speech, higher, 16000).values
    assert shifted["f0_rmse"] > 10


def test_dnsmos_scores_reference_once_and_sees_the_lowpass(speech, monkeypatch):
    import importlib

    from codecbench.metrics import dnsmos
    from codecbench.metrics.cache import SignalCache

    evaluate_module = importlib.import_module("codecbench.metrics.evaluate")

    calls = []
    real = dnsmos.dnsmos_scores
    monkeypatch.setattr(dnsmos, "dnsmos_scores", lambda x, rate=16000: calls.append(len(x)) or real(x, rate))
    monkeypatch.setattr(evaluate_module, "_reference_scores", SignalCache())  # forget other tests' references
    reference = speech
    lowpassed = lowpass_anchor(reference, 3500, 16000)
    same = evaluate(["dnsmos"], reference, reference, 16000)
    low = evaluate(["dnsmos"], reference, lowpassed, 16000)
    assert len(calls) == 2  # the reference once (the decoded signal equal to it takes its score), the lowpassed once
    assert same.errors == {} and low.errors == {}
    for column in dnsmos.Dnsmos.columns:
        assert same.values[column] == same.values[REFERENCE_PREFIX + column] == low.values[REFERENCE_PREFIX + column]
        assert 1 <= same.values[column] <= 5
    assert 2.5 < same.values["dnsmos_ovrl"] < 4
    # Removing the band above 3.5 kHz lowers the signal and P.808 scores (OVRL: see README's corpus means).
    assert low.values["dnsmos_sig"] < same.values["dnsmos_sig"]
    assert low.values["dnsmos_p808"] < same.values["dnsmos_p808"] - 0.2


def test_non_intrusive_metrics_score_the_unaligned_signals(speech):
    delayed = np.concatenate([np.zeros(480, np.float32), speech])  # 30 ms of codec delay
    aligned = evaluate(["dnsmos"], speech, speech, 16000, unaligned=(speech, delayed))
    whole = evaluate(["dnsmos"], speech, delayed, 16000)
    assert aligned.values["dnsmos_ovrl"] == whole.values["dnsmos_ovrl"]
