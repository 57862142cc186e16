"""`codecbench latency`: per-stage latency, RTF, delay, size, FLOPs and memory of codecs on real speech."""

from __future__ import annotations

import argparse

def _choices(allowed: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        values = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise argparse.ArgumentTypeError(f"{text!r}: select from {', '.join(allowed)} (comma-separated)")
        return values

    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    from codecbench.codecs.base import FAST_PATH_OPTIONS
    from codecbench.latency.clips import DEFAULT_UTTERANCE
    from codecbench.latency.measure import SETTINGS

    parser = subparsers.add_parser(
        "latency", help="time codecs per stage (batch-1 clip, streaming frames, batch throughput)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--codec", action="append", default=[], metavar="SPEC",
                        help="a codec spec, e.g. opus@6 or mel2mel:steps=8,sampler=ddim (repeatable)")
    parser.add_argument("--codecs", default=None, help="comma-separated codec specs")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--out", required=True, help="output directory (latency.csv, latency.json)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per setting")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first (compilation, graph capture)")
    parser.add_argument("--batch", type=int, default=32, help="clips per call in the throughput setting")
    parser.add_argument("--batch-runs", type=int, default=None, help="timed runs of the batch setting (default --runs)")
    parser.add_argument("--compile", type=_choices(FAST_PATH_OPTIONS["compile"]), default=["eager"], metavar="MODE[,MODE]",
                        help="decoder fast paths of codecs that have them: eager, compile (torch.compile "
                             "reduce-overhead), graph (one CUDA graph of the sampler; cuda only)")
    parser.add_argument("--dtype", type=_choices(FAST_PATH_OPTIONS["dtype"]), default=["fp32"], metavar="DTYPE[,DTYPE]",
                        help="autocast precision of codecs that have the option: fp32, bf16, fp16")
    parser.add_argument("--settings", type=_choices(SETTINGS), default=list(SETTINGS), metavar="S[,S]",
                        help="clip (3 s at batch 1), stream (frame by frame, causal codecs), batch (throughput)")
    parser.add_argument("--seconds", type=float, default=3.0, help="clip length")
    parser.add_argument("--root", default=None, help="LibriSpeech root (default: the usual lookup, see README)")
    parser.add_argument("--split", default=None,
                        help="LibriSpeech split the clips come from (default: the embedded sample without --root, "
                             "else test-other)")
    parser.add_argument("--utterance", default=DEFAULT_UTTERANCE, help="the utterance of the batch-1 clip")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from codecbench.codecs import parse_spec_list
    from codecbench.latency import measure_latency

    texts = list(args.codec) + ([args.codecs] if args.codecs else [])
    if not texts:
        raise ValueError("name at least one codec: --codec SPEC (e.g. --codec opus@6)")
    result = measure_latency(parse_spec_list(texts), args.out, device=args.device, runs=args.runs,
                             warmup=args.warmup, batch=args.batch, batch_runs=args.batch_runs,
                             compile_modes=args.compile, dtypes=args.dtype, settings=tuple(args.settings),
                             root=args.root, split=args.split, utterance=args.utterance, seconds=args.seconds,
                             threads=args.threads, progress=not args.no_progress)
    print(result.summary_text())
    print(f"\nrows: {result.out / 'latency.csv'}  environment: {result.out / 'latency.json'}")
    return 0
