"""The ACR and A/B part of a report: `codecbench mushra analyze --type acr|ab` outputs beside the metrics.

A folder holding `mos.csv` is an ACR study (MOS per condition with its 95 % CI, shown with the run's mean of each
metric for the conditions that are specs of the run); one holding `preferences.csv` and `bradley_terry.csv` is an
A/B study (preference shares with Wilson CIs per pair, and the Bradley-Terry ranking). Each folder's
`screening.csv` gives the listener counts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from codecbench.report.document import Grid, Section, cells, fmt, fmt_p
from codecbench.safecsv import read_csv


def listening_section(folders: list[str | Path], rows: pd.DataFrame, metrics: list[str]) -> Section:
    """One section with a table per study found in `folders`.

    Args:
        folders: analysis folders of `mushra analyze --type acr|ab`.
        rows: the run's rows (`spec` and the metric columns).
        metrics: the metric columns to show beside the MOS.

    Raises:
        FileNotFoundError: a folder with neither `mos.csv` nor `preferences.csv`.
    """
    blocks: list[Grid] = []
    for folder in map(Path, folders):
        screening = read_csv(folder / "screening.csv") if (folder / "screening.csv").is_file() else None
        kept = "" if screening is None else \
            f"{int((~screening['excluded'].astype(bool)).sum())} of {len(screening)} listeners kept after screening"
        if (folder / "mos.csv").is_file():
            blocks.append(_acr_grid(folder, read_csv(folder / "mos.csv"), rows, metrics, kept))
        elif (folder / "preferences.csv").is_file():
            blocks += _ab_grids(folder, kept)
        else:
            raise FileNotFoundError(f"{folder} holds neither mos.csv (ACR) nor preferences.csv (A/B): run "
                                    "`codecbench mushra analyze RATINGS --type acr|ab --out DIR` first")
    return Section("Listening tests (ACR, A/B)", blocks)


def _acr_grid(folder: Path, mos: pd.DataFrame, rows: pd.DataFrame, metrics: list[str], kept: str) -> Grid:
    means = rows.groupby("spec")[metrics].mean(numeric_only=True) if metrics else pd.DataFrame()
    table = []
    for r in mos.itertuples():
        scores = [fmt(means.loc[r.condition, m], 2) if r.condition in means.index else "–" for m in metrics]
        table.append(cells(r.condition, int(r.votes), f"{fmt(r.mos, 2)} [{fmt(r.ci95_low, 2)}, {fmt(r.ci95_high, 2)}]",
                           *scores))
    notes = [f"ITU-T P.808 ACR, 1 (Bad) to 5 (Excellent); Student-t 95 % CI over the votes; {kept}; metric "
             "columns: the run's mean per spec (– : not a spec of the run)."]
    return Grid("acr", f"ACR mean opinion score ({folder.name})", ["condition", "votes", "MOS [95 % CI]", *metrics],
                table, notes)


def _ab_grids(folder: Path, kept: str) -> list[Grid]:
    preferences = read_csv(folder / "preferences.csv")
    table = [cells(f"{r.first} vs {r.second}", int(r.n), int(r.ties),
                   f"{fmt(r.share_first, 2)} [{fmt(r.ci95_low, 2)}, {fmt(r.ci95_high, 2)}]", fmt_p(r.p_holm))
             for r in preferences.itertuples()]
    grids = [Grid("ab", f"A/B preference ({folder.name})", ["pair", "n", "ties", "share of first [Wilson 95 % CI]",
                                                          "p (Holm)"], table,
                  [f"Share of the decided comparisons won by the first condition; ties counted apart; two-sided "
                   f"binomial test against 0.5; {kept}."])]
    if (folder / "bradley_terry.csv").is_file():
        ranking = read_csv(folder / "bradley_terry.csv")
        notes = [n for n in ranking.get("note", pd.Series(dtype=str)).dropna().unique() if str(n)]
        grids.append(Grid("bradley-terry", f"Bradley–Terry ranking ({folder.name})", ["rank", "condition", "worth"],
                          [cells(int(r.rank), r.condition, fmt(r.worth, 3)) for r in ranking.itertuples()],
                          ["Worths sum to 1: P(i preferred to j) = w_i / (w_i + w_j); a tie counts half a win.",
                           *notes]))
    return grids
