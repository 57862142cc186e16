"""`codecbench` command line: a thin argparse layer over the library, one subcommand per module.

Every error reaches the user as one line on stderr with exit status 2; `--debug` (or `CODECBENCH_DEBUG=1`)
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys
import threading

DEBUG_ENV = "CODECBENCH_DEBUG"
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}

COMMAND_MODULES = (
    "codecbench.commands.codecs",
    "codecbench.commands.metrics",
    "codecbench.commands.run",
    "codecbench.commands.report",
    "codecbench.commands.robustness",
    "codecbench.commands.latency",
    "codecbench.commands.train",
    "codecbench.commands.sweep",
    "codecbench.commands.mushra",
    "codecbench.commands.score",
    "codecbench.commands.validity",
    "codecbench.commands.samples",
)


def build_parser() -> argparse.ArgumentParser:
    from codecbench import __version__

    parser = argparse.ArgumentParser(
        prog="codecbench",
        description="Benchmark and listening tests for low-bitrate speech codecs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"codecbench {__version__}")
    parser.add_argument("--debug", action="store_true", help=f"show tracebacks of errors (also ${DEBUG_ENV}=1)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops a command the way Ctrl-C does: finished work is kept


def error_line(exc: BaseException) -> str:
    """What the user reads about an error: one line, with what to do where that is known."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        where = f" writing {exc.filename}" if exc.filename else ""
        return (f"the disk is full ({exc.strerror or exc}){where}: what was stored is kept; free space and rerun "
                "with --resume")
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (ValueError, OSError, RuntimeError)):  # the errors raised for the user, with their advice
        return text
    return f"internal error: {type(exc).__name__}: {text} (rerun with --debug for the traceback)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - every error becomes one line unless debugging
        if args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        print(f"codecbench {args.command}: error: {error_line(exc)}", file=sys.stderr)
        return 2
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
