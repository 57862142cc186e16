"""`codecbench samples`: a static listening page of finished runs (kept with `--keep-audio`), like a codec
paper's demo page."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "samples", help="write a static samples page (players, spectrograms, scores) of runs kept with --keep-audio",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                        help="run folders written with --keep-audio; several are merged as `codecbench report` "
                             "merges them")
    parser.add_argument("--out", required=True, help="the page's folder (index.html, samples.json, audio/)")
    parser.add_argument("--utterances", type=int, default=8, help="utterances shown (a balanced pick across speakers)")
    parser.add_argument("--utterance", action="append", default=None, metavar="ID",
                        help="show this utterance (repeatable) instead of the balanced pick")
    parser.add_argument("--systems", default=None,
                        help="comma-separated systems to show (default: every one with kept audio); shown by bitrate")
    parser.add_argument("--metrics", default=None,
                        help="comma-separated metric columns shown per cell (default: the run's first four)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the balanced pick")
    parser.add_argument("--report", default=None,
                        help="report to link (report.html or its folder; default: RUN_DIR/report/report.html of "
                             "one run)")
    parser.add_argument("--prefer", default=None, metavar="newest|RUN",
                        help="a system found in several runs comes from the newest run, or from run RUN")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier samples page in --out")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from codecbench.samples import build_samples

    def listed(text: str | None) -> list[str] | None:
        return [t.strip() for t in text.split(",") if t.strip()] if text else None

    result = build_samples(args.run_dirs, args.out, args.utterances, args.seed, listed(args.systems), args.utterance,
                           listed(args.metrics), args.report, args.prefer, args.overwrite)
    for note in result.pick.notes:
        print(f"note: {note}")
    print(f"{len(result.pick.utterances)} utterances x {len(result.pick.systems)} systems (+ reference): "
          f"{', '.join(result.pick.systems)}")
    print(f"page: {result.page} ({len(result.files)} files, {result.bytes / 1e6:.2f} MB, "
          f"{result.seconds:.1f} s)")
    return 0
