"""A built wheel carries everything a `pip install` user needs offline: the LibriSpeech sample with its
licence, Lyra's weights with theirs, and the shipped checkpoints."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_holds_the_package_data(tmp_path):
    source = tmp_path / "source"  # a copy: a stale build/ folder in the checkout must not stand in for the sources
    for name in ("pyproject.toml", "setup.py", "README.md"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    for folder in ("bench", "codecs", "listening_test"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(source)], capture_output=True, text=True, timeout=600)
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
    stahl = "codecbench/ratings/data/stahl2024/"  # the two-item subset and every rating, with licence
    assert {stahl + n for n in ("ratings_formated.csv", "ratings_formated_filtered.csv", "LICENSE.md", "SUBSET.md",
                                "attribution.md", "audio/stim_01/ref.flac", "audio/stim_02/prop_55.flac")} <= names
    assert "codecbench/report/data/metric_validity.csv" in names  # the report's shipped validity table
    assert not any(n.startswith("tests/") for n in names)  # the conformance pair stays with the tests
    missing = sorted(set(_source_modules()) - names)
    assert not missing, f"modules left out of the wheel: {missing}"


def _source_modules() -> list[str]:
    """Every Python file of the three source folders, named as the wheel must hold it."""
    folders = {"bench": "codecbench", "codecs": "codecbench/codecs", "listening_test": "codecbench/listening_test"}
    return [f"{prefix}/{path.relative_to(REPO / folder).as_posix()}"
            for folder, prefix in folders.items() for path in (REPO / folder).rglob("*.py")
            if "__pycache__" not in path.parts]
