"""Metric validity: how well each metric agrees with listeners' ratings of the same stimuli.

    ratings (codecbench.ratings) -> post-screening (mushra analyze) -> kept listeners' ratings
    stimuli -> codecbench.pairs.score_pairs (a run folder) -> metric values per stimulus
    -> per metric column: Pearson / Spearman / Kendall at condition level and at stimulus level,
       95 % CIs from a two-way bootstrap (items and listeners resampled), a ranking with its uncertainty

The hidden reference and the anchors are left out of every correlation: a metric that only separates the
reference (no coding) or a 3.5 kHz low-pass from codecs would look valid without ranking codecs at all, which
is not what a codec researcher asks it to do. Agreement is the correlation oriented so that +1 is perfect
agreement (a lower-is-better metric's correlation is negated).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from codecbench.alignment import DEFAULT_ALIGN
from codecbench.ratings.table import Ratings
from codecbench.stats import BOOTSTRAP_SEED, CORRELATIONS, correlation, percentile_interval

LEVELS = ("condition", "stimulus")
RANK_BY = ("stimulus", "spearman")  # the ranking's criterion: most points, robust to a metric's scale
DEFAULT_RESAMPLES = 2000
VALIDITY_CSV = "validity.csv"
RANKING_CSV = "ranking.csv"
STIMULI_CSV = "stimuli.csv"
VALIDITY_JSON = "validity.json"


@dataclass(frozen=True)
class Column:
    """A metric column and its direction.

    Args:
        name: the column (e.g. `pesq_wb`, `dnsmos_ovrl`).
        metric: the metric that writes it.
        higher_is_better: its direction (agreement negates a lower-is-better correlation).
    """

    name: str
    metric: str
    higher_is_better: bool


def columns_of(info_metrics: dict[str, dict[str, Any]]) -> list[Column]:
    """The metric columns of a run's `run.json` `metrics` (the reference-side `ref_*` columns left out)."""
    return [Column(c, name, bool(meta["higher_is_better"])) for name, meta in info_metrics.items()
            for c in meta["columns"] if not c.startswith("ref_")]


class _Panel:
    """Ratings of the systems as an array [listener, item, condition] (NaN: not rated) and metric values as
    [column, item, condition], for fast resampling."""

    def __init__(self, ratings: pd.DataFrame, scores: pd.DataFrame, columns: list[Column]) -> None:
        ratings = ratings.merge(scores[["item", "condition"]].drop_duplicates(), on=["item", "condition"])
        self.listeners = sorted(ratings["listener"].unique())  # those who rated a scored stimulus
        self.items = sorted(ratings["item"].unique())
        self.conditions = list(dict.fromkeys(ratings["condition"]))
        li, ii, ci = ({v: k for k, v in enumerate(values)} for values in (self.listeners, self.items, self.conditions))
        self.r = np.full((len(self.listeners), len(self.items), len(self.conditions)), np.nan)
        used = ratings[ratings["item"].isin(ii) & ratings["condition"].isin(ci)]
        self.r[used["listener"].map(li), used["item"].map(ii), used["condition"].map(ci)] = used["rating"]
        self.m = np.full((len(columns), len(self.items), len(self.conditions)), np.nan)
        kept = scores[scores["item"].isin(ii) & scores["condition"].isin(ci)]
        for k, column in enumerate(columns):
            sign = 1.0 if column.higher_is_better else -1.0
            self.m[k, kept["item"].map(ii), kept["condition"].map(ci)] = sign * kept[column.name].to_numpy(float)

    def mos(self, listener_weights: np.ndarray) -> np.ndarray:
        """Mean rating per (item, condition) [I, C] with each listener counted `listener_weights` times."""
        rated = np.isfinite(self.r)
        w = listener_weights[:, None, None] * rated
        total = np.where(rated, self.r, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w * total).sum(axis=0) / w.sum(axis=0)

    def agreement(self, mos: np.ndarray, item_counts: np.ndarray) -> np.ndarray:
        """Agreement [column, level, correlation] for items counted `item_counts` times."""
        out = np.full((self.m.shape[0], len(LEVELS), len(CORRELATIONS)), np.nan)
        repeat = item_counts.astype(int)
        for k in range(self.m.shape[0]):
            values = self.m[k]
            ok = np.isfinite(values) & np.isfinite(mos)
            weights = ok * repeat[:, None]
            with np.errstate(invalid="ignore", divide="ignore"):
                cond_metric = (np.where(ok, values, 0) * weights).sum(axis=0) / weights.sum(axis=0)
                cond_mos = (np.where(ok, mos, 0) * weights).sum(axis=0) / weights.sum(axis=0)
            x = np.repeat(values[ok], np.broadcast_to(repeat[:, None], ok.shape)[ok])
            y = np.repeat(mos[ok], np.broadcast_to(repeat[:, None], ok.shape)[ok])
            fine = np.isfinite(cond_metric) & np.isfinite(cond_mos)
            for j, kind in enumerate(CORRELATIONS):
                out[k, 0, j] = correlation(cond_metric[fine], cond_mos[fine], kind)
                out[k, 1, j] = correlation(x, y, kind)
        return out


