"""`codecbench report`: tables, significance, rankings, plots and claim-check from a run's stored results."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="write a paper-ready report of a finished run (never re-runs codecs)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `codecbench run`")
    parser.add_argument("--format", default="md,tex,html",
                        help="comma-separated report formats: md, tex, html (CSV and PNG/PDF are always written)")
    parser.add_argument("--out", default=None, help="report directory (default: RUN_DIR/report)")
    parser.add_argument("--latency", default=None, metavar="DIR", help="latency.csv of `codecbench latency`, or its directory")
    parser.add_argument("--mushra", default=None, metavar="DIR",
                        help="MUSHRA summary.csv (`codecbench mushra analyze`) or ratings.csv, or their directory")
    parser.add_argument("--claims", default=None, metavar="FILE",
                        help="claims YAML to check, or a shipped one by name: seed_papers")
    parser.add_argument("--group-by", default=None, choices=["split", "speaker"], help="also tabulate per group")
    parser.add_argument("--ci", default="t",
                        help="confidence interval of the means: t (Student-t, as in summary.csv) or bca (BCa bootstrap)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (--ci bca)")
    parser.add_argument("--resamples", type=int, default=9999, help="bootstrap resamples (--ci bca)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (Holm-corrected)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from codecbench.report import build_report
    from codecbench.report.document import grid_markdown
    from codecbench.stats import CiMethod

    formats = tuple(f.strip().lower() for f in args.format.split(",") if f.strip())
    result = build_report(args.run_dir, out=args.out, formats=formats, latency=args.latency, mushra=args.mushra,
                          claims=args.claims, group_by=args.group_by, ci=CiMethod(args.ci, args.seed, args.resamples),
                          alpha=args.alpha)
    results = result.document.sections[0].blocks[0]
    print(grid_markdown(results))
    claims = next((s for s in result.document.sections if s.title == "Claim-check"), None)
    if claims is not None:
        print("\n" + grid_markdown(claims.blocks[0]))
    print(f"\nreport: {result.out} ({', '.join(p.name for p in result.files if p.parent == result.out)}; "
          f"{sum(p.parent != result.out for p in result.files)} figure files)")
    return 0
