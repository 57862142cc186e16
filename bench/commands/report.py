"""`codecbench report`: tables, significance, rankings, plots and claim-check from the stored results of one run,
or of several runs merged (`codecbench report RUN_A RUN_B --out DIR`)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="write a paper-ready report of finished runs (never re-runs codecs)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                        help="run directories written by `codecbench run`; several are merged into one report "
                             "(same inputs, metric versions and working rate; rows join on utterance and input SHA-256). "
                             "In runs with --channel/--input conditions every spec under every condition is a compared "
                             "system (`opus@6 · loss@10%%`), and a robustness section is added")
    parser.add_argument("--format", default="md,tex,html",
                        help="comma-separated report formats: md, tex, html (CSV and PNG/PDF are always written)")
    parser.add_argument("--out", default=None, help="report directory (default: RUN_DIR/report; required with several runs)")
    parser.add_argument("--prefer", default=None, metavar="newest|RUN",
                        help="a spec found in several runs is reported from the newest run, or from run RUN")
    parser.add_argument("--metrics", default=None,
                        help="comma-separated metric columns (or metrics) to report, e.g. pesq_wb,stoi (default: all)")
    parser.add_argument("--latency", default=None, metavar="DIR", help="latency.csv of `codecbench latency`, or its directory")
    parser.add_argument("--mushra", default=None, metavar="DIR",
                        help="MUSHRA summary.csv (`codecbench mushra analyze`) or ratings.csv, or their directory")
    parser.add_argument("--listening", action="append", default=None, metavar="DIR",
                        help="an ACR, DCR, CCR or A/B analysis folder (`codecbench mushra analyze --type acr|dcr|ccr|ab --out DIR`); "
                             "repeat for several studies")
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
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    result = build_report(args.run_dirs, out=args.out, formats=formats, latency=args.latency, mushra=args.mushra,
                          listening=args.listening,
                          claims=args.claims, group_by=args.group_by, ci=CiMethod(args.ci, args.seed, args.resamples),
                          alpha=args.alpha, prefer=args.prefer, metrics=metrics)
    results = result.document.sections[0].blocks
    print(grid_markdown(results[0]))
    for sentence in (b for b in results if isinstance(b, str)):
        print("\n" + sentence)
    claims = next((s for s in result.document.sections if s.title == "Claim-check"), None)
    if claims is not None:
        print("\n" + grid_markdown(claims.blocks[0]))
    print(f"\nreport: {result.out} ({', '.join(p.name for p in result.files if p.parent == result.out)}; "
          f"{sum(p.parent != result.out for p in result.files)} figure files)")
    return 0
