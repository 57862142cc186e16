"""`codecbench score REF DEG`: score one degraded file against its reference; prints one JSON object.

The pair goes through the runner's own path: both files are read at the working rate (conversions
recorded), the delay is found and removed, and each metric resamples to its own rate.
"""

from __future__ import annotations

import argparse
import json
import math


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score", help="score DEG against REF with any metrics; one JSON object on one line",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("reference", metavar="REF", help="reference audio file")
    parser.add_argument("degraded", metavar="DEG", help="degraded (decoded) audio file")
    parser.add_argument("--metrics", action="append", default=None,
                        help="comma-separated metric names (default: the default metric set)")
    parser.add_argument("--max-delay-s", type=float, default=0.25, help="largest delay searched by the alignment")
    parser.set_defaults(handler=handle)


def score_files(reference: str, degraded: str, metrics: list[str], max_delay_s: float = 0.25) -> dict:
    """Scores of `degraded` against `reference` as a JSON-ready dict (NaN -> None).

    Raises:
        AudioError: a file cannot be read or is empty.
    """
    from codecbench.audio import load_audio
    from codecbench.runner import WORKING_RATE, score_pair

    ref = load_audio(reference, WORKING_RATE, check=False)
    deg = load_audio(degraded, WORKING_RATE, check=False)
    result = score_pair(ref.samples, deg.samples, WORKING_RATE, metrics, int(round(max_delay_s * WORKING_RATE)))
    return {
        "reference": reference, "degraded": degraded, "sample_rate": WORKING_RATE,
        "conversions": {"reference": ref.conversions, "degraded": deg.conversions},
        "delay_samples": result["delay_samples"],
        "scores": {k: (None if math.isnan(v) else v) for k, v in result["values"].items()},
        "errors": result["errors"],
    }


def handle(args: argparse.Namespace) -> int:
    from codecbench.metrics import parse_metric_list

    metrics = parse_metric_list(args.metrics)
    print(json.dumps(score_files(args.reference, args.degraded, metrics, args.max_delay_s), allow_nan=False))
    return 0
