"""`codecbench mushra build`: pick items, make the stimuli, align their loudness, write a sealed test folder.

Two sources:
- a finished run (`codecbench run --out RUN`): a row whose decoded audio the run kept (`--keep-audio`, file
  there and unaltered) gives its stimulus from that file, placed on the reference's timeline with the row's
  delay; any other is re-created by re-running the run's codec on the utterance in its `manifest.csv` (checked
  against its SHA-256) through `pipeline.code` with the run's seed, and time-aligned with the delay
  `pipeline.score` finds, exactly as the run did (the re-measured bitrate is recorded next to the run's). Both
  give the same stimulus up to FLAC's 24-bit rounding (tested); `test.yaml` and stderr say which was used.
- a folder of stimuli: `DIR/<item>/<condition>.wav`, with a `reference.wav` in every item folder.

Every trial gets the hidden reference and both BS.1534-3 anchors (the mid anchor chosen for the material's
bandwidth, see `anchors`; none for a "MUSHRA-like" test); items are spread over speakers and speaker gender
(see `selection`); excerpts are cut to at most 12 s in pauses, or to an exact length; every stimulus of the
test is set to one BS.1770 loudness. The listening rule and what listeners read (see `texts`) are sealed
with the stimuli.
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm import tqdm

from codecbench import kept_audio
from codecbench.alignment import DEFAULT_ALIGN, on_reference_timeline
from codecbench.audio import resample
from codecbench.listening_test import stimuli as st
from codecbench.listening_test import traps
from codecbench.listening_test.anchors import Anchors, make_anchor, spectral_distance
from codecbench.listening_test.events import ListeningRule
from codecbench.listening_test.selection import find_speakers_txt, pick_balanced, read_speakers_txt
from codecbench.listening_test.testdef import (FORMAT, LOUDNESS_CSV, MAX_STIMULI, REFERENCE, STIMULI_DIR, TEST_YAML,
                                               write_checksums)
from codecbench.rows import CONDITIONS, SYSTEM_SEPARATOR, record_key, run_systems, system_label, system_labels
from codecbench.safecsv import write_csv

if TYPE_CHECKING:
    from codecbench.task import Plan, Task

DEFAULT_ITEMS = 10
MIN_ITEMS = 5
DEFAULT_TARGET_LUFS = -26.0
MAX_LOUDNESS_SPAN_LU = 1.0
KEPT, RECODED = "kept audio", "re-coded"  # where a run's stimulus came from (`--keep-audio`, else re-running the codec)


@dataclass
class ItemSource:
    """The stimuli of one item before excerpting and loudness alignment.

    Args:
        item: the item id.
        speaker: the talker (items are balanced over talkers).
        rate: sample rate of every signal.
        signals: condition -> signal [T, C], all of one shape.
        source: where the reference came from.
        info: condition -> provenance (seed, delay, measured kbps).
    """

    item: str
    speaker: str
    rate: int
    signals: dict[str, np.ndarray]
    source: str
    info: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class BuildResult:
    """What `build_test` wrote."""

    out: Path
    loudness: pd.DataFrame  # one row per stimulus
    flagged: list[str]  # items whose stimuli span more than MAX_LOUDNESS_SPAN_LU
    aligned_lufs: float
    warnings: list[str] = field(default_factory=list)  # also in test.yaml's `notes`
    anchor_distance: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # anchor -> measure -> [min, max]


@dataclass(frozen=True)
class Protocol:
    """How listeners take the test, sealed in `test.yaml` with the stimuli.

    Args:
        rule: how long every stimulus must be heard before a trial is accepted.
        texts: what listeners read (`texts.load_texts`; None: the English defaults).
        anchors: which anchors each trial gets.
        exact_excerpt: cut every excerpt to exactly `max_excerpt_s` (else at most, in a pause).
        traps: test items that get a trapping stimulus (see `traps`; the CLI's default is 2).
        require_headphones: the check screen cannot be skipped, and a listener who fails the headphone screen is
            screened out at once (see `store`).
    """

    rule: ListeningRule = ListeningRule()
    texts: dict[str, Any] | None = None
    anchors: Anchors = Anchors()
    exact_excerpt: bool = False
    traps: int = 0
    require_headphones: bool = False


def with_anchors(reference: np.ndarray, rate: int, signals: dict[str, np.ndarray],
                 cutoffs: dict[str, float]) -> dict[str, np.ndarray]:
    """Hidden reference first, then the anchors (made from the reference where not given), then the rest."""
    ordered = {REFERENCE: reference}
    for anchor, cutoff in cutoffs.items():
        given = signals.get(anchor)
        ordered[anchor] = make_anchor(reference, cutoff, rate) if given is None else given
    ordered.update({c: s for c, s in signals.items() if c not in ordered})
    return ordered


def one_slip_items(max_fraction: float) -> int:
    """The fewest items at which one slip (one hidden reference rated below 90) stays within the screening
    rule's `max_fraction`."""
    return math.ceil(1 / max_fraction - 1e-9)


def check_trial(item: str, formats: dict[str, tuple[int, int, int]]) -> None:
    """Raise ValueError unless a trial has at most 12 stimuli of one length, rate and channel count.

    Args:
        item: the item id (for the message).
        formats: condition -> (frames, sample rate, channels).
    """
    if len(formats) > MAX_STIMULI:
        raise ValueError(f"item {item}: {len(formats)} stimuli, but a MUSHRA trial holds at most {MAX_STIMULI} "
                         "(hidden reference and both anchors included)")
    if len(set(formats.values())) > 1:
        shown = ", ".join(f"{c}: {n} frames, {r} Hz, {ch} ch" for c, (n, r, ch) in formats.items())
        raise ValueError(f"item {item}: stimuli differ in length, rate or channels ({shown})")


def run_items(run_dir: str | Path, conditions: list[str] | None, count: int, seed: int,
              min_duration_s: float = 3.0, device: str = "cpu", progress: bool = True,
              anchors: Anchors = Anchors(), align: str | None = None) -> tuple[list[ItemSource], dict[str, Any]]:
    """Re-create the stimuli of `count` utterances of a finished run.

    In a run with channel or input conditions (`codecbench run --channel/--input`) a condition of the test is a
    spec under a set of conditions, named by its `codecbench.rows.system_label` (`opus@6` is the clean channel and
    input, `opus@6 · loss@10%` the same codec under 10 % loss); its stimuli are re-coded under those conditions
    with the run's seed (`task.Plan.code`, as the run did), so they lose the run's packets.

    Args:
        run_dir: the run directory (`run.json`, `manifest.csv`, `utterances.parquet`).
        conditions: codec specs of the run to test, or in a condition run system labels (default: every spec that
            ran, under every condition of the run).
        count: items to pick (training items included).
        seed: the selection seed.
        min_duration_s: shorter utterances are not used.
        device: where neural codecs run.
        progress: show a tqdm bar.
        anchors: the anchors to add.
        align: the delay rule placing each stimulus on the reference's timeline (None: the run's own, else `auto`).

    Returns:
        The items and a description of the source for `test.yaml`.

    Raises:
        ValueError: a condition the run does not hold (the message lists those it does), too many conditions,
            too few usable utterances, an input that changed since the run.
    """
    from codecbench.audio import load_audio
    from codecbench.datasets import Utterance
    from codecbench.task import Task
    from codecbench.resources import file_digest
    from codecbench.rundir import MANIFEST, RunDir

    run_dir = Path(run_dir)
    folder = RunDir(run_dir)
    rows = folder.read_rows(MANIFEST)
    run = asdict(folder.read_info())
    config = run["config"]
    rows["system"] = system_labels(rows)
    ran = run_systems([s for s in config["specs"] if s not in run.get("skipped", {})],
                      {c: config.get(f"{c}s") or [] for c in CONDITIONS if c in rows})
    rate = int(config["working_rate"])
    cutoffs = anchors.cutoffs(rate)
    systems = _tested_systems(conditions, ran, cutoffs, run_dir)
    manifest = folder.read_manifest().set_index("utterance")
    selection, speakers_txt = _pick(rows, manifest, systems, count, seed, min_duration_s, run_dir)
    chosen = {label: ran[label] for label in systems}
    codec = functools.cache(lambda spec: _load_codec(spec, device))  # loaded only where a stimulus is re-coded
    plan = _run_plan(run, {conds["input"] for _, conds in chosen.values() if "input" in conds}, align)
    kept_usable = align is None or align == (config.get("align") or DEFAULT_ALIGN)  # the rows' delays apply
    key_columns = [c for c in CONDITIONS if c in rows]
    made = {KEPT: 0, RECODED: 0}
    items = []
    for utt in tqdm(selection.items, desc="making stimuli", unit="item", disable=not progress):
        path = Path(manifest.loc[utt, "path"])
        if file_digest(path) != manifest.loc[utt, "sha256"]:
            raise ValueError(f"{path} changed since the run (its SHA-256 differs from {run_dir}/manifest.csv)")
        audio = load_audio(path, rate)
        utterance = Utterance(utt, path, str(manifest.loc[utt, "speaker"]), str(run["dataset"].get("split", "")))
        signals, info = {}, {}
        for label, (spec, conds) in chosen.items():
            stored = rows[(rows["utterance"] == utt) & (rows["system"] == label)].iloc[-1]
            key = record_key(stored, key_columns)
            if kept_usable and not kept_audio.problem(run_dir, stored.to_dict(), key):
                signals[label], info[label] = _from_kept(run_dir, stored, key, conds, len(audio.samples), rate)
            else:
                signals[label], info[label] = _recode(plan, Task(utterance, spec, conds.get("channel"),
                                                                 conds.get("input")), codec(spec), audio, stored)
            made[info[label]["stimulus"]] += 1
        items.append(ItemSource(utt, utterance.speaker, rate,
                                with_anchors(audio.samples.astype(np.float64)[:, None], rate, signals, cutoffs),
                                str(path), info))
    print(f"stimuli of {run_dir}: {made[KEPT]} from the run's kept audio, {made[RECODED]} re-coded"
          + ("" if kept_usable else f" (--align {align} differs from the run's: its kept audio's delays do not apply)"),
          file=sys.stderr)
    specs = dict.fromkeys(spec for spec, _ in chosen.values())
    source = {"kind": "run", "run": str(run_dir.resolve()), "run_seed": int(config["seed"]), "stimuli": made,
              "dataset": run.get("dataset", {}), "codecs": {s: run.get("codecs", {}).get(s, {}) for s in specs},
              "speakers": str(speakers_txt) if speakers_txt else None, **_balance(selection)}
    if any(conds for _, conds in chosen.values()):
        source["systems"] = {label: {"spec": spec, **conds} for label, (spec, conds) in chosen.items()}
    return items, source


def _tested_systems(conditions: list[str] | None, ran: dict[str, Any], cutoffs: Any, run_dir: Path) -> list[str]:
    """The run's systems a test compares (default: all that ran), checked: each ran, and a trial holds them.

    Raises:
        ValueError: a system the run does not hold, or too many for one trial.
    """
    systems = [_canonical(c) for c in (conditions or ran) if c != REFERENCE and c not in cutoffs]
    missing = [c for c in systems if c not in ran]
    if missing:
        raise ValueError(f"{missing} did not run in {run_dir}; choose from {list(ran)}")
    if len(systems) + 1 + len(cutoffs) > MAX_STIMULI:
        raise ValueError(f"{len(systems)} conditions plus the hidden reference and {len(cutoffs)} anchors exceed "
                         f"{MAX_STIMULI} stimuli per trial; pass at most {MAX_STIMULI - 1 - len(cutoffs)} with "
                         "--conditions")
    return systems


def _pick(rows: pd.DataFrame, manifest: pd.DataFrame, systems: list[str], count: int, seed: int,
          min_duration_s: float, run_dir: Path) -> tuple[Any, Path | None]:
    """A pick of `count` utterances, balanced over speakers, that every tested system coded without error, and
    the SPEAKERS.TXT it balanced with.

    Raises:
        ValueError: too few such utterances.
    """
    ok = rows[(rows["error"].fillna("") == "") & (rows["duration_s"] >= min_duration_s) & rows["system"].isin(systems)]
    complete = ok.groupby("utterance")["system"].nunique()
    usable = set(complete[complete == len(systems)].index)
    candidates = [(u, str(manifest.loc[u, "speaker"])) for u in sorted(usable) if u in manifest.index]
    if len(candidates) < count:
        raise ValueError(f"{run_dir} has {len(candidates)} utterances of at least {min_duration_s:g} s coded "
                         f"without error by {systems}; {count} are needed")
    speakers_txt = find_speakers_txt(manifest.loc[candidates[0][0], "path"])
    return pick_balanced(candidates, count, seed, read_speakers_txt(speakers_txt) if speakers_txt else None), \
        speakers_txt


def _load_codec(spec: str, device: str) -> Any:
    """A codec of the run, to re-code its stimuli.

    Raises:
        ValueError: it is unavailable here.
    """
    from codecbench.codecs import CodecUnavailable, load_codec

    try:
        return load_codec(spec).to(device)
    except CodecUnavailable as exc:
        raise ValueError(f"cannot re-create the stimuli: {exc}") from exc


def _canonical(label: str) -> str:
    """A system label as `system_label` spells it, whatever the spacing around its separators."""
    return SYSTEM_SEPARATOR.join(part.strip() for part in label.split(SYSTEM_SEPARATOR.strip()))


def _run_plan(run: dict[str, Any], tested_inputs: set[str], align: str | None = None) -> Plan:
    """How the run coded its tasks (seed, delay search, channel and input conditions), without metrics; the split's
    utterances (babble's talkers) are listed only where a tested input condition is babble."""
    from codecbench.channel import parse_channels
    from codecbench.channel.inputs import parse_inputs
    from codecbench.task import Plan, babble_talkers

    config, dataset = run["config"], run.get("dataset", {})
    inputs = tuple(parse_inputs(config.get("inputs") or []))
    talkers = babble_talkers([c for c in inputs if c.name in tested_inputs], dataset["name"], dataset["root"],
                             dataset["split"])
    return Plan((), (), int(config["seed"]), float(config["max_delay_s"]),
                tuple(parse_channels(config.get("channels") or [])), inputs, talkers,
                align or config.get("align") or DEFAULT_ALIGN)


def _recode(plan: Plan, task: Task, codec: Any, audio: Any, stored: pd.Series) -> tuple[np.ndarray, dict[str, Any]]:
    """One stimulus re-coded as the run coded `task`, on the reference's timeline [T, 1], and its provenance
    (seed, delay, measured kbps and packets lost, now and in the run's row `stored`)."""
    from codecbench import pipeline

    label = system_label(task.spec, task.conditions)
    try:
        coded = plan.code(task, codec, audio)
    except pipeline.CodingError as exc:
        raise ValueError(f"{label} on {task.utterance.id}: {exc}") from exc
    delay = pipeline.score(coded, [], plan.max_delay_s, align_mode=plan.align).delay_samples
    # the decode as a kept file holds it (24-bit), so a stimulus is the same whether re-coded or read from kept audio
    decoded = resample(kept_audio.quantize(coded.output), coded.output_rate, coded.sample_rate)
    signal = on_reference_timeline(decoded.astype(np.float64), delay, len(audio.samples))[:, None]
    info = {"spec": task.spec, **task.conditions, "seed": coded.seeds[0], "delay_samples": delay, "stimulus": RECODED,
            "measured_kbps": round(coded.measured_kbps, 4),
            "run_measured_kbps": round(float(stored["measured_kbps"]), 4)}
    changed = abs(coded.measured_kbps - stored["measured_kbps"]) > 1e-6
    if "packets_lost" in coded.columns and pd.notna(stored.get("packets_lost")):
        info.update(packets_lost=int(coded.columns["packets_lost"]), run_packets_lost=int(stored["packets_lost"]))
        changed |= info["packets_lost"] != info["run_packets_lost"]
    if changed:
        lost = f"; {info['packets_lost']} packets lost now, {info['run_packets_lost']} in the run" \
            if "packets_lost" in info else ""
        print(f"warning: {label} on {task.utterance.id} measures {coded.measured_kbps:.3f} kbps now, "
              f"{stored['measured_kbps']:.3f} in the run{lost} (the codec or its library changed since)",
              file=sys.stderr)
    return signal, info


def _from_kept(run_dir: Path, stored: pd.Series, key: tuple[str, ...], conditions: dict[str, str], length: int,
               rate: int) -> tuple[np.ndarray, dict[str, Any]]:
    """One stimulus from the run's kept audio (`--keep-audio`), resampled to `rate` as `pipeline.code` resamples and
    placed on the reference's timeline with the row's delay: what `_recode` makes, up to FLAC's 24-bit rounding."""
    delay = int(stored["delay_samples"])
    decoded = kept_audio.decoded_at(run_dir, stored.to_dict(), key, rate).astype(np.float64)
    kbps = round(float(stored["measured_kbps"]), 4)
    return on_reference_timeline(decoded, delay, length)[:, None], {
        "spec": key[1], **conditions, "seed": int(stored["seed"]), "delay_samples": delay, "measured_kbps": kbps,
        "run_measured_kbps": kbps, "stimulus": KEPT, "audio_sha256": str(stored["audio_sha256"])}


def _balance(selection) -> dict[str, Any]:
    return {"genders": selection.genders, "warnings": selection.warnings}


def folder_items(folder: str | Path, conditions: list[str] | None, count: int, seed: int,
                 anchors: Anchors = Anchors()) -> tuple[list[ItemSource], dict[str, Any]]:
    """Read `count` items of a stimulus folder `DIR/<item>/<condition>.wav` (condition = file stem).

    Every item folder needs `reference.wav`; anchors missing from it are made from the reference.
    Speakers come from `DIR/speakers.csv` (columns item, speaker, optional gender) if present, else from
    the item id up to its first `-` (the LibriSpeech convention).
    """
    folder = Path(folder)
    item_dirs = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not item_dirs:
        raise FileNotFoundError(f"{folder} holds no item folders (<item>/<condition>.wav)")
    speakers, genders = {}, None
    if (folder / "speakers.csv").exists():
        table = pd.read_csv(folder / "speakers.csv", dtype=str)
        speakers = dict(zip(table["item"], table["speaker"]))
        if "gender" in table:
            genders = dict(zip(table["speaker"], table["gender"].fillna("")))
            genders = {speaker: gender for speaker, gender in genders.items() if gender}
    usable = [d for d in item_dirs if (d / f"{REFERENCE}.wav").exists()]
    if len(usable) < count:
        raise ValueError(f"{folder} has {len(usable)} item folders with a {REFERENCE}.wav; {count} are needed")
    speaker_of = {d.name: speakers.get(d.name, d.name.split("-")[0]) for d in usable}
    selection = pick_balanced(list(speaker_of.items()), count, seed, genders)
    items = []
    for item in selection.items:
        files = {p.stem: p for p in sorted((folder / item).glob("*.wav"))}
        wanted = [c for c in (conditions or files) if c != REFERENCE]
        absent = [c for c in wanted if c not in files]
        if absent:
            raise ValueError(f"{folder / item} has no {[c + '.wav' for c in absent]}")
        chosen = {c: files[c] for c in [REFERENCE, *wanted]}
        formats = {}
        for condition, path in chosen.items():
            info = sf.info(str(path))
            formats[condition] = (info.frames, info.samplerate, info.channels)
        rate = formats[REFERENCE][1]
        cutoffs = anchors.cutoffs(rate)
        check_trial(item, {**formats, **{a: formats[REFERENCE] for a in cutoffs if a not in formats}})
        signals = {c: sf.read(str(p), dtype="float64", always_2d=True)[0] for c, p in chosen.items()}
        reference = signals.pop(REFERENCE)
        items.append(ItemSource(item, speaker_of[item], rate,
                                with_anchors(reference, rate, signals, cutoffs), str(chosen[REFERENCE])))
    return items, {"kind": "folder", "folder": str(folder.resolve()), **_balance(selection)}


def _prepare_out(out: Path, overwrite: bool) -> Path:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty: pass --overwrite to replace a test built there")
        if not (out / TEST_YAML).exists():
            raise FileExistsError(f"{out} is not empty and holds no {TEST_YAML}: refusing to delete it")
        if (out / "results").exists():
            raise FileExistsError(f"{out / 'results'} holds listening results: move them before rebuilding the test")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def write_test(out: str | Path, items: list[ItemSource], training: list[ItemSource], source: dict[str, Any],
               name: str | None = None, target_lufs: float = DEFAULT_TARGET_LUFS,
               max_excerpt_s: float = st.MAX_EXCERPT_S, overwrite: bool = False,
               protocol: Protocol = Protocol()) -> BuildResult:
    """Cut excerpts, align loudness and write the test folder (replaced atomically when complete).

    Args:
        out: the test folder.
        items: the test items.
        training: the training items.
        source: where the items came from (recorded in `test.yaml`; its `warnings` become the test's notes).
        name: the test's name (default: the folder name).
        target_lufs: the BS.1770 loudness every stimulus is set to (lowered if a peak would pass -1 dBFS).
        max_excerpt_s: the longest excerpt (the length of every excerpt with `protocol.exact_excerpt`).
        overwrite: replace a test already in `out`.
        protocol: the listening rule, texts, anchors and excerpt cut.
    """
    import yaml

    from codecbench import __version__
    from codecbench.listening_test.analysis import MAX_FRACTION
    from codecbench.listening_test.texts import load_texts
    from codecbench.resources import package_versions

    out = Path(out)
    staging = _prepare_out(out, overwrite)
    prepared = _excerpts(items, training, max_excerpt_s, protocol.exact_excerpt)
    rate = min((src.rate for _, src, _, _ in prepared), default=16000)
    trapped = _add_traps(prepared, protocol.traps, rate, int(source.get("seed", 0)))
    anchor_names = protocol.anchors.names(rate)
    notes = _notes(list(source.pop("warnings", [])), len(items), bool(anchor_names))
    records = [{"item": src.item, "phase": phase, "condition": c, "lufs_before": st.integrated_loudness(x, src.rate),
                "peak_before_dbfs": st.peak_dbfs(x)} for phase, src, _, cut in prepared for c, x in cut.items()]
    aligned = st.alignment_target([r["lufs_before"] for r in records], [r["peak_before_dbfs"] for r in records],
                                  target_lufs)
    if aligned < target_lufs:
        print(f"loudness target lowered from {target_lufs:g} to {aligned:.2f} LUFS to keep every peak at or below "
              f"{st.PEAK_LIMIT_DBFS:g} dBFS", file=sys.stderr)
    entries = _write_stimuli(prepared, records, aligned, staging, list(anchor_names.values()))
    loudness = pd.DataFrame(records)[["item", "phase", "condition", "file", "lufs_before", "peak_before_dbfs",
                                      "gain_db", "lufs_after", "peak_dbfs", "span_lu", "flagged"]]
    write_csv(loudness, staging / LOUDNESS_CSV)
    flagged = sorted(set(loudness.loc[loudness["flagged"], "item"]))
    conditions = [c for c in prepared[0][3] if not traps.is_trap(c)] if prepared else []
    spec = {
        "format": FORMAT,
        "name": name or out.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "codecbench": __version__,
        "conditions": conditions,
        "reference": REFERENCE,
        "anchors": anchor_names,
        "anchor_distance": _distance_ranges(entries),
        "max_excerpt_s": max_excerpt_s,
        "exact_excerpt": protocol.exact_excerpt,
        "listening": {"min_play_s": protocol.rule.min_play_s},
        "screening": {"items": len(items), "one_slip_fraction": round(1 / max(1, len(items)), 4),
                      "max_fraction": float(MAX_FRACTION), "items_for_one_slip": one_slip_items(MAX_FRACTION),
                      "require_headphones": protocol.require_headphones},
        "traps": {"items": trapped, "tolerance": traps.TOLERANCE,
                  "source": "listening_test/data/traps (eSpeak NG 1.51, CC0)"},
        "notes": notes,
        "texts": protocol.texts or load_texts(None),
        "loudness": {"meter": f"ITU-R BS.1770 integrated loudness (pyloudnorm {version('pyloudnorm')})",
                     "target_lufs": target_lufs, "aligned_lufs": round(aligned, 3),
                     "peak_limit_dbfs": st.PEAK_LIMIT_DBFS, "max_span_lu": MAX_LOUDNESS_SPAN_LU,
                     "flagged_items": flagged},
        "source": source,
        "versions": package_versions("pyloudnorm", "pyyaml"),
        "training": entries["training"],
        "items": entries["test"],
    }
    plain = json.loads(json.dumps(spec, default=lambda value: value.item()))  # numpy scalars -> Python
    (staging / TEST_YAML).write_text(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True))
    write_checksums(staging)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return BuildResult(out, loudness, flagged, aligned, notes, spec["anchor_distance"])


