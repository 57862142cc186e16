"""Every subcommand's --help and one real invocation, so flags and functions cannot drift."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from codecbench.cli import COMMAND_MODULES, build_parser, main

SUBCOMMANDS = [m.rsplit(".", 1)[1] for m in COMMAND_MODULES]


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (sub)command's parser, with its command path."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_documents_every_flag(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: codecbench {command}")
    for path, parser in _parsers(build_parser()):
        if path[:1] != (command,):
            continue
        for action in parser._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                assert action.help and action.help != argparse.SUPPRESS, f"{' '.join(path)} {action.dest}: no help"
                if action.option_strings:
                    assert f"{action.option_strings[-1]}" in parser.format_help()


def test_help_loads_no_model_library():
    """Building the CLI and printing every help imports no torch, transformers, ONNX runtime or Gradio: those
    load inside the handlers that need them."""
    script = """
import sys
from test_cli import _parsers
from codecbench.cli import build_parser
for _, parser in _parsers(build_parser()):
    parser.format_help()
print(sorted(m for m in ("torch", "transformers", "onnxruntime", "gradio", "ai_edge_litert") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).parent, check=True)
    assert done.stdout.strip() == "[]"


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
    for command in ('pip install ".[all]" && codecbench run', "python -m pytest -q"):
        assert command in readme and command in ci
