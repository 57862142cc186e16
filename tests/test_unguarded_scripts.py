"""A user's script, `-m` module, `python -c` or stdin without an `if __name__ == "__main__":` guard: codecbench's
child processes (Codec 2's decode processes, the local engine's workers) must not re-run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

BOUND_S = 180  # generous for a loaded 2-core machine; a script that re-runs itself never ends

DECODE_TWICE = '''
import numpy as np
from codecbench.audio import load_audio
from codecbench.codecs import load_codec
from codecbench.datasets.librispeech import EMBEDDED_ROOT, SAMPLE_SPLIT

print("body ran", flush=True)
audio = load_audio(EMBEDDED_ROOT / SAMPLE_SPLIT / "1688" / "142285" / "1688-142285-0003.flac", 8000).samples
codec = load_codec("codec2@2.4")
first, second = (codec.decode(codec.encode(audio)) for _ in range(2))
rms = float(np.sqrt(np.mean(first ** 2)))
print("decoded", len(audio), len(first), bool(np.array_equal(first, second)), rms > 0.01, flush=True)
'''

RUN_WITH_WORKERS = '''
import sys
import codecbench
from codecbench.datasets import select
from codecbench.datasets.librispeech import EMBEDDED_ROOT, SAMPLE_SPLIT

print("body ran", flush=True)
selection = select("librispeech", EMBEDDED_ROOT, SAMPLE_SPLIT, limit=2)
codecbench.run_benchmark(selection, ["codec2@2.4"], ["stoi"], sys.argv[1], workers=2, progress=False)
print("run done", flush=True)
'''


def _run(args: list[str], cwd: Path, stdin: str | None = None) -> str:
    finished = subprocess.run([sys.executable, *args], cwd=cwd, input=stdin, capture_output=True, text=True,
                              timeout=BOUND_S)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout


@pytest.mark.parametrize("how", ["script", "module", "-c", "stdin"])
def test_unguarded_main_decodes_codec2_twice(tmp_path: Path, how: str) -> None:
    pytest.importorskip("pycodec2")
    (tmp_path / "decode_twice.py").write_text(DECODE_TWICE)
    args, stdin = {"script": (["decode_twice.py"], None), "module": (["-m", "decode_twice"], None),
                   "-c": (["-c", DECODE_TWICE], None), "stdin": (["-"], DECODE_TWICE)}[how]
    out = _run(args, tmp_path, stdin).split("\n")
    assert out.count("body ran") == 1, out  # the decode processes never ran the script's body
    assert "decoded 40480 40480 True True" in out, out  # real audio, its length kept, the same bits twice


def test_unguarded_script_runs_with_metric_workers(tmp_path: Path) -> None:
    pytest.importorskip("pycodec2")
    (tmp_path / "run_two_workers.py").write_text(RUN_WITH_WORKERS)
    out = _run(["run_two_workers.py", str(tmp_path / "run")], tmp_path).split("\n")
    assert out.count("body ran") == 1 and "run done" in out, out
    rows = pd.read_csv(tmp_path / "run" / "utterances.csv")
    assert len(rows) == 2 and rows["error"].isna().all(), rows["error"].tolist()
    assert rows["stoi"].between(0.5, 1.0).all(), rows["stoi"].tolist()
