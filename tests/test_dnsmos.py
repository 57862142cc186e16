"""DNSMOS computed with shared convolutions equals Microsoft's per-window scoring on real LibriSpeech."""

import numpy as np
import pytest

from codecbench.audio import load_audio

# (SIG, BAK, OVRL, P.808) computed the reference way, before the shared-convolution implementation existed:
# speechmos 0.0.1.1's `speechmos.dnsmos.DNSMOS` (Microsoft's dnsmos_local.py: 9.01 s windows every second,
# clips doubled to >= 9.01 s), with its own sessions on the bundled ONNX models, on
# `np.clip(load_audio(path, 16000).samples, -1, 1).astype(np.float32)`; printed with 6 decimals.
# Durations 2.83 s (doubled twice: 3 windows), 9.11 s (1 window), 18.06 s (windows 0-6; 7 and 8 are skipped
# by the reference's floating-point slice ends), 4.04 s (doubled twice: 8 windows).
REFERENCE = {
    "1688-142285-0002": (3.153302, 3.385619, 2.575103, 3.480096),
    "1998-15444-0002": (3.672352, 3.765968, 3.223997, 3.684125),
    "2414-128291-0002": (3.242723, 3.708791, 2.837324, 4.003681),
    "3080-5032-0003": (3.353351, 3.056717, 2.561088, 3.764374),
}
COLUMNS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")


@pytest.mark.parametrize("utterance", sorted(REFERENCE))
def test_scores_equal_microsofts_per_window_scoring(librispeech_root, utterance):
    from codecbench.metrics.dnsmos import dnsmos_scores

    path = next(librispeech_root.rglob(f"{utterance}.flac"))
    scores = dnsmos_scores(load_audio(path, 16000).samples)
    assert [scores[c] for c in COLUMNS] == pytest.approx(REFERENCE[utterance], abs=1e-4)


def test_window_starts_follow_the_reference_slicing():
    from codecbench.metrics.dnsmos import window_starts

    assert window_starts(int(9.01 * 16000)) == [0]
    assert window_starts(18 * 16000) == [k * 16000 for k in range(7)]  # 7 and 8: one sample short there
    assert window_starts(34 * 16000) == [k * 16000 for k in (0, 1, 2, 3, 4, 5, 6, 24)]


@pytest.mark.parametrize("chunk", [300, 1200])
def test_long_clip_crosses_the_chunks_of_the_shared_layers(speech, monkeypatch, chunk):
    """A 34 s clip: the shared layers run in chunks (shorter and longer than a window), windows are scored
    as they are covered, and window 24 comes after the skipped ones."""
    from codecbench.benchmarks.dnsmos_reference import REFERENCE_KEYS, reference_scorer
    from codecbench.metrics import dnsmos

    monkeypatch.setattr(dnsmos, "HEAD_CHUNK", chunk)
    clip = np.tile(speech, 7)[: 34 * 16000]
    expected = reference_scorer()(clip, 16000, False)  # Microsoft's scoring, window by window
    scores = dnsmos.dnsmos_scores(clip)
    assert [scores[c] for c in COLUMNS] == pytest.approx([expected[k] for k in REFERENCE_KEYS], abs=1e-4)
