"""`codecbench validity RATINGS --out DIR`: how well each metric agrees with listeners (`codecbench.validity`)."""

from __future__ import annotations

import argparse

from codecbench.alignment import ALIGN_HELP, ALIGN_MODES, DEFAULT_ALIGN


def register(subparsers: argparse._SubParsersAction) -> None:
    from codecbench.ratings.sources import KINDS

    parser = subparsers.add_parser(
        "validity", help="score a listening test's stimuli and rank metrics by agreement with the listeners",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("ratings", metavar="RATINGS",
                        help="a ratings source: the Stahl et al. 2024 folder (or `stahl2024`: the copy found as "
                             "documented, else the embedded two-item subset), a codecbench ratings.csv export or "
                             "`mushra analyze` output folder, webMUSHRA's mushra.csv, or an ODAQ folder (or `odaq`: "
                             "downloaded once into the user cache, 1.0 GB, MD5-checked)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--metrics", action="append", default=None,
                        help="comma-separated metric names (default: the default metric set)")
    parser.add_argument("--kind", choices=KINDS, default="auto", help="the ratings' layout")
    parser.add_argument("--stimuli", default=None,
                        help="the stimuli: a `mushra build` test folder (codecbench ratings) or webMUSHRA's YAML "
                             "configuration")
    parser.add_argument("--filtered", action="store_true",
                        help="Stahl et al. 2024: start from the authors' post-screened ratings")
    parser.add_argument("--no-screening", action="store_true", help="keep every listener (no BS.1534-3 screening)")
    parser.add_argument("--workers", type=int, default=1, help="metric worker processes")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process")
    parser.add_argument("--resume", action="store_true", help="reuse the stimuli's scores already in --out")
    parser.add_argument("--resamples", type=int, default=None,
                        help="bootstrap replicates (default: codecbench.validity.DEFAULT_RESAMPLES, 2000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--max-delay-s", type=float, default=None,
                        help="largest delay searched by the alignment (default: codecbench.pipeline.MAX_DELAY_S)")
    parser.add_argument("--align", default=DEFAULT_ALIGN, choices=ALIGN_MODES, help=ALIGN_HELP)
    parser.add_argument("--no-plots", action="store_true", help="write no PNG plots")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import sys

    from codecbench.metrics import parse_metric_list
    from codecbench.ratings.stahl import locate_stahl
    from codecbench.resources import set_torch_threads
    from codecbench.validity import DEFAULT_RESAMPLES, assess, format_ranking

    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, not {args.workers}")
    args.resamples = DEFAULT_RESAMPLES if args.resamples is None else args.resamples
    if args.resamples < 100:
        raise ValueError(f"--resamples must be at least 100, not {args.resamples}")
    set_torch_threads(args.threads)
    source = locate_stahl() if args.ratings == "stahl2024" else args.ratings
    if args.ratings == "odaq":
        from codecbench.datasets.rated_corpora import download_odaq

        source = download_odaq()
    result = assess(source, args.out, parse_metric_list(args.metrics), args.kind, args.stimuli, args.filtered,
                    not args.no_screening, args.workers, args.resume, args.resamples, args.seed,
                    not args.no_plots, not args.no_progress, sys.argv, args.max_delay_s,
                    args.align)
    for note in result.ratings.notes:
        print(f"note: {note}", file=sys.stderr)
    print(format_ranking(result))
    return 0
