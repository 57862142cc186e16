"""`codecbench` command line: a thin argparse layer over the library, one subcommand per module."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

COMMAND_MODULES = (
    "codecbench.commands.codecs",
    "codecbench.commands.metrics",
    "codecbench.commands.run",
    "codecbench.commands.report",
    "codecbench.commands.latency",
    "codecbench.commands.train",
    "codecbench.commands.sweep",
    "codecbench.commands.mushra",
    "codecbench.commands.score",
)


def build_parser() -> argparse.ArgumentParser:
    from codecbench import __version__

    parser = argparse.ArgumentParser(
        prog="codecbench",
        description="Benchmark and listening tests for low-bitrate speech codecs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"codecbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops a command the way Ctrl-C does: finished work is kept


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"codecbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
