"""`codecbench score`: score audio decoded elsewhere against its reference.

- `codecbench score REF DEG`: one pair; prints one JSON object. Both files are read at the working rate
  (conversions recorded), the delay is found and removed, and each metric resamples to its own rate.
- `codecbench score REF_DIR DEG_DIR --out RUN` (files matched by name) or `codecbench score --pairs
  pairs.csv --out RUN`: many pairs into a run folder (`codecbench.pairs`), each pair read at its reference's
  rate, in `--workers` metric processes; `codecbench report RUN` reads it like any run.
"""

from __future__ import annotations

import argparse
import json
import math

from codecbench.alignment import ALIGN_HELP, ALIGN_MODES, DEFAULT_ALIGN


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score", help="score DEG against REF with any metrics; one JSON object on one line",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("reference", metavar="REF", nargs="?", help="reference audio file (or folder, with --out)")
    parser.add_argument("degraded", metavar="DEG", nargs="?",
                        help="degraded (decoded) audio file (or folder of files named as the references, with --out)")
    parser.add_argument("--pairs", metavar="CSV", default=None,
                        help="CSV of pairs: reference,degraded[,item][,condition] (paths relative to the CSV)")
    parser.add_argument("--out", default=None, help="run folder for many pairs (folders or --pairs)")
    parser.add_argument("--condition", default=None,
                        help="condition name of a decoded folder's files (default: the folder's name)")
    parser.add_argument("--workers", type=int, default=1, help="metric worker processes (many pairs)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process (metrics on torch)")
    parser.add_argument("--resume", action="store_true", help="score the pairs a run folder lacks")
    parser.add_argument("--keep-audio", action="store_true",
                        help="many pairs: keep each decoded file as scored (FLAC, 24-bit) in OUT/audio/, its SHA-256 "
                             "in the row's audio_sha256")
    parser.add_argument("--overwrite", action="store_true", help="discard a previous run in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--metrics", action="append", default=None,
                        help="comma-separated metric names (default: the default metric set)")
    parser.add_argument("--max-delay-s", type=float, default=None,
                        help="largest delay searched by the alignment (default: codecbench.pipeline.MAX_DELAY_S)")
    parser.add_argument("--align", default=DEFAULT_ALIGN, choices=ALIGN_MODES, help=ALIGN_HELP)
    parser.set_defaults(handler=handle)


def score_files(reference: str, degraded: str, metrics: list[str], max_delay_s: float | None = None,
                align: str = DEFAULT_ALIGN) -> dict:
    """Scores of `degraded` against `reference` as a JSON-ready dict (NaN -> None).

    Args:
        max_delay_s: the alignment's search range (default: the pipeline's, as in `run`).
        align: the delay rule (`--align`; a file pair declares no delay, so `auto` is the envelope estimate).

    Raises:
        AudioError: a file cannot be read or is empty.
    """
    from codecbench import pipeline
    from codecbench.audio import load_audio

    ref = load_audio(reference, pipeline.WORKING_RATE, check=False)
    deg = load_audio(degraded, pipeline.WORKING_RATE, check=False)
    scored = pipeline.score(pipeline.Coded.external(ref.samples, deg.samples), metrics,
                            pipeline.MAX_DELAY_S if max_delay_s is None else max_delay_s, align_mode=align)
    return {
        "reference": reference, "degraded": degraded, "sample_rate": pipeline.WORKING_RATE,
        "conversions": {"reference": ref.conversions, "degraded": deg.conversions},
        "delay_samples": scored.delay_samples, "delay_method": scored.delay.method,
        "delay_confidence": None if math.isnan(scored.delay.confidence) else scored.delay.confidence,
        "delay_flag": scored.delay.flag,
        "scores": {k: (None if math.isnan(v) else v) for k, v in scored.values.items()},
        "errors": dict(scored.errors),
    }


def handle(args: argparse.Namespace) -> int:
    from codecbench.metrics import parse_metric_list

    metrics = parse_metric_list(args.metrics)
    if args.pairs or args.out:
        return _handle_many(args, metrics)
    if not (args.reference and args.degraded):
        raise ValueError("score needs REF DEG (one pair), REF_DIR DEG_DIR --out RUN, or --pairs CSV --out RUN")
    if args.keep_audio:
        raise ValueError("--keep-audio keeps the decoded files of many pairs in a run folder: add --out RUN")
    print(json.dumps(score_files(args.reference, args.degraded, metrics, args.max_delay_s, args.align),
                     allow_nan=False))
    return 0


def _handle_many(args: argparse.Namespace, metrics: list[str]) -> int:
    """Many pairs into the run folder `--out`; prints the summary."""
    import sys

    from codecbench import pairs
    from codecbench.resources import set_torch_threads
    from codecbench.summary import format_summary

    if not args.out:
        raise ValueError("scoring many pairs needs --out RUN (the run folder)")
    if args.pairs and (args.reference or args.degraded):
        raise ValueError("give either --pairs CSV or REF_DIR DEG_DIR, not both")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, not {args.workers}")
    set_torch_threads(args.threads)
    if args.pairs:
        listed, source = pairs.pairs_from_csv(args.pairs), str(args.pairs)
    elif args.reference and args.degraded:
        listed = pairs.pairs_from_folders(args.reference, args.degraded, args.condition)
        source = f"{args.reference} {args.degraded}"
    else:
        raise ValueError("scoring many pairs needs REF_DIR DEG_DIR or --pairs CSV")
    result = pairs.score_pairs(listed, metrics, args.out, source, workers=args.workers, resume=args.resume,
                               overwrite=args.overwrite, max_delay_s=pairs.pipeline.MAX_DELAY_S
                               if args.max_delay_s is None else args.max_delay_s, align_mode=args.align,
                               progress=not args.no_progress, command=sys.argv, keep_audio=args.keep_audio)
    print(format_summary(result.summary, result.metric_columns))
    print(f"{len(result.rows)} pairs in {result.out} (codecbench report {result.out})")
    return 0
