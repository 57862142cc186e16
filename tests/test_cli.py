"""Every subcommand's --help and one real invocation, so flags and functions cannot drift."""

import json
import subprocess
import sys

import pytest

from codecbench.cli import COMMAND_MODULES, build_parser, main

SUBCOMMANDS = [m.rsplit(".", 1)[1] for m in COMMAND_MODULES]


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert command in capsys.readouterr().out


def test_codecs_lists_availability(capsys):
    assert main(["codecs"]) == 0
    out = capsys.readouterr().out
    for name in ("opus", "codec2", "reference", "lowpass"):
        assert name in out
    assert "available" in out


def test_metrics_lists_direction(capsys):
    assert main(["metrics"]) == 0
    out = capsys.readouterr().out
    assert "pesq_wb" in out and "higher" in out


def test_run_real_invocation(tmp_path, librispeech_root, capsys):
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    try:
        code = main(["run", "--root", str(librispeech_root), "--split", "sample", "--limit", "2",
                     "--codec", "opus@12", "--metrics", "pesq_wb", "--out", str(tmp_path), "--workers", "1",
                     "--threads", "1", "--no-progress"])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    out = capsys.readouterr().out
    assert "opus@12" in out and "pesq_wb" in out
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["config"]["specs"] == ["opus@12"] and run["environment"]["torch_threads"] == 1


def test_user_errors_exit_2(tmp_path, capsys):
    assert main(["run", "--codecs", "opus@99", "--limit", "1", "--out", str(tmp_path)]) == 2
    assert "6-32" in capsys.readouterr().err
    assert main(["run", "--codecs", "opus@6", "--limit", "1", "--threads", "0", "--out", str(tmp_path)]) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err


def test_console_script_is_installed():
    done = subprocess.run([sys.executable, "-m", "codecbench.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and "codecbench" in done.stdout
    assert build_parser().prog == "codecbench"


def test_ci_runs_the_readme_commands():
    """.ci/run must use README's install and test commands verbatim."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    readme, ci = (repo / "README.md").read_text(), (repo / ".ci" / "run").read_text()
    for command in ('pip install -e ".[all]" && codecbench run', "python -m pytest -q"):
        assert command in readme and command in ci