def _write_stimuli(prepared: list[tuple[str, ItemSource, Any, dict[str, np.ndarray]]], records: list[dict[str, Any]],
                   aligned: float, staging: Path, anchors: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every excerpt set to the `aligned` loudness and written as 16-bit WAV under `staging`; completes each
    loudness record (file, gain, loudness after, peak, the trial's span); returns the `test.yaml` entries per
    phase.

    Raises:
        ValueError: a trial with more than 12 stimuli, or stimuli of different length, rate or channels.
    """
    entries: dict[str, list[dict[str, Any]]] = {"training": [], "test": []}
    by_key = {(r["item"], r["condition"]): r for r in records}
    for phase, src, excerpt, cut in prepared:
        stimuli, formats, served = {}, {}, {}
        for condition, x in cut.items():
            record = by_key[(src.item, condition)]
            pcm, gain_db, lufs_after = st.set_loudness(x, src.rate, aligned, record["lufs_before"])
            served[condition] = pcm / 32768.0
            relative = f"{STIMULI_DIR}/{src.item}/{_file_stem(condition)}.wav"
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(staging / relative), pcm, src.rate, subtype="PCM_16")
            record.update(file=relative, gain_db=gain_db, lufs_after=lufs_after, peak_dbfs=st.peak_dbfs(pcm / 32767.0))
            info = sf.info(str(staging / relative))
            formats[condition] = (info.frames, info.samplerate, info.channels)
            stimuli[condition] = {"file": relative, **_rounded(record, ("lufs_before", "gain_db", "lufs_after",
                                                                         "peak_dbfs")), **src.info.get(condition, {})}
        check_trial(src.item, formats)
        after = [stimuli[c]["lufs_after"] for c in stimuli]
        span = max(after) - min(after)
        for condition in stimuli:
            by_key[(src.item, condition)].update(span_lu=span, flagged=bool(span > MAX_LOUDNESS_SPAN_LU))
        start_s, end_s = excerpt.seconds(src.rate)
        distance = {a: spectral_distance(served[REFERENCE], served[a], src.rate) for a in anchors}
        entries[phase].append({"item": src.item, "speaker": src.speaker, "source": src.source,
                               "excerpt_s": [round(start_s, 3), round(end_s, 3)], "cut": excerpt.cut,
                               "sample_rate": src.rate, "frames": formats[REFERENCE][0],
                               "channels": formats[REFERENCE][2], "loudness_span_lu": round(span, 3),
                               "anchor_distance": distance, "stimuli": stimuli})
    return entries


def _excerpts(items: list[ItemSource], training: list[ItemSource], max_excerpt_s: float, exact: bool
              ) -> list[tuple[str, ItemSource, Any, dict[str, np.ndarray]]]:
    """(phase, source, excerpt, {condition: excerpt signal}) of every training item, then every test item."""
    prepared = []
    for phase, group in (("training", training), ("test", items)):
        for src in group:
            reference = src.signals[REFERENCE]
            excerpt = st.exact_excerpt(reference, src.rate, max_excerpt_s) if exact \
                else st.excerpt_bounds(reference, src.rate, max_excerpt_s)
            prepared.append((phase, src, excerpt, {c: st.cut_excerpt(x, excerpt, src.rate) for c, x in src.signals.items()}))
    return prepared


def _notes(notes: list[str], items: int, anchors: bool) -> list[str]:
    """The source's warnings, then what post-screening will make of this test (too few items, no anchors)."""
    from codecbench.listening_test.analysis import MAX_FRACTION

    if items < one_slip_items(MAX_FRACTION):
        notes.append(f"{items} test items: a single hidden reference rated below 90 is {1 / items:.0%} of "
                     f"the items, more than the {float(MAX_FRACTION):.0%} post-screening allows, so one slip excludes "
                     f"a listener; use at least {one_slip_items(MAX_FRACTION)} items")
    if not anchors:
        notes.append("no anchors (a MUSHRA-like test): post-screening skips the anchor rule")
    return notes


def _add_traps(prepared: list[tuple[str, ItemSource, Any, dict[str, np.ndarray]]], count: int, rate: int,
               seed: int) -> dict[str, int]:
    """Add a trap stimulus to `count` test items (`traps.assign`); returns item -> the rating it asks for."""
    lengths = {src.item: len(cut[REFERENCE]) / src.rate for phase, src, _, cut in prepared if phase == "test"}
    trapped = traps.assign(lengths, count, rate, seed) if count else {}
    for phase, src, _, cut in prepared:
        if phase == "test" and src.item in trapped:
            asked = trapped[src.item]
            cut[traps.condition(asked)] = traps.trap_signal(cut[REFERENCE], src.rate, asked)
    return trapped


def _distance_ranges(entries: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, list[float]]]:
    """Per anchor and measure, [min, max] over the test's items."""
    ranges: dict[str, dict[str, list[float]]] = {}
    for entry in entries["test"] + entries["training"]:
        for anchor, measures in entry["anchor_distance"].items():
            for measure, value in measures.items():
                low, high = ranges.setdefault(anchor, {}).setdefault(measure, [value, value])
                ranges[anchor][measure] = [min(low, value), max(high, value)]
    return ranges


def _file_stem(condition: str) -> str:
    """A file name for a condition spec or system label (`opus@16:vbr=true` -> `opus@16_vbr=true`,
    `opus@6 · loss@10%` -> `opus@6+loss@10_`)."""
    condition = condition.replace(SYSTEM_SEPARATOR, "+")
    return "".join(ch if ch.isalnum() or ch in "@.=-+" else "_" for ch in condition)


def _rounded(record: dict[str, Any], keys: tuple[str, ...]) -> dict[str, float]:
    return {k: round(float(record[k]), 3) for k in keys}


def build_test(out: str | Path, run: str | Path | None = None, stimuli: str | Path | None = None,
               conditions: list[str] | None = None, items: int = DEFAULT_ITEMS, training_items: int = 1,
               seed: int = 0, name: str | None = None, target_lufs: float = DEFAULT_TARGET_LUFS,
               max_excerpt_s: float = st.MAX_EXCERPT_S, min_duration_s: float = 3.0, device: str = "cpu",
               overwrite: bool = False, progress: bool = True, protocol: Protocol = Protocol(),
               align: str | None = None) -> BuildResult:
    """Build a MUSHRA test folder from a finished run or a folder of stimuli (exactly one of them).

    Args:
        out: the test folder to write.
        run: a `codecbench run` output folder.
        stimuli: a folder `<item>/<condition>.wav`.
        conditions: the conditions to test (default: all); reference and anchors are always added.
        items: test items (at least 5; fewer than 7 leave no room for a slip in post-screening: a warning).
        training_items: training items, distinct from the test items.
        seed: the item selection seed.
        name: the test's name.
        target_lufs: the common BS.1770 loudness.
        max_excerpt_s: the longest excerpt (at most 12 s), or the length of every excerpt with
            `protocol.exact_excerpt` (shorter utterances are then not used).
        min_duration_s: shorter utterances of a run are not used.
        device: where neural codecs run.
        overwrite: replace a test already in `out`.
        progress: show progress bars.
        protocol: listening rule, texts, anchors, exact excerpts.
        align: the delay rule for a run's stimuli (`--align`; None: the run's own, else `auto`).

    Raises:
        ValueError: bad counts, unknown conditions, too few usable items, mismatched stimuli.
    """
    if (run is None) == (stimuli is None):
        raise ValueError("pass exactly one source: a run folder (--run) or a stimulus folder (--stimuli)")
    if items < MIN_ITEMS:
        raise ValueError(f"a MUSHRA test needs at least {MIN_ITEMS} items, not {items}")
    if training_items < 0:
        raise ValueError(f"--training-items must be >= 0, not {training_items}")
    if not 0 < max_excerpt_s <= st.MAX_EXCERPT_S:
        raise ValueError(f"excerpts must be at most {st.MAX_EXCERPT_S:g} s long (BS.1534-3), not {max_excerpt_s}")
    count = items + training_items
    if protocol.exact_excerpt:
        min_duration_s = max(min_duration_s, max_excerpt_s)
    if run is not None:
        sources, source = run_items(run, conditions, count, seed, min_duration_s, device, progress, protocol.anchors,
                                    align)
    else:
        sources, source = folder_items(stimuli, conditions, count, seed, protocol.anchors)
    source["seed"] = seed
    return write_test(out, sources[:items], sources[items:], source, name, target_lufs, max_excerpt_s, overwrite,
                      protocol)
