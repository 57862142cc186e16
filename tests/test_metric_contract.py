"""The metric contract over the whole registry, on the real utterances of the embedded sample:

- f(x, x) is the metric's best value (`Metric.best_range`) for an intrusive metric (visqol and warpq declare
  none: their f(x, x) is not their best value, said in their notes and docs/metrics.md); a non-intrusive one
  scores x as decoded exactly as it scores x as the reference (`ref_<column>`), and both equal the metric's own
  value of x computed directly;
- a value does not depend on what the process scored before: scored in order, shuffled, after other audio,
  or alone in a fresh process, every utterance gets the same value;
- where a metric cannot score (no transcript), NaN plus a reason.

Cost (docs/metrics.md): metrics in SLOW run on the 3 shortest utterances (8.9 s of speech), all others on all 14.
"""

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from codecbench.audio import load_audio, resample
from codecbench.datasets import select
from codecbench.datasets.librispeech import SAMPLE_SPLIT
from codecbench.metrics import evaluate, get_metric_class, metric_availability, metric_names
from codecbench.metrics.base import REFERENCE_PREFIX

# above ~0.1 CPU-s per second of speech on one core, or neural models: scored on the 3 shortest utterances
SLOW = {"visqol", "visqol_exp", "visqol_audio", "dwer", "dwer_whisper", "wer", "wer_whisper", "f0", "speaker_sim",
        "speaker_sim_wavlm", "dnsmos", "plcmos", "distillmos"}
SHORTEST = 3


@pytest.fixture(scope="module")
def sample(librispeech_root) -> list[tuple[str, np.ndarray, str]]:
    """(id, 16 kHz samples, path) of every utterance of the embedded sample, by id."""
    selection = select("librispeech", librispeech_root, SAMPLE_SPLIT)
    return [(u.id, load_audio(u.path, 16000).samples, str(u.path)) for u in selection.utterances]


def _utterances(name: str, sample: list) -> list:
    return sorted(sample, key=lambda u: len(u[1]))[:SHORTEST] if name in SLOW else sample


def _identity(name: str, x: np.ndarray) -> tuple[dict[str, float], dict[str, str]]:
    scores = evaluate([name], x, x, 16000, unaligned=(x, x))
    return scores.values, scores.errors


def _skip_unavailable(name: str) -> None:
    status = metric_availability(name)
    if not status.available:
        pytest.skip(f"{name} unavailable here: {status.reason}")


@pytest.mark.parametrize("name", metric_names())
def test_identity_is_best_and_independent_of_order(name, sample):
    _skip_unavailable(name)
    cls = get_metric_class(name)
    utterances = _utterances(name, sample)
    in_order = {uid: _identity(name, x) for uid, x, _ in utterances}
    shuffled = {uid: _identity(name, x) for uid, x, _ in random.Random(0).sample(utterances, len(utterances))}
    for uid, (values, errors) in in_order.items():
        assert values == shuffled[uid][0] or _same(values, shuffled[uid][0]), (uid, values, shuffled[uid][0])
        if cls.needs_transcript:  # the sample has no transcripts: NaN and the reason, never a number
            assert all(np.isnan(v) for v in values.values()) and "no transcript" in errors[name]
            continue
        assert errors == {}, (uid, errors)
        for column in cls.computed_columns():
            if cls.intrusive and cls.best_range is not None:
                low, high = cls.best_range
                assert low <= values[column] <= high, (uid, column, values[column], cls.best_range)
            elif cls.scores_reference:
                assert values[column] == values[REFERENCE_PREFIX + column], (uid, column, values)
    if cls.scores_reference and not cls.needs_transcript:
        # x as decoded takes the reference's cached score (evaluate): that score is the metric's own value of x
        uid, x, _ = utterances[0]
        direct = get_metric_class(name)().compute(None, resample(x, 16000, cls.sample_rate))
        assert in_order[uid][0] == {**direct, **{REFERENCE_PREFIX + c: v for c, v in direct.items()}}, uid


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal values, NaN equal to NaN."""
    return a.keys() == b.keys() and all(a[k] == b[k] or (np.isnan(a[k]) and np.isnan(b[k])) for k in a)


def test_intrusive_metrics_declare_their_best_value():
    for name in metric_names():
        cls = get_metric_class(name)
        if cls.intrusive:
            if cls.best_range is None:  # allowed only with the measured reason, shown by `codecbench metrics`
                assert "f(x, x) is" in cls.notes, f"{name} declares no best_range and does not say why"
                continue
            low, high = cls.best_range
            assert cls.value_range[0] <= low <= high <= cls.value_range[1], name


def test_scores_alone_in_a_fresh_process_equal_scores_after_others(sample):
    """`codecbench score x x` on one utterance in a new process gives what this process gives after scoring
    the rest of the sample (every available metric)."""
    names = [n for n in metric_names() if metric_availability(n).available and not get_metric_class(n).needs_transcript]
    (uid, x, path), (_, other, _) = sorted(sample, key=lambda u: len(u[1]))[:2]
    for name in names:  # the process has scored other speech first
        _identity(name, other)
    here = {}
    for name in names:
        here.update(_identity(name, x)[0])
    done = subprocess.run([sys.executable, "-m", "codecbench.cli", "score", path, path, "--metrics", ",".join(names)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    alone = json.loads(done.stdout)
    assert alone["delay_samples"] == 0 and alone["errors"] == {}
    assert alone["scores"] == pytest.approx(here, rel=0, abs=0), uid


def test_dwer_does_not_hear_what_the_recogniser_heard_before(sample):
    """pocketsphinx kept its noise statistics from one call to the next: after a tone, the reference's
    transcript differed from the degraded copy's and dWER(x, x) was not 0 (it is on these utterances)."""
    _skip_unavailable("dwer")
    from codecbench.metrics import sphinx

    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(3 * 16000) / 16000)).astype(np.float32)
    for _, x, _ in sorted(sample, key=lambda u: len(u[1]))[:SHORTEST + 1]:
        sphinx._decoder.cache_clear()
        fresh = sphinx.transcribe(x)
        sphinx.transcribe(tone)
        scores = evaluate(["dwer"], x, x, 16000)  # the reference's transcript is made right after the tone
        assert scores.errors == {} and scores.values["dwer"] == 0.0
        sphinx.transcribe(tone)
        assert sphinx.transcribe(x) == fresh
