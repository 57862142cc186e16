"""`build_samples`: finished runs (one, or several merged like `codecbench report`) to a static samples page.

    runs --load_runs--> RunData --pick--> utterances x systems --assets--> FLAC + PNG --page--> index.html
                                                                                        \\--> samples.json

Nothing is coded or scored here: every cell is the audio a run kept (`--keep-audio`) and the scores its row holds.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from html import escape
from pathlib import Path

from codecbench import __version__, kept_audio
from codecbench.report.merge import load_runs
from codecbench.report.sources import RunData
from codecbench.samples import assets
from codecbench.samples.page import CellView, UtteranceView, page_html
from codecbench.samples.pick import Pick, pick

PAGE = "index.html"
MANIFEST = "samples.json"
AUDIO = "audio"
DEFAULT_UTTERANCES = 8
DEFAULT_SCORES = 4  # the run's first metric columns (report order) shown per cell unless --metrics names others
AUDIO_FORMAT = ("FLAC (lossless, 24-bit PCM): each system's file is, byte for byte, the decoded audio the run kept, "
                "at the codec's output rate; the reference is the input file at its own rate")


@dataclass(frozen=True)
class SamplesResult:
    """What `build_samples` wrote.

    Args:
        out: the page's folder.
        page: its `index.html`.
        files: every file of the folder (page, manifest, audio, thumbnails).
        pick: what the page shows.
        seconds: wall time of the build.
    """

    out: Path
    page: Path
    files: tuple[Path, ...]
    pick: Pick
    seconds: float

    @property
    def bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files)


def _prepare(out: Path, overwrite: bool) -> None:
    """An empty folder for the page (`overwrite` replaces an earlier samples page only).

    Raises:
        ValueError: `out` holds other files, or a page without `overwrite`.
    """
    if out.exists() and any(out.iterdir()):
        if not (out / MANIFEST).is_file():
            raise ValueError(f"{out} is not empty and holds no samples page: choose a new --out")
        if not overwrite:
            raise ValueError(f"{out} already holds a samples page: pass --overwrite to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _scores(run: RunData, wanted: list[str] | None) -> list[tuple[str, str, int]]:
    """(column, label with its direction arrow, decimals) of the scores each cell shows."""
    columns = run.limited_to(wanted).metrics if wanted else run.metrics[:DEFAULT_SCORES]
    return [(m.column, f"{m.column} {m.arrow}", m.decimals) for m in columns]


def _format(value: object, decimals: int) -> str:
    number = float(value) if value is not None else math.nan
    return "not scored" if math.isnan(number) else f"{number:.{decimals}f}"


def _listed(cell: CellView, columns: list[str]) -> dict[str, object]:
    """A cell as `samples.json` lists it: system, files, SHA-256, loudness, measured kbps and scores by column."""
    return {"system": cell.label, **asdict(cell.asset), "measured_kbps": None if math.isnan(cell.kbps) else cell.kbps,
            "scores": {column: value for column, (_, value) in zip(columns, cell.scores)}}


def _report_link(run: RunData, report: str | Path | None, out: Path) -> tuple[str | None, Path | None]:
    """The report to link (relative to the page) and its path: `report`, else a single run's `report/report.html`."""
    path = Path(report) if report is not None else (run.sources[0].root / "report" / "report.html"
                                                    if len(run.sources) == 1 else None)
    if path is not None and path.is_dir():
        path = path / "report.html"
    if path is None or not path.is_file():
        if report is not None:
            raise ValueError(f"--report {report}: no report.html there (make it with `codecbench report RUN`)")
        return None, None
    return Path(os.path.relpath(path.resolve(), out.resolve())).as_posix(), path