@dataclass
class Validity:
    """What `measure` found.

    Args:
        table: per metric column, level and correlation: agreement, ci95_low, ci95_high, n (points).
        ranking: per metric column: its agreement by `RANK_BY`, CI, median bootstrap rank, rank interval and
            the share of replicates in which it ranks first.
        stimuli: per stimulus (item, condition): mean rating, ratings, and each metric column's value.
        listeners, items: how many were used.
        resamples, seed: the bootstrap.
    """

    table: pd.DataFrame
    ranking: pd.DataFrame
    stimuli: pd.DataFrame
    listeners: int
    items: int
    resamples: int
    seed: int


def measure(ratings: pd.DataFrame, scores: pd.DataFrame, columns: list[Column],
            resamples: int = DEFAULT_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Validity:
    """Agreement of every metric column with listeners, with two-way bootstrap CIs.

    Each bootstrap replicate draws items and listeners with replacement (independently), recomputes each
    stimulus's mean rating from the drawn listeners and every correlation over the drawn items; the 95 % CI
    is the percentile interval of the replicates (`stats.percentile_interval`). All metrics share each
    replicate, so their ranks are compared on the same draws.

    Args:
        ratings: the kept listeners' ratings of the systems (`Ratings.table` without reference and anchors).
        scores: one row per stimulus: item, condition and the metric columns.
        columns: the metric columns to measure.
        resamples: bootstrap replicates.
        seed: the bootstrap's seed.

    Raises:
        ValueError: fewer than 3 systems or 2 items rated and scored.
    """
    panel = _Panel(ratings, scores, columns)
    if len(panel.conditions) < 3 or len(panel.items) < 2:
        raise ValueError(f"{len(panel.conditions)} systems and {len(panel.items)} items are both rated and scored; "
                         "agreement needs at least 3 systems and 2 items")
    n_l, n_i = len(panel.listeners), len(panel.items)
    point = panel.agreement(panel.mos(np.ones(n_l)), np.ones(n_i))
    rng = np.random.default_rng(seed)
    replicates = np.empty((resamples, *point.shape))
    for b in range(resamples):
        listener_counts = np.bincount(rng.integers(0, n_l, n_l), minlength=n_l).astype(float)
        item_counts = np.bincount(rng.integers(0, n_i, n_i), minlength=n_i)
        replicates[b] = panel.agreement(panel.mos(listener_counts), item_counts)
    mos = panel.mos(np.ones(n_l))
    records = []
    for k, column in enumerate(columns):
        finite = np.isfinite(panel.m[k]) & np.isfinite(mos)
        for lv, level in enumerate(LEVELS):
            n = int(finite.any(axis=0).sum()) if level == "condition" else int(finite.sum())
            for j, kind in enumerate(CORRELATIONS):
                low, high = percentile_interval(replicates[:, k, lv, j])
                records.append({"metric": column.name, "level": level, "correlation": kind,
                                "agreement": point[k, lv, j], "ci95_low": low, "ci95_high": high, "n": n})
    table = pd.DataFrame(records)
    return Validity(table, _ranking(columns, point, replicates), _stimuli(panel, columns, ratings), n_l, n_i,
                    resamples, seed)


def _ranking(columns: list[Column], point: np.ndarray, replicates: np.ndarray) -> pd.DataFrame:
    lv, j = LEVELS.index(RANK_BY[0]), CORRELATIONS.index(RANK_BY[1])
    values = replicates[:, :, lv, j]
    ranks = pd.DataFrame(-np.nan_to_num(values, nan=-np.inf)).rank(axis=1, method="min").to_numpy()
    records = []
    for k, column in enumerate(columns):
        low, high = percentile_interval(values[:, k])
        rank_low, rank_high = np.percentile(ranks[:, k], [2.5, 97.5])
        records.append({"metric": column.name, "criterion": f"{RANK_BY[0]}-level {RANK_BY[1]}",
                        "agreement": point[k, lv, j], "ci95_low": low, "ci95_high": high,
                        "median_rank": float(np.median(ranks[:, k])), "rank_ci95_low": float(rank_low),
                        "rank_ci95_high": float(rank_high), "p_first": float((ranks[:, k] == 1).mean())})
    ranking = pd.DataFrame(records).sort_values(["agreement", "median_rank"], ascending=[False, True],
                                                na_position="last", kind="stable")
    ranking.insert(0, "rank", range(1, len(ranking) + 1))
    return ranking.reset_index(drop=True)


def _stimuli(panel: _Panel, columns: list[Column], ratings: pd.DataFrame) -> pd.DataFrame:
    mos = panel.mos(np.ones(len(panel.listeners)))
    counts = np.isfinite(panel.r).sum(axis=0)
    records = []
    for i, item in enumerate(panel.items):
        for c, condition in enumerate(panel.conditions):
            record = {"item": item, "condition": condition, "mean_rating": mos[i, c], "ratings": int(counts[i, c])}
            for k, column in enumerate(columns):
                value = panel.m[k, i, c]
                record[column.name] = value if column.higher_is_better else -value
            records.append(record)
    return pd.DataFrame(records)


def write(validity: Validity, out: Path, info: dict[str, Any]) -> None:
    """`validity.csv` (the table with each metric's `rank`), `ranking.csv`, `stimuli.csv` and `validity.json`
    (what was measured, how) in `out`."""
    from codecbench.safecsv import write_csv

    out.mkdir(parents=True, exist_ok=True)
    write_csv(validity.table.merge(validity.ranking[["metric", "rank"]], on="metric", how="left"), out / VALIDITY_CSV)
    write_csv(validity.ranking, out / RANKING_CSV)
    write_csv(validity.stimuli, out / STIMULI_CSV)
    (out / VALIDITY_JSON).write_text(json.dumps({
        **info, "listeners": validity.listeners, "items": validity.items, "resamples": validity.resamples,
        "seed": validity.seed, "ranked_by": f"{RANK_BY[0]}-level {RANK_BY[1]}",
        "excluded_conditions": "the hidden reference and the anchors (see codecbench.validity)"}, indent=2))


def systems_only(ratings: Ratings) -> pd.DataFrame:
    """The ratings of the systems: neither the hidden reference nor an anchor."""
    return ratings.table[ratings.table["condition"].isin(ratings.systems)]


@dataclass
class Assessment:
    """What `assess` wrote to its folder."""

    out: Path
    validity: Validity
    ratings: Ratings
    excluded: pd.DataFrame
    run: Path


def assess(source: str | Path, out: str | Path, metrics: list[str], kind: str = "auto",
           stimuli: str | Path | None = None, filtered: bool = False, screening: bool = True, workers: int = 1,
           resume: bool = False, resamples: int = DEFAULT_RESAMPLES, seed: int = BOOTSTRAP_SEED,
           plots: bool = True, progress: bool = True, command: list[str] | None = None,
           max_delay_s: float | None = None, align_mode: str = DEFAULT_ALIGN) -> Assessment:
    """Measure every metric's agreement with a ratings source's listeners.

    Writes to `out`: `listeners/` (the `mushra analyze` output: BS.1534-3 screening, CIs, plots), `scores/`
    (the run folder of the stimuli, `codecbench report` reads it), `validity.csv`, `ranking.csv`,
    `stimuli.csv`, `validity.json` and the plots `validity_scatter.png`, `validity_ranking.png`.

    Args:
        source: the ratings (`codecbench.ratings.read_source`).
        out: the output folder.
        metrics: metric names to score the stimuli with.
        kind, stimuli, filtered: see `read_source`.
        screening: apply BS.1534-3 post-screening (False: every listener counts).
        workers: metric worker processes.
        resume: reuse the scores of a previous `assess` in `out` (scoring only the missing stimuli).
        resamples, seed: the bootstrap.
        plots: write the PNG plots.
        progress: show a progress bar while scoring.
        command: the command line recorded in the run folder.
        max_delay_s: the alignment's delay search (default: the pipeline's, as in `run`).
        align_mode: the delay rule (`--align`): by default the phase-blind estimate, kept only where confident
            (a listening test's files are usually time-aligned, but a codec's own delay, e.g. AudioDec's ~9 ms,
            may remain in them; see docs/alignment.md).

    Raises:
        ValueError: unreadable ratings, no stimulus files, or too few systems or items to correlate.
    """
    from codecbench.listening_test.analysis import analyze
    from codecbench.pairs import score_pairs
    from codecbench.ratings import read_source
    from codecbench.rundir import RunDir

    from codecbench.pipeline import MAX_DELAY_S

    out = Path(out)
    max_delay_s = MAX_DELAY_S if max_delay_s is None else max_delay_s
    ratings = read_source(source, kind, stimuli, filtered)
    screening = screening and not ratings.screened  # a typed analysis (ACR, DCR) already applied its own rules
    pairs = [p for p in ratings.pairs() if p.condition in ratings.systems]
    analysis = analyze(ratings.contract(), out / "listeners", reference=ratings.reference,
                       mid_anchor=ratings.mid_anchor, plots=plots, screening=screening)
    kept = ratings.kept(analysis.screening.kept if screening else ratings.table["listener"].unique().tolist())
    run = out / "scores"
    scored = score_pairs(pairs, metrics, run, str(Path(source).resolve()), workers=workers, resume=resume,
                         overwrite=not resume and RunDir(run).holds_run(), max_delay_s=max_delay_s,
                         align_mode=align_mode, progress=progress, command=command)
    info = RunDir(run).read_info()
    assert info is not None
    columns = columns_of(info.metrics)
    scores = scored.rows.rename(columns={"utterance": "item", "spec": "condition"})
    validity = measure(systems_only(kept), scores, columns, resamples, seed)
    write(validity, out, {"source": ratings.source, "citation": ratings.citation, "notes": list(ratings.notes),
                          "metrics": metrics, "screening": screening,
                          "excluded_listeners": analysis.screening.excluded.to_dict("records") if screening else [],
                          "systems": ratings.systems, "reference": ratings.reference, "anchors": list(ratings.anchors),
                          "scored_stimuli": len(pairs), "scores": str(run), "max_delay_s": max_delay_s,
                          "align": align_mode})
    if plots:
        from codecbench.validity_plots import plot_ranking, plot_scatter

        plot_scatter(validity, columns, out / "validity_scatter.png")
        plot_ranking(validity, out / "validity_ranking.png")
    return Assessment(out, validity, ratings, analysis.screening.excluded, run)


def format_ranking(result: Assessment) -> str:
    """The ranking and both levels' Spearman agreement as a text table, with what was measured."""
    v = result.validity
    spearman = v.table[v.table["correlation"] == "spearman"].set_index(["metric", "level"])
    lines = [f"{result.ratings.source}: {len(result.ratings.systems)} systems (reference and anchors excluded), "
             f"{v.items} items, {v.listeners} listeners kept ({len(result.excluded)} excluded by screening); "
             f"{v.resamples} bootstrap replicates (items and listeners resampled)",
             f"{'rank':>4}  {'metric':<16} {'condition ρ [95% CI]':<24} {'stimulus ρ [95% CI]':<24} "
             f"{'rank 95% CI':<11} P(first)"]
    for r in v.ranking.itertuples():
        cells = []
        for level in LEVELS:
            e = spearman.loc[(r.metric, level)]
            cells.append(f"{e['agreement']:+.2f} [{e['ci95_low']:+.2f}, {e['ci95_high']:+.2f}]")
        lines.append(f"{r.rank:>4}  {r.metric:<16} {cells[0]:<24} {cells[1]:<24} "
                     f"{int(r.rank_ci95_low):>2}-{int(r.rank_ci95_high):<8} {r.p_first:.2f}")
    lines.append(f"written: {result.out}/{VALIDITY_CSV}, {RANKING_CSV}, {STIMULI_CSV}, listeners/, scores/")
    return "\n".join(lines)
