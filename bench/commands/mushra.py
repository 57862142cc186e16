"""`codecbench mushra build|serve|invite|export|analyze`: MUSHRA listening tests (ITU-R BS.1534-3)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codecbench.alignment import ALIGN_HELP, ALIGN_MODES
from codecbench.listening_test.events import DEFAULT_MIN_PLAY_S
from codecbench.listening_test.headphones import MIN_CORRECT, ROUNDS

LISTENING_EXTRA = 'pip install "codecbench[listening]"'


class _DefaultsOnce(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default once: not where its help already says it, nor for unset (None) or off flags."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False) or "(default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def register(subparsers: argparse._SubParsersAction) -> None:
    """The `mushra` subcommand and its four actions' flags (one long function: a flat list of `add_argument`
    calls reads best beside the functions they feed)."""
    parser = subparsers.add_parser(
        "mushra", help="MUSHRA listening tests: build a test, serve it, export and analyse the ratings",
        formatter_class=_DefaultsOnce)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    build = _action(actions, "build", "build a test folder from a run or a stimulus folder")
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="a finished `codecbench run` folder (its codecs are re-run)")
    source.add_argument("--stimuli", help="a folder <item>/<condition>.wav with reference.wav in each item")
    build.add_argument("--out", required=True, help="the test folder to write")
    build.add_argument("--conditions", default=None,
                       help="comma-separated conditions (default: all); reference and anchors are always added. "
                            "In a run with --channel/--input conditions, a spec under its conditions: "
                            "'opus@6,opus@6 · loss@10%%' (a spec alone is its clean channel and input)")
    build.add_argument("--items", type=int, default=10,
                       help="test items (at least 5; below 7 one slip excludes a listener in post-screening)")
    build.add_argument("--training-items", type=int, default=1, help="training items (distinct from the test)")
    build.add_argument("--seed", type=int, default=0, help="item selection seed")
    build.add_argument("--name", default=None, help="the test's name (default: the folder name)")
    build.add_argument("--loudness", type=float, default=-26.0, help="common BS.1770 loudness, LUFS")
    build.add_argument("--max-excerpt", type=float, default=12.0, help="longest excerpt, s (at most 12)")
    build.add_argument("--exact-excerpt", action="store_true",
                       help="cut every excerpt to exactly --max-excerpt seconds (shorter utterances are not used)")
    build.add_argument("--min-play", type=float, default=DEFAULT_MIN_PLAY_S,
                       help="seconds every stimulus and the Reference must be heard (or to its end) before Next; "
                            "0 turns the rule off")
    build.add_argument("--mid-anchor", default="auto",
                       help="the mid anchor: auto (chosen for the material's bandwidth: lowpass@5k for 16 kHz "
                            "speech, lowpass@7k from 32 kHz on) or lowpass@<kHz>k")
    build.add_argument("--no-anchors", action="store_true",
                       help="no low and mid anchor (a MUSHRA-like test; analysis skips the anchor rule)")
    build.add_argument("--texts", default=None,
                       help="a YAML file with the welcome, privacy, consent, instructions, end texts, language, "
                            "questionnaire and player labels (default: English)")
    build.add_argument("--traps", type=int, default=2,
                       help="test items that get a trapping stimulus (a spoken 'rate this one zero' or 'one "
                            "hundred'); a listener who fails one is excluded by analyze; 0: none")
    build.add_argument("--require-headphones", action="store_true",
                       help="the checks cannot be skipped, and a listener who fails the headphone screen is "
                            "screened out at once (serve --screened-out-code); sealed in the test")
    build.add_argument("--min-duration", type=float, default=3.0, help="shortest usable utterance of a run, s")
    build.add_argument("--device", default="cpu", help="device for neural codecs")
    build.add_argument("--overwrite", action="store_true", help="replace a test built in --out")
    build.add_argument("--align", default=None, choices=ALIGN_MODES,
                       help=ALIGN_HELP + "; places a run's stimuli on the reference's timeline (default: the run's own)")
    build.add_argument("--type", default="mushra", choices=("mushra", "acr", "dcr", "ccr", "ab"),
                       help="the test type: MUSHRA (BS.1534-3), ACR (ITU-T P.808 5-point MOS; the reference is the "
                            "gold clip), DCR (reference then processed, 5-point degradation scale, DMOS), CCR "
                            "(reference and processed in random order, -3..+3, CMOS) or A/B preference (see "
                            "docs/listening-tests.md)")
    build.add_argument("--pairs", default=None,
                       help="A/B: the pairs compared, 'A:B,C:D' or a file with one A:B per line (default: every pair "
                            "of the tested conditions)")
    build.add_argument("--ab-reference", action="store_true",
                       help="A/B: show the reference beside A and B (which one is closer to it?)")
    build.add_argument("--forced-choice", action="store_true", help="A/B: no 'no preference' answer")
    build.set_defaults(handler=handle_build)

    serve = _action(actions, "serve", "serve a test to listeners (Gradio) with an admin page")
    serve.add_argument("test_dir", metavar="TESTDIR", help="a test folder written by `mushra build`")
    serve.add_argument("--port", type=int, default=7860, help="HTTP port")
    serve.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to accept listeners from other machines")
    password = serve.add_mutually_exclusive_group()
    password.add_argument("--admin-password-file", default=None,
                          help="a file whose first line is the password of user 'admin' on /admin/, readable "
                               "by its owner only (chmod 600; default: $CODECBENCH_MUSHRA_ADMIN_PASSWORD, else a "
                               "random one, printed)")
    password.add_argument("--admin-password", default=None,
                          help="the admin password itself: visible to every user of this machine (ps); prefer "
                               "the environment variable or --admin-password-file")
    serve.add_argument("--db", default=None, help="results database (default: TESTDIR/results/mushra.sqlite)")
    serve.add_argument("--registration", choices=("open", "invite"), default="open",
                       help="open: anyone with the address may start; invite: only with a link from "
                            "`codecbench mushra invite`")
    serve.add_argument("--registrations-per-hour", type=int, default=60,
                       help="open registrations accepted from one client address in any hour (invited and "
                            "returning listeners do not count)")
    serve.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                       help="a reverse proxy whose X-Forwarded-For header names the client (repeatable); "
                            "without one the connection's peer is the client")
    serve.add_argument("--no-level-check", action="store_true",
                       help="no check screen (level, left/right and headphone screen) before the training")
    serve.add_argument("--no-headphone-screen", action="store_true",
                       help="leave the Huggins-pitch headphone screen out of the check screen")
    serve.add_argument("--completion-url", default=None,
                       help="where listeners go when done, e.g. https://app.prolific.com/submissions/complete?cc=CODE "
                            "({PROLIFIC_PID}-style placeholders are filled in)")
    serve.add_argument("--completion-code", default=None, help="a completion code shown on the end page")
    serve.add_argument("--screened-out-url", default=None,
                       help="where a listener screened out by a --require-headphones test goes (placeholders as in "
                            "--completion-url)")
    serve.add_argument("--screened-out-code", default=None,
                       help="the code shown to a listener screened out by a --require-headphones test (e.g. "
                            "Prolific's 'screened out' code)")
    serve.add_argument("--concurrency", type=int, default=8, help="events handled at once per event type")
    serve.set_defaults(handler=handle_serve)

    invite = _action(actions, "invite", "create personal invitation links (one listener each)")
    invite.add_argument("test_dir", metavar="TESTDIR", help="a test folder written by `mushra build`")
    invite.add_argument("count", type=int, metavar="N", help="how many links")
    invite.add_argument("--db", default=None, help="results database (default: TESTDIR/results/mushra.sqlite)")
    invite.add_argument("--url", default="http://localhost:7860/", help="the address listeners open")
    invite.set_defaults(handler=handle_invite)

    export = _action(actions, "export",
                     "write ratings.csv (events.csv, listening.csv) from a test's database, opened read-only")
    export.add_argument("test_dir", metavar="TESTDIR", help="a test folder written by `mushra build`")
    export.add_argument("--db", default=None, help="results database (default: TESTDIR/results/mushra.sqlite)")
    export.add_argument("--out", default="ratings.csv", help="the ratings file")
    export.add_argument("--events", default=None, help="also write the event log here")
    export.add_argument("--listening", default=None,
                        help="also write per-stimulus serving and play-time records here")
    export.add_argument("--trials", default=None,
                        help="also write per-trial times here (time on the trial, listening time, least-heard stimulus)")
    export.add_argument("--listeners", default=None,
                        help="also write per-listener records here (self-reported expertise and headphones, platform "
                             "ids, checks, time taken, end-page answers)")
    export.set_defaults(handler=handle_export)

    analyze = _action(actions, "analyze", "screen listeners (BS.1534-3) and analyse a ratings.csv")
    analyze.add_argument("ratings", metavar="RATINGS_CSV", help="ratings in the export format (from any source)")
    analyze.add_argument("--out", required=True, help="output folder")
    analyze.add_argument("--type", default="mushra", choices=("mushra", "acr", "dcr", "ccr", "ab"),
                         help="the test type the ratings come from (acr, dcr, ccr: MOS, DMOS, CMOS with gold-clip screening; ab: "
                              "preference shares and a Bradley-Terry ranking)")
    analyze.add_argument("--reference", default="reference", help="the hidden reference's condition name")
    analyze.add_argument("--mid-anchor", default="auto",
                         help="the mid anchor's condition name (auto: lowpass@7k, else the highest low-pass above "
                              "lowpass@3.5k; none: no anchor rule)")
    analyze.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    analyze.add_argument("--no-screening", action="store_true",
                         help="keep every listener (screening.csv still shows the counts)")
    analyze.add_argument("--listeners", default=None,
                         help="the listeners file of `export --listeners`: reports each listener's headphone screen")
    analyze.add_argument("--headphone-rule", choices=("report", "exclude"), default="report",
                         help="exclude: also exclude listeners who did not pass the headphone screen")
    analyze.add_argument("--timing-rule", choices=("exclude", "report"), default="exclude",
                         help="with --listeners: exclude (default) listeners with any trial whose play log cannot "
                              "be true or more than 15 %% of test trials sent too fast, or only report them")
    analyze.add_argument("--headphone-min-correct", type=int, default=MIN_CORRECT,
                         help=f"correct rounds (of {ROUNDS}) that pass the headphone screen")
    analyze.set_defaults(handler=handle_analyze)


def _action(actions: argparse._SubParsersAction, name: str, text: str) -> argparse.ArgumentParser:
    return actions.add_parser(name, help=text, formatter_class=_DefaultsOnce)


def _require_listening() -> None:
    try:
        import pingouin  # noqa: F401
        import pyloudnorm  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as exc:
        raise ValueError(f"{exc.name} is missing: {LISTENING_EXTRA}") from None


def handle_build(args: argparse.Namespace) -> int:
    _require_listening()
    from codecbench.listening_test.anchors import Anchors
    from codecbench.listening_test.build import Protocol
    from codecbench.listening_test.events import ListeningRule
    from codecbench.listening_test.texts import load_texts
    from codecbench.listening_test.types.build import build_typed_test, parse_pairs

    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()] if args.conditions else None
    protocol = Protocol(ListeningRule(args.min_play), load_texts(args.texts),
                        Anchors(args.mid_anchor, not args.no_anchors), args.exact_excerpt, args.traps,
                        args.require_headphones)
    if args.type != "ab" and (args.pairs or args.ab_reference or args.forced_choice):
        raise ValueError("--pairs, --ab-reference and --forced-choice belong to --type ab")
    result = build_typed_test(args.type, args.out, parse_pairs(args.pairs), args.ab_reference,
                              not args.forced_choice, texts_given=args.texts is not None, run=args.run,
                              stimuli=args.stimuli, conditions=conditions, items=args.items,
                        training_items=args.training_items, seed=args.seed, name=args.name,
                        target_lufs=args.loudness, max_excerpt_s=args.max_excerpt, min_duration_s=args.min_duration,
                        device=args.device, overwrite=args.overwrite, protocol=protocol, align=args.align)
    spans = result.loudness.groupby(["phase", "item"], sort=False)["lufs_after"].agg(["min", "max"])
    print(f"stimuli aligned to {result.aligned_lufs:.2f} LUFS (BS.1770); per item, loudness min / max:")
    for (phase, item), row in spans.iterrows():
        flag = "  FLAGGED: spans more than 1 LU" if row["max"] - row["min"] > 1.0 else ""
        print(f"  {phase:8s} {item:24s} {row['min']:7.2f} / {row['max']:7.2f} LUFS{flag}")
    for anchor, measures in result.anchor_distance.items():
        print(f"anchor {anchor}: difference to the reference {measures['removed_db'][0]:.1f} to "
              f"{measures['removed_db'][1]:.1f} dB of its energy, log-spectral distance {measures['lsd_db'][0]:.1f} "
              f"to {measures['lsd_db'][1]:.1f} dB")
    print(f"test folder: {result.out} ({args.type} test: test.yaml, stimuli/, loudness.csv, SHA256SUMS)")
    if result.flagged:
        print(f"warning: {len(result.flagged)} items span more than 1 LU: {result.flagged}")
    for note in result.warnings:
        print(f"warning: {note}", file=sys.stderr)
    return 0


def handle_serve(args: argparse.Namespace) -> int:
    _require_listening()
    from codecbench.listening_test.platforms import Completion
    from codecbench.listening_test.store import MushraStore, Registration, default_db
    from codecbench.listening_test.testdef import load_test

    password = _admin_password(args)
    registration = Registration(args.registration == "invite", args.registrations_per_hour)
    test = load_test(args.test_dir)
    if test.require_headphones and (args.no_level_check or args.no_headphone_screen):
        raise ValueError(f"{args.test_dir} was built with --require-headphones: it cannot be served with "
                         "--no-level-check or --no-headphone-screen")
    if (args.screened_out_url or args.screened_out_code) and not test.require_headphones:
        raise ValueError("--screened-out-url and --screened-out-code need a test built with --require-headphones")
    store = MushraStore(args.db or default_db(args.test_dir), test, not args.no_level_check,
                        registration, not args.no_headphone_screen, Completion(args.completion_url,
                                                                                 args.completion_code),
                        Completion(args.screened_out_url, args.screened_out_code))
    # a database it cannot write stopped serve here, before Gradio loads
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise ValueError(f"gradio is missing: {LISTENING_EXTRA}") from None
    from codecbench.listening_test.app import serve

    serve(store, port=args.port, host=args.host, admin_password=password, concurrency=args.concurrency,
          trusted_proxies=tuple(args.trusted_proxy))
    return 0


def _admin_password(args: argparse.Namespace) -> str | None:
    """The password from --admin-password-file or --admin-password (None: serve's own default)."""
    if args.admin_password:
        print("warning: --admin-password is visible to every user of this machine (ps); use "
              "$CODECBENCH_MUSHRA_ADMIN_PASSWORD or --admin-password-file", file=sys.stderr)
        return args.admin_password
    if not args.admin_password_file:
        return None
    path = Path(args.admin_password_file)
    if path.exists() and path.stat().st_mode & 0o077:
        raise ValueError(f"{path} may be read by other users (mode {path.stat().st_mode & 0o777:o}): "
                         f"run chmod 600 {path}")
    lines = path.read_text().splitlines()
    if not lines or not lines[0]:
        raise ValueError(f"{args.admin_password_file} is empty: its first line must be the admin password")
    return lines[0]


def handle_invite(args: argparse.Namespace) -> int:
    _require_listening()
    from codecbench.listening_test.store import MushraStore, default_db
    from codecbench.listening_test.testdef import load_test

    if not 1 <= args.count <= 10000:
        raise ValueError(f"N must be from 1 to 10000, not {args.count}")
    store = MushraStore(args.db or default_db(args.test_dir), load_test(args.test_dir))
    base = args.url if args.url.endswith("/") else args.url + "/"
    for code in store.create_invites(args.count):
        print(f"{base}?invite={code}")
    return 0


def handle_export(args: argparse.Namespace) -> int:
    _require_listening()
    from codecbench.listening_test.attention import listeners_export
    from codecbench.listening_test.results import ResultsDB, export_ratings
    from codecbench.listening_test.store import default_db
    from codecbench.listening_test.testdef import load_test
    from codecbench.safecsv import write_csv

    test = load_test(args.test_dir)
    db = args.db or default_db(args.test_dir)
    table = export_ratings(db, test, args.out)
    print(f"{len(table)} ratings of {table['listener'].nunique()} listeners -> {args.out}")
    results = ResultsDB(db, test)
    for path, what, read in ((args.events, "events", results.events),
                             (args.listening, "stimulus records", results.listening),
                             (args.trials, "trial records", results.trials),
                             (args.listeners, "listener records", lambda: listeners_export(results))):
        if path:
            frame = read()
            write_csv(frame, path, private=True)
            print(f"{len(frame)} {what} -> {path}")
    return 0


def handle_analyze(args: argparse.Namespace) -> int:
    _require_listening()
    from codecbench.listening_test.analysis import analyze

    if args.type != "mushra":
        return _analyze_type(args)
    mid_anchor = None if args.mid_anchor.lower() == "none" else args.mid_anchor
    result = analyze(args.ratings, args.out, reference=args.reference, mid_anchor=mid_anchor,
                     plots=not args.no_plots, screening=not args.no_screening, listeners=args.listeners,
                     headphone_rule=args.headphone_rule, headphone_min_correct=args.headphone_min_correct,
                     timing_rule=args.timing_rule)
    excluded = result.screening.excluded
    print(f"listeners: {len(result.screening.listeners)}, excluded by post-screening: {len(excluded)}")
    for row in excluded.itertuples():
        print(f"  {row.listener}: {row.reason}")
    shown = result.summary[["condition", "n", "mean", "ci95_low", "ci95_high", "median", "iqr"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    for note in result.notes:
        print(f"note: {note}")
    print(f"written to {result.out}")
    return 0


def _analyze_type(args: argparse.Namespace) -> int:
    """`mushra analyze --type acr|dcr|ccr|ab`: screening, then the MOS, DMOS, CMOS or preference tables (see `types.analysis`)."""
    from codecbench.listening_test.analysis import read_ratings
    from codecbench.listening_test.types.analysis import MEANS, analyze_type

    tables = analyze_type(args.type, read_ratings(args.ratings), args.out, gold=args.reference)
    screened = tables["screening"]
    print(f"listeners: {len(screened)}, excluded by screening: {int(screened['excluded'].sum())}")
    for row in screened[screened["excluded"]].itertuples():
        print(f"  {row.listener}: {row.reason}")
    shown = [MEANS[args.type]] if args.type in MEANS else ["preferences", "bradley_terry"]
    for name in shown:
        print(tables[name].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"written to {args.out}")
    return 0
