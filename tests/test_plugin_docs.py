"""docs/plugins.md's plugin package, built from the page's code blocks and installed as a distribution is (its
modules plus a dist-info with the entry points of its pyproject.toml, on the path of a fresh process): its
codec runs under `codecbench run --channel clean,loss@10%` and its metric scores the rows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from codecbench.datasets.librispeech import EMBEDDED_ROOT, SAMPLE_SPLIT

PAGE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def page_files() -> dict[str, str]:
    """The page's code blocks that name a file in their first line (`# path`): path -> content."""
    blocks = re.findall(r"```(?:python|toml)\n# (\S+)\n(.*?)```", PAGE.read_text(), re.S)
    return {path: body for path, body in blocks}


def install(files: dict[str, str], site: Path) -> None:
    """The package's modules in `site`, and the dist-info that pip would write for its pyproject.toml."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads(files["pyproject.toml"])["project"]
    for path, body in files.items():
        if path.endswith(".py"):
            (site / path).parent.mkdir(parents=True, exist_ok=True)
            (site / path).write_text(body)
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in points.items()) + "\n"
        for group, points in project["entry-points"].items()))


def test_the_page_names_every_file_of_its_package() -> None:
    assert set(page_files()) == {"pyproject.toml", "codecbench_mulaw/__init__.py", "codecbench_mulaw/codec.py",
                                 "codecbench_mulaw/metric.py"}


def test_the_plugin_codec_and_metric_run_under_a_lossy_channel(tmp_path: Path) -> None:
    install(page_files(), tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])}
    env.pop("CODECBENCH_DISABLE_PLUGIN_AUTOLOAD", None)
    listed = subprocess.run([sys.executable, "-m", "codecbench.cli", "codecs"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert listed.returncode == 0 and re.search(r"^\s*mulaw\s+64\b.*\byes\b", listed.stdout, re.M), listed.stdout
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "codecbench.cli", "run", "--root", str(EMBEDDED_ROOT), "--split",
                           SAMPLE_SPLIT, "--limit", "2", "--codec", "mulaw@64", "--metrics", "seg_snr,stoi",
                           "--channel", "clean,loss@10%", "--workers", "2", "--threads", "1", "--no-progress",
                           "--out", str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = pd.read_parquet(out / "utterances.parquet").set_index(["utterance", "channel"])
    assert len(rows) == 4 and (rows["error"] == "").all(), rows["error"].tolist()
    assert (rows["measured_kbps"].round(3) == 64.0).all()
    clean, lossy = rows.xs("clean", level="channel"), rows.xs("loss@10%", level="channel")
    assert clean["packets_lost"].isna().all() and (lossy["packets_lost"] > 0).all()
    assert (lossy["concealment"] == "generic").all()
    assert clean["seg_snr"].between(15, 35).all() and clean["stoi"].gt(0.95).all()  # mu-law, band-limited to 4 kHz
    assert (lossy["seg_snr"] < clean["seg_snr"] - 1).all() and (lossy["stoi"] < clean["stoi"] - 0.05).all()
