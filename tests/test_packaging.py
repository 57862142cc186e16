"""A built wheel carries everything a `pip install` user needs offline: the LibriSpeech sample with its
licence, Lyra's weights with theirs, and the shipped checkpoints."""

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_holds_the_package_data(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("codecbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    sample = "codecbench/datasets/data/LibriSpeech/"
    flacs = {n for n in names if n.startswith(sample + "sample/") and n.endswith(".flac")}
    assert len(flacs) == 14
    for name in ("LICENSE.TXT", "CC-BY-4.0.txt", "SPEAKERS.TXT", "README.md"):
        assert sample + name in names
    lyra = "codecbench/codecs/data/lyra-v2/"
    for name in ("soundstream_encoder.tflite", "quantizer.tflite", "lyragan.tflite", "LICENSE", "README.md"):
        assert lyra + name in names
    assert any(n.startswith("codecbench/codecs/diffusion/checkpoints/") and n.endswith(".safetensors") for n in names)
    assert not any(n.startswith("tests/") for n in names)  # the conformance pair stays with the tests
