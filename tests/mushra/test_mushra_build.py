"""`mushra build` on a real run: items, excerpts, anchors, alignment, loudness, checksums, bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from scipy import signal

from codecbench.alignment import estimate_envelope_delay
from codecbench.audio import load_audio
from codecbench.listening_test import stimuli as st
from codecbench.listening_test.anchors import Anchors, auto_mid_cutoff, make_anchor, spectral_distance
from codecbench.listening_test.build import Protocol, build_test
from codecbench.listening_test.events import ListeningRule
from codecbench.listening_test.texts import load_texts
from codecbench.listening_test.testdef import load_test

CONDITIONS = ["reference", "lowpass@3.5k", "lowpass@5k", "opus@12", "codec2@2.4"]


def read(test, relative):
    x, rate = sf.read(str(test.path(relative)), dtype="float64")
    return x, rate


def band_level_db(x, rate, low, high):
    freqs, power = signal.welch(x, rate, nperseg=1024)
    return 10 * np.log10(power[(freqs >= low) & (freqs < high)].sum() + 1e-20)


def test_items_are_balanced_and_trials_well_formed(mushra_test_dir):
    test = load_test(mushra_test_dir)
    assert test.conditions == CONDITIONS
    assert len(test.items) == 5 and len(test.training) == 1
    entries = test.items + test.training
    genders = {"1688": "M", "1998": "F", "2033": "M", "2414": "M", "2609": "M", "3005": "M", "3080": "F"}  # SPEAKERS.TXT
    items_of = {g: [e.speaker for e in test.items if genders[e.speaker] == g] for g in "FM"}
    assert sorted(len(v) for v in items_of.values()) == [2, 3]  # 5 test items: genders differ by at most one
    for speakers in items_of.values():  # within a gender, speakers take turns: none twice before all gave one
        assert len(set(speakers)) == min(len(speakers), {"F": 2, "M": 5}[genders[speakers[0]]])
    assert len({e.item for e in entries}) == 6
    assert test.spec["source"]["genders"] == {g: len(v) + sum(genders[e.speaker] == g for e in test.training)
                                              for g, v in items_of.items()}
    assert test.spec["source"]["speakers"].endswith("SPEAKERS.TXT")
    for entry in entries:
        formats = {sf.info(str(test.path(f))).frames for f in entry.stimuli.values()}
        infos = [sf.info(str(test.path(f))) for f in entry.stimuli.values()]
        assert len(formats) == 1 and {(i.samplerate, i.channels, i.subtype) for i in infos} == {(16000, 1, "PCM_16")}
        assert infos[0].frames / 16000 <= 12.0


def test_loudness_is_aligned_and_reported(mushra_test_dir):
    test = load_test(mushra_test_dir)
    target = test.spec["loudness"]["aligned_lufs"]
    assert target <= -26.0
    table = pd.read_csv(mushra_test_dir / "loudness.csv")
    assert len(table) == 6 * len(CONDITIONS) and not table["flagged"].any()
    for entry in test.items + test.training:
        for relative in entry.stimuli.values():
            x, rate = read(test, relative)
            assert st.integrated_loudness(x, rate) == pytest.approx(target, abs=0.05)
    assert (table["span_lu"] <= 1.0).all()


def test_hidden_reference_anchors_and_codecs(mushra_test_dir):
    test = load_test(mushra_test_dir)
    entry = test.items[0]
    spec = next(e for e in test.spec["items"] if e["item"] == entry.item)
    source = load_audio(spec["source"], 16000).samples.astype(np.float64)
    start, end = (int(round(s * 16000)) for s in spec["excerpt_s"])
    reference, rate = read(test, entry.stimuli["reference"])
    original = source[start:end]
    inner = slice(400, -400)  # leave out the 10 ms edge fades
    assert np.corrcoef(reference[inner], original[inner])[0, 1] > 0.999

    ref_band = band_level_db(reference, rate, 4600, 8000)
    low, _ = read(test, entry.stimuli["lowpass@3.5k"])
    mid, _ = read(test, entry.stimuli["lowpass@5k"])
    assert band_level_db(low, rate, 4600, 8000) < ref_band - 40  # BS.1534-3: >= 50 dB at 4.5 kHz
    assert abs(band_level_db(mid, rate, 4100, 4900) - band_level_db(reference, rate, 4100, 4900)) < 1
    assert band_level_db(mid, rate, 5800, 8000) < band_level_db(reference, rate, 5800, 8000) - 40  # 8/7 x 5 kHz on
    chosen = spec["anchor_distance"]["lowpass@5k"]
    assert chosen == spectral_distance(reference[:, None], mid[:, None], rate)  # recorded: what the stimuli show
    seven = np.round(make_anchor(reference[:, None], 7000, rate) * 32768) / 32768  # the 7 kHz anchor, as served
    standard = spectral_distance(reference[:, None], seven, rate)
    assert chosen["lsd_db"] > standard["lsd_db"] + 2 and chosen["removed_db"] > standard["removed_db"] + 5
    assert auto_mid_cutoff(16000) == 5000 and auto_mid_cutoff(24000) == 6000 and auto_mid_cutoff(48000) == 7000

    for codec in ("opus@12", "codec2@2.4"):
        decoded, _ = read(test, entry.stimuli[codec])
        # time-aligned to the reference, within 1 ms by the phase-blind estimate (Codec 2's waveform does not follow
        # the input's phase: a raw cross-correlation peak is spurious there)
        assert abs(estimate_envelope_delay(reference, decoded, 800, rate).samples) <= rate // 1000
        info = spec["stimuli"][codec]
        assert info["measured_kbps"] == info["run_measured_kbps"]  # re-coding reproduced the run
        assert info["seed"] >= 0


def test_long_utterance_is_cut_in_a_pause(librispeech_root):
    path = librispeech_root / "sample" / "2414" / "128291" / "2414-128291-0002.flac"
    x = load_audio(path, 16000).samples
    assert len(x) / 16000 > 12
    excerpt = st.excerpt_bounds(x, 16000)
    assert excerpt.cut == "pause" and 3.0 <= (excerpt.end - excerpt.start) / 16000 <= 12.0
    levels = st.frame_levels_db(x, 16000)
    hop = int(st.FRAME_S * 16000)
    assert levels[excerpt.end // hop] < levels.max() + st.SILENCE_DB  # the cut lies in silence


def test_checksums_catch_a_changed_stimulus(mushra_test_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(mushra_test_dir, copy)
    stimulus = next((copy / "stimuli").rglob("opus@12.wav"))
    data = bytearray(stimulus.read_bytes())
    data[-2] ^= 0x01
    stimulus.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match its SHA256SUMS"):
        load_test(copy)


def test_folder_source_and_its_checks(mushra_test_dir, tmp_path):
    test = load_test(mushra_test_dir)
    folder = tmp_path / "stimuli"
    for entry in test.items + test.training:
        (folder / entry.item).mkdir(parents=True)
        for condition in ("reference", "opus@12"):
            shutil.copy(test.path(entry.stimuli[condition]), folder / entry.item / f"{condition}.wav")
    result = build_test(tmp_path / "from_folder", stimuli=folder, items=5, training_items=0)
    built = load_test(result.out)
    assert built.conditions == ["reference", "lowpass@3.5k", "lowpass@5k", "opus@12"]
    assert yaml.safe_load((result.out / "test.yaml").read_text())["source"]["kind"] == "folder"
    assert any("balanced over speakers only" in w for w in result.warnings)  # no gender column in the folder
    assert any("one slip excludes a listener" in w for w in result.warnings) and built.spec["notes"] == result.warnings

    standard = build_test(tmp_path / "standard", stimuli=folder, items=5, training_items=0,
                          protocol=Protocol(anchors=Anchors("lowpass@7k")))
    assert load_test(standard.out).conditions == ["reference", "lowpass@3.5k", "lowpass@7k", "opus@12"]
    assert standard.anchor_distance["lowpass@7k"]["lsd_db"][1] < result.anchor_distance["lowpass@5k"]["lsd_db"][0]

    pd.DataFrame({"item": [e.item for e in test.items + test.training],
                  "speaker": [e.speaker for e in test.items + test.training],
                  "gender": [{"1998": "F", "3080": "F"}.get(e.speaker, "M") for e in test.items + test.training]}
                 ).to_csv(folder / "speakers.csv", index=False)
    texts = tmp_path / "texts.yaml"
    texts.write_text("language: de\nwelcome: 'Hörtest {name}: {items} Durchgänge'\nconsent: Ich bin einverstanden.\n"
                     "questionnaire: [{id: fatigue, question: 'Wie anstrengend?', choices: [gar nicht, sehr]}]\n"
                     "labels: {next: Weiter}\n")
    like = build_test(tmp_path / "mushra_like", stimuli=folder, items=5, training_items=0, max_excerpt_s=3.0,
                      protocol=Protocol(ListeningRule(2.5), load_texts(texts), Anchors(enabled=False), True))
    built = load_test(like.out)
    assert built.conditions == ["reference", "opus@12"] and built.mid_anchor is None
    assert any("MUSHRA-like" in w for w in like.warnings) and not any("speakers only" in w for w in like.warnings)
    assert {sf.info(str(built.path(f))).frames for e in built.items for f in e.stimuli.values()} == {48000}
    assert built.rule.min_play_s == 2.5 and built.texts["language"] == "de" and built.texts["labels"]["next"] == "Weiter"
    assert built.texts["labels"]["play"] == "▶ Play" and built.texts["questionnaire"][0]["choices"] == ["gar nicht", "sehr"]
    texts.write_text("welcome: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_texts(texts)
    texts.write_text("welcome: hi\nfarewell: bye\n")
    with pytest.raises(ValueError, match="unknown keys"):
        load_texts(texts)
    texts.write_text("welcome: 'hi {listener}'\n")
    with pytest.raises(ValueError, match="it may use"):
        load_texts(texts)

    item = test.items[0].item
    x, rate = sf.read(str(folder / item / "opus@12.wav"))
    sf.write(str(folder / item / "opus@12.wav"), x[:-160], rate, subtype="PCM_16")
    with pytest.raises(ValueError, match="differ in length"):
        build_test(tmp_path / "bad", stimuli=folder, items=6, training_items=0)
    for n in range(9):
        sf.write(str(folder / item / f"extra{n}.wav"), x[:-160], rate, subtype="PCM_16")
    with pytest.raises(ValueError, match="at most 12"):
        build_test(tmp_path / "bad", stimuli=folder, items=6, training_items=0)


def test_bad_requests_are_refused(mushra_run, mushra_test_dir, tmp_path):
    with pytest.raises(ValueError, match="at least 5 items"):
        build_test(tmp_path / "t", run=mushra_run, items=4)
    with pytest.raises(ValueError, match="did not run"):
        build_test(tmp_path / "t", run=mushra_run, items=5, conditions=["opus@6"])
    with pytest.raises(ValueError, match="exactly one source"):
        build_test(tmp_path / "t", items=5)
    with pytest.raises(ValueError, match="are needed"):
        build_test(tmp_path / "t", run=mushra_run, items=13, training_items=2)
    with pytest.raises(FileExistsError, match="--overwrite"):
        build_test(mushra_test_dir, run=mushra_run, items=5)
    assert not (tmp_path / "t").exists()
