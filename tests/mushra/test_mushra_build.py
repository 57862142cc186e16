"""`mushra build` on a real run: items, excerpts, anchors, alignment, loudness, checksums, bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from scipy import signal

from codecbench.alignment import estimate_delay
from codecbench.audio import load_audio
from codecbench.listening_test import stimuli as st
from codecbench.listening_test.build import build_test
from codecbench.listening_test.testdef import load_test

CONDITIONS = ["reference", "lowpass@3.5k", "lowpass@7k", "opus@12", "codec2@2.4"]


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
    assert len({e.speaker for e in entries}) == 6  # 7 speakers available: no speaker twice
    assert len({e.item for e in entries}) == 6
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
    mid, _ = read(test, entry.stimuli["lowpass@7k"])
    assert band_level_db(low, rate, 4600, 8000) < ref_band - 40  # BS.1534-3: >= 50 dB at 4.5 kHz
    assert abs(band_level_db(mid, rate, 4600, 6500) - ref_band) < 10  # passes what the 3.5 kHz anchor stops

    for codec in ("opus@12", "codec2@2.4"):
        decoded, _ = read(test, entry.stimuli[codec])
        assert abs(estimate_delay(reference, decoded, 800)) <= 2  # time-aligned to the reference
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
    assert built.conditions == ["reference", "lowpass@3.5k", "lowpass@7k", "opus@12"]
    assert yaml.safe_load((result.out / "test.yaml").read_text())["source"]["kind"] == "folder"

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
