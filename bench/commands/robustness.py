"""`codecbench robustness`: the robustness table, paired tests and curves of a run with channel or input conditions."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "robustness", help="score per channel/input condition, drop from clean, paired tests, curves (from a run)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `codecbench run --channel/--input`")
    parser.add_argument("--metrics", default=None, help="comma-separated metric columns (default: pesq_wb, plcmos, "
                                                        "stoi where scored)")
    parser.add_argument("--out", default=None, help="output directory (default: RUN_DIR/robustness)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from codecbench.robustness import analyze

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    written = analyze(args.run_dir, metrics, args.out)
    print(written["markdown"].read_text())
    print("  ".join(f"{name}: {path}" for name, path in written.items()))
    return 0
