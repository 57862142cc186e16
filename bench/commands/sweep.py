"""`codecbench sweep`: one codec spec over a grid of its options (e.g. midway-infilling's tau x gamma, or a
sampler's steps), a metric per grid point as a CSV and a heat map (2-D) or line plot (1-D)."""

from __future__ import annotations

import argparse

from codecbench.commands.run import add_dataset_arguments, add_execution_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep", help="run a codec over a grid of its options; CSV + heat map / line plot of a metric",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("spec", help="the codec spec every grid point starts from, e.g. ladiffcodec@1.5")
    parser.add_argument("--param", action="append", required=True, metavar="NAME=V1,V2",
                        help="a codec option and its values, e.g. tau=25,50,100,200 (one or two --param)")
    parser.add_argument("--metric", default="pesq_wb", help="the metric tabulated and plotted")
    parser.add_argument("--metrics", default=None, help="comma-separated further metrics to compute and store")
    add_dataset_arguments(parser)
    parser.add_argument("--out", required=True, help="run directory (run outputs, sweep.csv, sweep.png)")
    add_execution_arguments(parser)
    parser.set_defaults(handler=handle)


def _align(args: argparse.Namespace) -> str:
    """`--align`, else a resumed run's own, else the default."""
    from codecbench.alignment import DEFAULT_ALIGN
    from codecbench.rundir import RunDir

    previous = RunDir(args.out).read_info() if args.resume and args.align is None else None
    return args.align or (previous.config.get("align") if previous else None) or DEFAULT_ALIGN


def handle(args: argparse.Namespace) -> int:
    from codecbench.codecs import parse_spec
    from codecbench.datasets import select
    from codecbench.engines import make_engine
    from codecbench.metrics import parse_metric_list
    from codecbench.sweep import parse_param, run_sweep

    params: dict[str, list[str]] = {}
    for text in args.param:
        name, values = parse_param(text)
        if name in params:
            raise ValueError(f"--param {name} given twice")
        params[name] = values
    metric = parse_metric_list([args.metric])
    if len(metric) != 1:
        raise ValueError(f"--metric takes one metric name, not {args.metric!r}")
    extra = parse_metric_list([args.metrics]) if args.metrics else []
    selection = select(args.dataset, args.root, args.split, args.limit, args.download)
    print(selection.describe())
    engine = make_engine(args.engine, args.workers, args.device, args.ray_address, args.actors, args.threads)
    with engine:
        result = run_sweep(selection, parse_spec(args.spec), params, metric[0], args.out, extra,
                           decode_seeds=args.decode_seeds, workers=args.workers,
                           resume=args.resume, overwrite=args.overwrite, seed=args.seed, device=args.device,
                           progress=not args.no_progress, engine=engine, align=_align(args),
                           keep_audio=args.keep_audio)
    columns = [c for c in result.table.columns if c not in ("spec", "skipped")]
    print(result.table[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\ntable: {result.run.out / 'sweep.csv'}  figure: {result.figure}  rows: {result.run.out / 'utterances.csv'}")
    return 0
