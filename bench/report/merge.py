"""Several run directories as one report's rows, refused when they did not score the same thing the same way.

Runs merge when every shared metric has the same recorded version, class and columns, the working sample rate
and the delay search are the same, every utterance they share has the same input SHA-256 (rows join on
(utterance, input SHA-256)) and all of them share at least one utterance. A spec in two runs is an error
unless `prefer` says which to take: `newest` (the run whose last invocation finished last) or one of the runs.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pandas as pd

from codecbench.report.sources import (JOIN_KEY, RunData, SourceRun, fill_conditions, read_source, run_data,
                                      run_specs)

NEWEST = "newest"
COMPARED_CONFIG = ("working_rate", "max_delay_s", "align")  # run settings that change every score
COMPARED_METRIC = ("version", "class", "columns")


class IncompatibleRuns(ValueError):
    """Runs that cannot be reported together; the message names the first difference."""


def _check_settings(first: SourceRun, other: SourceRun) -> None:
    for key in COMPARED_CONFIG:
        if first.info.config.get(key) != other.info.config.get(key):
            raise IncompatibleRuns(f"runs {first.root} and {other.root} differ in {key}: "
                                   f"{first.info.config.get(key)!r} vs {other.info.config.get(key)!r}")
    for name in first.info.metrics.keys() & other.info.metrics.keys():
        for key in COMPARED_METRIC:
            a, b = first.info.metrics[name].get(key), other.info.metrics[name].get(key)
            if a != b:
                raise IncompatibleRuns(f"runs {first.root} and {other.root} scored metric {name} with different "
                                       f"{key}s: {a!r} vs {b!r}")


def _check_inputs(sources: list[SourceRun]) -> None:
    for source in sources:
        if source.manifest is None:
            raise IncompatibleRuns(f"run {source.root} has no manifest.csv: its inputs cannot be matched to the "
                                   "other runs' (re-run it with this codecbench)")
        if source.manifest_verified is False:
            raise IncompatibleRuns(f"run {source.root}: manifest.csv does not match the manifest_sha256 of its "
                                   "run.json")
    first = sources[0]
    known = first.manifest.set_index("utterance")["sha256"]
    shared = set(known.index)
    for source in sources[1:]:
        theirs = source.manifest.set_index("utterance")["sha256"]
        common = known.index.intersection(theirs.index)
        changed = [u for u in common if known[u] != theirs[u]]
        if changed:
            u = sorted(changed)[0]
            raise IncompatibleRuns(f"utterance {u} differs in content between runs {first.root} (sha256 "
                                   f"{known[u][:16]}...) and {source.root} (sha256 {theirs[u][:16]}...); "
                                   f"{len(changed)} shared inputs differ")
        shared &= set(theirs.index)
        if not shared:
            raise IncompatibleRuns(f"run {source.root} shares no utterance with "
                                   + ", ".join(str(s.root) for s in sources[: sources.index(source)]))
        known = pd.concat([known, theirs[~theirs.index.isin(known.index)]])


def _resolve_prefer(prefer: str | None, sources: list[SourceRun]) -> int | None:
    """Index of the run `prefer` names (None: no preference, or `newest`)."""
    if prefer is None or prefer == NEWEST:
        return None
    wanted = Path(prefer).resolve()
    for i, source in enumerate(sources):
        if source.root.resolve() == wanted:
            return i
    raise ValueError(f"--prefer {prefer}: not one of the runs given ({', '.join(str(s.root) for s in sources)}) "
                     f"nor {NEWEST}")


def choose_specs(sources: list[SourceRun], specs: list[list[str]], prefer: str | None) -> dict[str, int]:
    """spec -> index of the run it is taken from, in report order.

    Raises:
        ValueError: a spec in several runs without `prefer`, or with a `prefer` run that does not hold it.
    """
    holders: dict[str, list[int]] = {}
    for i, names in enumerate(specs):
        for spec in names:
            holders.setdefault(spec, []).append(i)
    preferred = _resolve_prefer(prefer, sources)
    chosen = {}
    for spec, runs in holders.items():
        if len(runs) == 1:
            chosen[spec] = runs[0]
        elif prefer == NEWEST:
            chosen[spec] = max(runs, key=lambda i: sources[i].finished)
        elif preferred in runs:
            chosen[spec] = preferred
        else:
            where = " and ".join(str(sources[i].root) for i in runs)
            raise ValueError(f"spec {spec} is in runs {where}: say which to report with --prefer newest or "
                             "--prefer RUN")
    return chosen


def load_runs(run_dirs: list[str | Path], prefer: str | None = None) -> RunData:
    """One run's data, or several runs merged for one report.

    Args:
        run_dirs: run directories written by `codecbench run`.
        prefer: which run's rows a spec in several runs comes from: `newest` or one of `run_dirs`.

    Raises:
        FileNotFoundError: a directory holds no finished run.
        IncompatibleRuns: the runs scored different inputs or with different settings or metric versions.
        ValueError: a spec in several runs without a `prefer` that settles it.
    """
    if not run_dirs:
        raise ValueError("no run directory given")
    read = [read_source(d) for d in run_dirs]
    sources = [s for s, _ in read]
    if len({s.root.resolve() for s in sources}) < len(sources):
        raise ValueError("the same run directory is given twice")
    if len(sources) > 1:
        for first, other in combinations(sources, 2):
            _check_settings(first, other)
        _check_inputs(sources)
    chosen = choose_specs(sources, [run_specs(s.info, rows) for s, rows in read], prefer)
    rows = pd.concat([rows[rows["spec"].isin([s for s, i in chosen.items() if i == k])]
                      for k, (_, rows) in enumerate(read)], ignore_index=True)
    rows = fill_conditions(rows.sort_values([*JOIN_KEY, "spec"], kind="stable").reset_index(drop=True))
    return run_data(sources, rows, list(chosen), chosen)
