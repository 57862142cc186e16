"""`codecbench score REF DEG`: score one degraded file against its reference; prints one JSON object.

The pair goes through `pipeline.score`, as every row of a run does: both files are read at the working rate
(conversions recorded), the delay is found and removed, and each metric resamples to its own rate.
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
    parser.add_argument("reference", metavar="REF", help="reference audio file")
    parser.add_argument("degraded", metavar="DEG", help="degraded (decoded) audio file")
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
    print(json.dumps(score_files(args.reference, args.degraded, metrics, args.max_delay_s, args.align), allow_nan=False))
    return 0
