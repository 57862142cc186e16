"""`codecbench run`: code a dataset with codecs, score it, store rows, print the summary.

With no dataset flags it runs the demo: Opus and Codec 2 on the LibriSpeech sample embedded in the package.
"""

from __future__ import annotations

import argparse
import os

from codecbench.alignment import ALIGN_HELP, ALIGN_MODES, DEFAULT_ALIGN
from codecbench.codecs.registry import DEFAULT_DECODE_SEEDS

DEMO_SPECS = ["opus@6", "opus@12", "codec2@2.4", "codec2@1.2"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run codecs over a dataset and score them (no arguments: the demo)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_dataset_arguments(parser)
    parser.add_argument("--codec", action="append", default=[], metavar="SPEC",
                        help="a codec spec, e.g. opus@6 or mel2mel@1.5:steps=8 (repeatable)")
    parser.add_argument("--codecs", default=None, help="comma-separated codec specs")
    parser.add_argument("--metrics", action="append", default=None,
                        help="comma-separated metric names (default: the default metric set)")
    parser.add_argument("--out", default="results/demo", help="run directory")
    parser.add_argument("--channel", action="append", default=None, metavar="CONDITIONS",
                        help="channel conditions between encoder and decoder, comma-separated (repeatable): clean, "
                             "loss@5%%, loss@10%%:burst=3 (Gilbert-Elliott), loss@trace=FILE (one 0/1 per packet), "
                             "ber@1e-4; rows get a `channel` column")
    parser.add_argument("--input", action="append", default=None, metavar="CONDITIONS",
                        help="input conditions before the encoder, comma-separated (repeatable): clean, white@10dB, "
                             "pink@10dB, babble@10dB (other speakers of the split), reverb@0.6s (RT60); rows get an "
                             "`input` column and `<metric>_e2e` scored against the clean talker")
    add_execution_arguments(parser)
    parser.set_defaults(handler=handle)


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that select the utterances (shared by `run` and `sweep`)."""
    parser.add_argument("--dataset", default="librispeech", choices=["librispeech", "folder"],
                        help="a LibriSpeech layout, or any folder of audio files (ids: relative paths)")
    parser.add_argument("--root", default=None,
                        help="data root: a folder, or a URI fsspec opens (s3://bucket/LibriSpeech; the [cloud] extra); "
                             "default: $CODECBENCH_DATA, the user cache, ../shared/data/LibriSpeech "
                             "(development machines), the embedded sample")
    parser.add_argument("--split", default=None,
                        help="LibriSpeech split; default: `sample` (embedded: 14 test-other utterances) without "
                             "--root/--download, else test-other")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N utterances")
    parser.add_argument("--download", action="store_true",
                        help="download the split from OpenSLR (checksummed) into the user cache if it is missing")


def add_execution_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of how a run executes (shared by `run` and `sweep`)."""
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="local: worker processes that code (CPU codecs) and score (1: all in this process); "
                             "ray without --ray-address: the CPUs of the Ray instance started here")
    parser.add_argument("--engine", default="local", choices=["local", "ray"],
                        help="local: this machine's processes; ray: a Ray cluster (needs the [ray] extra)")
    parser.add_argument("--ray-address", default=None, metavar="ADDRESS",
                        help="join a running Ray cluster (auto, ray://HOST:10001); default: start Ray here")
    parser.add_argument("--actors", type=int, default=None,
                        help="ray: codec actors (default: one per CPU of the cluster, one per GPU with --device cuda)")
    parser.add_argument("--device", default="cpu", help="device for neural codecs (cpu, cuda)")
    parser.add_argument("--seed", type=int, default=0, help="run seed")
    parser.add_argument("--align", default=None, choices=ALIGN_MODES,
                        help=ALIGN_HELP + f"; default: a resumed run's own, else {DEFAULT_ALIGN}")
    parser.add_argument("--decode-seeds", type=int, default=DEFAULT_DECODE_SEEDS, metavar="N",
                        help="decode stochastic specs (the diffusion codecs; not their deterministic diffusion=off "
                             "controls, never a deterministic codec) N times per utterance: adds seeds=N to their "
                             "specs unless they set seeds; rows hold the mean over seeds and <metric>_seed_std, "
                             "CIs run over utterances of those means (1: a single decode, no seed spread)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads of the torch codecs, in this process (local engine) or each Ray actor; "
                             "default 1 on both engines, so both give the same numbers (a torch codec's last float "
                             "bits can change with the count); recorded in run.json")
    parser.add_argument("--keep-audio", action="store_true",
                        help="keep every row's decoded audio as FLAC (24-bit, at the codec's output rate) in OUT/audio/, "
                             "its SHA-256 in the row's audio_sha256 (for `codecbench samples` and `mushra build`)")
    parser.add_argument("--resume", action="store_true",
                        help="finish (or extend) the run in --out; codecs and metrics default to the run's")
    parser.add_argument("--overwrite", action="store_true", help="discard a previous run in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def handle(args: argparse.Namespace) -> int:
    from codecbench.channel import parse_channels
    from codecbench.channel.inputs import parse_inputs
    from codecbench.codecs import parse_spec_list
    from codecbench.codecs.registry import with_decode_seeds
    from codecbench.datasets import select
    from codecbench.engines import make_engine
    from codecbench.metrics import parse_metric_list
    from codecbench.rundir import RunDir
    from codecbench.runner import run_benchmark

    previous = RunDir(args.out).read_info() if args.resume else None  # --resume defaults to the run's own choices
    texts = list(args.codec) + ([args.codecs] if args.codecs else [])
    if previous and not texts:  # a resumed run's specs as it ran them (their seeds were set when it started)
        specs = parse_spec_list(previous.config["specs"])
    else:
        specs = with_decode_seeds(parse_spec_list(texts or DEMO_SPECS), args.decode_seeds)
    metrics = parse_metric_list(args.metrics or (previous.config["metrics"] if previous else None))
    channel_texts = args.channel or (previous.config.get("channels") if previous else None)
    channels = None if channel_texts is None else parse_channels(channel_texts)
    input_texts = args.input or (previous.config.get("inputs") if previous else None)
    inputs = None if input_texts is None else parse_inputs(input_texts)
    align = args.align or (previous.config.get("align") if previous else None) or DEFAULT_ALIGN
    selection = select(args.dataset, args.root, args.split, args.limit, args.download)
    print(selection.describe())
    engine = make_engine(args.engine, args.workers, args.device, args.ray_address, args.actors, args.threads)
    with engine:
        result = run_benchmark(selection, specs, metrics, args.out, workers=args.workers, resume=args.resume,
                               overwrite=args.overwrite, seed=args.seed, device=args.device,
                               progress=not args.no_progress, engine=engine, channels=channels, inputs=inputs,
                               align=align, keep_audio=args.keep_audio)
    print(result.summary_text())
    print(f"\nrows: {result.out / 'utterances.parquet'}  summary: {result.out / 'summary.csv'}  "
          f"provenance: {result.out / 'run.json'}")
    if args.keep_audio:
        from codecbench.kept_audio import FOLDER, folder_bytes

        print(f"decoded audio: {result.out / FOLDER} ({folder_bytes(result.out) / 1e6:.2f} MB; "
              f"codecbench samples {result.out} --out DIR makes a listening page)")
    return 0
