"""Offline speaker similarity (GE2E, Resemblyzer's weights) and word error rates (pocketsphinx) on real speech."""

import dataclasses
import shutil

import numpy as np
import pytest

from codecbench.audio import load_audio
from codecbench.datasets import Selection, select
from codecbench.datasets.librispeech import SAMPLE_SPLIT
from codecbench.metrics import evaluate, metric_availability
from codecbench.runner import run_benchmark

# Cosine similarities computed the reference way: resemblyzer 0.1.4's own
# `VoiceEncoder("cpu").embed_utterance(preprocess_wav(load_audio(path, 16000).samples))` (its webrtcvad 2.0.10
# made importable by a stand-in `pkg_resources` module in a one-off script), on the bundled utterances.
RESEMBLYZER = {
    ("1688-142285-0002", "1688-142285-0003"): 0.872135,  # same speaker
    ("1998-15444-0002", "1998-15444-0003"): 0.922641,  # same speaker
    ("1688-142285-0003", "2033-164914-0003"): 0.574822,
    ("1998-15444-0003", "3080-5032-0002"): 0.478582,
}
SHORT = ("1688-142285-0002", "2414-128291-0003")  # 2.8 s and 2.7 s: pocketsphinx costs about real time


def _samples(root, utterance):
    return load_audio(next(root.rglob(f"{utterance}.flac")), 16000).samples


def test_offline_metrics_are_available_without_weights():
    for name in ("speaker_sim", "dwer", "wer"):
        assert metric_availability(name).available, metric_availability(name).reason


@pytest.mark.parametrize("pair", sorted(RESEMBLYZER))
def test_ge2e_embeddings_equal_resemblyzers(librispeech_root, pair):
    from codecbench.metrics.ge2e import speaker_embedding

    a, b = (speaker_embedding(_samples(librispeech_root, u)) for u in pair)
    assert float(np.dot(a, b)) == pytest.approx(RESEMBLYZER[pair], abs=1e-4)


@pytest.fixture(scope="module")
def short_pair_selection(librispeech_root):
    everything = select("librispeech", librispeech_root, SAMPLE_SPLIT)
    picked = [u for u in everything.utterances if u.id in SHORT]
    assert len(picked) == len(SHORT)
    return Selection(everything.dataset, everything.root, everything.split, picked)


def test_run_speaker_sim_and_dwer(tmp_path, short_pair_selection):
    """Acceptance: the reference against itself is 1 / 0; opus@12 beats codec2@1.2 on both."""
    result = run_benchmark(short_pair_selection, ["reference", "opus@12", "codec2@1.2"], ["speaker_sim", "dwer"],
                           tmp_path / "run", workers=1, progress=False)
    rows = result.rows
    assert (rows["error"] == "").all(), rows["error"].tolist()
    means = rows.groupby("spec")[["speaker_sim", "dwer"]].mean()
    assert means.loc["reference", "speaker_sim"] == pytest.approx(1.0, abs=1e-5)
    assert means.loc["reference", "dwer"] == 0.0
    assert means.loc["opus@12", "speaker_sim"] > means.loc["codec2@1.2", "speaker_sim"] + 0.1
    assert means.loc["opus@12", "dwer"] < means.loc["codec2@1.2", "dwer"]


def test_wer_uses_the_corpus_transcript(tmp_path, librispeech_root):
    """`wer` reads LibriSpeech's *.trans.txt. The bundled sample has none, so the transcript written here is
    pocketsphinx's own transcript of the reference, upper-cased as LibriSpeech writes: the reference then
    scores ref_wer = 0 exactly, and a 1.2 kbit/s Codec 2 decoding scores worse."""
    from codecbench.metrics.sphinx import transcribe

    utterance = SHORT[0]
    source = next(librispeech_root.rglob(f"{utterance}.flac"))
    chapter = tmp_path / "data" / "test-other" / source.parent.parent.name / source.parent.name
    chapter.mkdir(parents=True)
    shutil.copy(source, chapter)
    text = transcribe(_samples(librispeech_root, utterance)).upper()
    (chapter / f"{source.parent.parent.name}-{source.parent.name}.trans.txt").write_text(f"{utterance} {text}\n")
    selection = select("librispeech", tmp_path / "data", "test-other")
    assert selection.utterances[0].transcript == text
    rows = run_benchmark(selection, ["reference", "codec2@1.2"], ["wer"], tmp_path / "run", workers=1,
                         progress=False).rows.set_index("spec")
    assert rows.loc["reference", "ref_wer"] == 0.0 and rows.loc["reference", "wer"] == 0.0
    assert rows.loc["codec2@1.2", "wer"] > 0.0 and rows.loc["codec2@1.2", "ref_wer"] == 0.0

    untranscribed = dataclasses.replace(selection.utterances[0], transcript=None)
    bare = run_benchmark(dataclasses.replace(selection, utterances=[untranscribed]), ["reference"], ["wer"],
                         tmp_path / "bare", workers=1, progress=False).rows.iloc[0]
    assert np.isnan(bare["wer"]) and np.isnan(bare["ref_wer"]) and "no transcript" in bare["error"]


def test_dwer_of_identical_speech_is_zero_and_of_other_words_is_not(librispeech_root):
    first, second = (_samples(librispeech_root, u) for u in SHORT)
    n = min(len(first), len(second))
    same = evaluate(["dwer"], first[:n], first[:n], 16000)
    other = evaluate(["dwer"], first[:n], second[:n], 16000)
    assert same.errors == {} and same.values["dwer"] == 0.0
    assert other.errors == {} and other.values["dwer"] > 0.5


def test_text_normaliser_matches_librispeech_to_pocketsphinx():
    from codecbench.metrics.sphinx import normalise_text

    assert normalise_text("HE SAID, 'DON'T GO' -- TWICE.") == "he said don't go twice"