def build_samples(run_dirs: list[str | Path], out: str | Path, utterances: int = DEFAULT_UTTERANCES, seed: int = 0,
                  systems: list[str] | None = None, utterance_ids: list[str] | None = None,
                  metrics: list[str] | None = None, report: str | Path | None = None, prefer: str | None = None,
                  overwrite: bool = False) -> SamplesResult:
    """Write a samples page of finished runs kept with `--keep-audio`.

    Args:
        run_dirs: run folders (several are merged as `codecbench report` merges them).
        out: the page's folder (`index.html`, `samples.json`, `audio/`).
        utterances: how many utterances to show (a balanced pick across speakers, see `samples.pick`).
        seed: the pick's seed.
        systems: the systems to show (default: every one with kept audio), shown by bitrate.
        utterance_ids: show these utterances instead of the balanced pick.
        metrics: metric columns (or metrics) whose scores each cell shows (default: the first `DEFAULT_SCORES`).
        report: the report to link (a `report.html` or its folder; default: a single run's `report/report.html`).
        prefer: which run a system found in several comes from (`newest` or a run folder), as in `report`.
        overwrite: replace an earlier samples page in `out`.

    Raises:
        ValueError: no kept audio, unknown systems, utterances or metrics, an input changed since the run, or
            `out` not empty.
        FileNotFoundError: a folder holds no finished run.
    """
    start = time.perf_counter()
    out = Path(out)
    run = load_runs(list(run_dirs), prefer)
    scores = _scores(run, metrics)
    chosen = pick(run, utterances, seed, systems, utterance_ids)
    link, report_path = _report_link(run, report, out)
    _prepare(out, overwrite)
    views, listed = [], []
    for i, utterance in enumerate(chosen.utterances, start=1):
        folder = out / AUDIO / f"{i:02d}"
        folder.mkdir(parents=True)
        source = run.sources[run.spec_sources.get(chosen.systems[0], 0)]
        digests = {} if source.manifest is None else dict(zip(source.manifest["path"], source.manifest["sha256"]))
        samples, rate = assets.copy_reference(utterance.reference, digests.get(str(utterance.reference)),
                                              folder / "00-reference.flac")
        top_db = assets.reference_top_db(samples, rate)
        cells = [CellView("Reference", assets.asset(out, folder / "00-reference.flac", samples, rate, top_db),
                          math.nan, (), reference=True)]
        for j, cell in enumerate(utterance.cells, start=1):
            problem = kept_audio.problem(cell.run_dir, cell.record, cell.key)
            if problem:
                raise ValueError(f"{problem}: code it again with `codecbench run --resume --keep-audio`")
            target = folder / f"{j:02d}.flac"
            decoded, decoded_rate = assets.copy_cell(cell.run_dir / kept_audio.relative_path(cell.key), target)
            made = assets.asset(out, target, decoded, decoded_rate, top_db)
            cells.append(CellView(cell.system, made, float(cell.record["measured_kbps"]),
                                  tuple((label, _format(cell.record.get(c), d)) for c, label, d in scores)))
        views.append(UtteranceView(utterance.id, utterance.speaker, utterance.duration_s, tuple(cells)))
        listed.append({"utterance": utterance.id, "speaker": utterance.speaker, "reference": str(utterance.reference),
                       "cells": [_listed(view, [column for column, _, _ in scores]) for view in cells]})
    runs = ", ".join(f"<code>{escape(str(s.root))}</code>" for s in run.sources)
    intro = [f"{len(views)} utterances × {len(chosen.systems)} systems from {runs}: in each table the reference "
             "input first, then the systems from the lowest to the highest measured bitrate.",
             f"Audio: {escape(AUDIO_FORMAT)}. Scores are the run's rows "
             f"({escape(', '.join(label for _, label, _ in scores)) or 'none shown'}; "
             "↑ higher is better, ↓ lower).",
             f"Utterances: {'as listed' if utterance_ids else f'a balanced pick across speakers (seed {seed})'} "
             f"among the {chosen.candidates} utterances with every system's kept audio."]
    intro.append(f'Full results: <a href="{escape(link)}">the report</a>.' if link else
                 "No report is linked: make one with <code>codecbench report RUN</code> and pass "
                 "<code>--report</code>.")
    footer = [escape(note) for note in chosen.notes] + [f"Made by codecbench {escape(__version__)}; "
                                                        f"<code>{MANIFEST}</code> lists every file with its SHA-256."]
    title = "Listening samples"
    page = out / PAGE
    page.write_text(page_html(title, intro, views, footer), encoding="utf-8")
    (out / MANIFEST).write_text(json.dumps({
        "runs": [str(s.root) for s in run.sources], "systems": list(chosen.systems), "seed": seed,
        "audio_format": AUDIO_FORMAT, "report": str(report_path) if report_path else None,
        "notes": list(chosen.notes), "utterances": listed}, indent=2), encoding="utf-8")
    files = tuple(sorted(p for p in out.rglob("*") if p.is_file()))
    return SamplesResult(out, page, files, chosen, time.perf_counter() - start)
