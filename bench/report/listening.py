"""The ACR, DCR, CCR and A/B part of a report: `codecbench mushra analyze --type acr|dcr|ccr|ab` outputs beside
the metrics.

A folder holding `mos.csv`, `dmos.csv` or `cmos.csv` is an ACR, DCR or CCR study (MOS, DMOS or CMOS per condition
with its 95 % CI, shown with the run's mean of each metric for the conditions that are specs of the run); one
holding `preferences.csv` and `bradley_terry.csv` is an
A/B study (preference shares with Wilson CIs per pair, and the Bradley-Terry ranking). Each folder's
`screening.csv` gives the listener counts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from codecbench.report.document import Grid, Section, cells, fmt, fmt_p
from codecbench.safecsv import read_csv

CATEGORY = {  # the table of each category-rating type: (file and column, type, scale in words)
    "mos": ("ACR", "ITU-T P.808 ACR, 1 (Bad) to 5 (Excellent)"),
    "dmos": ("DCR", "ITU-T P.808 DCR (P.800 Annex D), 1 (degradation very annoying) to 5 (inaudible)"),
    "cmos": ("CCR", "ITU-T P.808 CCR (P.800 Annex E), the condition against the reference, -3 (much worse) to "
                    "+3 (much better), sign-corrected for the order"),
}


def listening_section(folders: list[str | Path], rows: pd.DataFrame, metrics: list[str]) -> Section:
    """One section with a table per study found in `folders`.

    Args:
        folders: analysis folders of `mushra analyze --type acr|dcr|ccr|ab`.
        rows: the run's rows (`spec` and the metric columns).
        metrics: the metric columns to show beside the MOS.

    Raises:
        FileNotFoundError: a folder with none of `mos.csv`, `dmos.csv`, `cmos.csv`, `preferences.csv`.
    """
    blocks: list[Grid] = []
    found: list[str] = []
    for folder in map(Path, folders):
        screening = read_csv(folder / "screening.csv") if (folder / "screening.csv").is_file() else None
        kept = "" if screening is None else \
            f"{int((~screening['excluded'].astype(bool)).sum())} of {len(screening)} listeners kept after screening"
        table = next((name for name in CATEGORY if (folder / f"{name}.csv").is_file()), None)
        if table is not None:
            blocks.append(_category_grid(folder, table, read_csv(folder / f"{table}.csv"), rows, metrics, kept))
            found.append(CATEGORY[table][0])
        elif (folder / "preferences.csv").is_file():
            blocks += _ab_grids(folder, kept)
            found.append("A/B")
        else:
            raise FileNotFoundError(f"{folder} holds neither mos.csv, dmos.csv, cmos.csv (ACR, DCR, CCR) nor "
                                    "preferences.csv (A/B): run `codecbench mushra analyze RATINGS --type "
                                    "acr|dcr|ccr|ab --out DIR` first")
    return Section(f"Listening tests ({', '.join(dict.fromkeys(found))})", blocks)


def _category_grid(folder: Path, name: str, means_table: pd.DataFrame, rows: pd.DataFrame, metrics: list[str],
                   kept: str) -> Grid:
    means = rows.groupby("spec")[metrics].mean(numeric_only=True) if metrics else pd.DataFrame()
    kind, scale = CATEGORY[name]
    table = []
    for r in means_table.itertuples():
        scores = [fmt(means.loc[r.condition, m], 2) if r.condition in means.index else "–" for m in metrics]
        mean = getattr(r, name)
        table.append(cells(r.condition, int(r.votes), f"{fmt(mean, 2)} [{fmt(r.ci95_low, 2)}, {fmt(r.ci95_high, 2)}]",
                           *scores))
    notes = [f"{scale}; Student-t 95 % CI over the votes; {kept}; metric columns: the run's mean per spec (– : not "
             "a spec of the run)."]
    return Grid(kind.lower(), f"{kind} mean opinion score ({folder.name})",
                ["condition", "votes", f"{name.upper()} [95 % CI]", *metrics], table, notes)


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
