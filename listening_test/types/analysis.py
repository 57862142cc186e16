"""Analysis of ACR, DCR, CCR and A/B ratings (the export's `ratings.csv`): screening, MOS, preferences, Bradley-Terry.

ACR, DCR and CCR (ITU-T P.808 clause 6.3, its annexes and its toolkit's data screening, as far as the data allow):
- votes: ACR and DCR votes are the ratings (1-5); a CCR trial's vote is its processed stimulus's stored rating
  minus 3 (`ccr.OFFSET`), its score against the reference whichever came first (`ccr_votes`);
- gold-standard clips: the unprocessed reference (against itself, in DCR and CCR) is a condition of every item
  with the expected answer 5 (ACR: Excellent; DCR: Degradation is inaudible) or 0 (CCR: About the same); P.808
  accepts one category off, so a gold clip rated 3 or lower (ACR, DCR) or 2 or more categories from 0 (CCR)
  fails, and a listener who fails any gold clip is excluded;
- rating behaviour: a listener who gave the same answer to every test trial (no variance) is excluded; each
  listener's Pearson correlation with the others' mean per (item, condition) is reported (`r_with_others`);
- MOS, DMOS or CMOS per condition: the mean of the kept listeners' votes with its Student-t 95 % CI
  (`codecbench.stats`), clipped to the scale (CCR: the reference against itself is screening, not a condition);
  paired t and Wilcoxon tests between conditions, Holm-corrected (`analysis.pairwise_tests`).
A/B: every trial is one comparison of two conditions; a condition's rating is 100 (preferred), 0, or 50 (no
preference). Per pair: preference shares with Wilson 95 % CIs and a two-sided binomial test, ties left out of
both (counted beside), Holm-corrected over pairs; across pairs a Bradley-Terry ranking (`bradley_terry`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from codecbench.listening_test.types.ab import PREFERRED, TIE
from codecbench.listening_test.types.ccr import OFFSET
from codecbench.stats import holm, mean_ci

GOLD_FAIL_AT_OR_BELOW = 3  # ACR, DCR: the reference (expected 5) rated 3 or lower: more than one category off
CCR_GOLD_FAIL_FROM = 2  # CCR: the reference against itself (expected 0) 2 or more categories off
CONFIDENCE = 0.95
CATEGORY_TYPES = ("acr", "dcr", "ccr")
SCALES = {"acr": (1, 5), "dcr": (1, 5), "ccr": (-3, 3)}  # the votes' range
MEANS = {"acr": "mos", "dcr": "dmos", "ccr": "cmos"}  # each type's mean opinion score: its table and column
VOTES_CSV, LISTENING_JSON = "votes.csv", "listening.json"  # the kept votes and what the analysis was (validity)


# -- ACR, DCR, CCR ---------------------------------------------------------------------------------------

def ccr_votes(ratings: pd.DataFrame, gold: str = "reference") -> pd.DataFrame:
    """One row per CCR trial in the export's columns: the processed condition and its sign-corrected vote
    (-3..+3, its score against the reference); a gold trial (the reference against itself) keeps the reference
    as its condition and the distance of the answer from "About the same" (0..3) as its vote.

    Raises:
        ValueError: a trial that is not two stored ratings 3 - c and 3 + c, one of them of the reference.
    """
    records = []
    for (_, _), group in ratings.groupby(["listener", "trial"], sort=True):
        values = group["rating"].tolist()
        conditions = group["condition"].tolist()
        if len(group) != 2 or sum(values) != 2 * OFFSET or not all(0 <= v <= 2 * OFFSET for v in values) \
                or gold not in conditions:
            first = group.iloc[0]
            raise ValueError(f"listener {first['listener']} trial {first['trial']} is not a CCR answer (two "
                             f"ratings 3 - c and 3 + c, one of them of {gold}): {list(zip(conditions, values))}")
        if conditions[0] == conditions[1]:
            row, vote = group.iloc[0], abs(values[0] - OFFSET)
        else:
            row = group[group["condition"] != gold].iloc[0]
            vote = int(row["rating"]) - OFFSET
        records.append({**row.to_dict(), "rating": vote})
    return pd.DataFrame(records, columns=ratings.columns)


def votes_of(kind: str, ratings: pd.DataFrame, gold: str = "reference") -> pd.DataFrame:
    """The test-phase votes of a category test (`ccr_votes` for CCR, the ratings themselves for ACR and DCR).

    Raises:
        ValueError: ratings that are not of this type.
    """
    test = ratings[ratings["phase"] == "test"]
    if kind == "ccr":
        return ccr_votes(test, gold)
    low, high = SCALES[kind]
    if not test["rating"].between(low, high).all():
        raise ValueError(f"{kind.upper()} ratings are {low}-{high}; these hold other values (is this a MUSHRA, "
                         "CCR or A/B export?)")
    return test


def category_screening(kind: str, votes: pd.DataFrame, gold: str = "reference") -> pd.DataFrame:
    """Per listener with test votes (`votes_of`): gold clips rated and failed, vote variance, correlation with
    the others' mean, and whether (and why) they are excluded."""
    cells = votes.groupby(["item", "condition"])["rating"].agg(["sum", "count"])
    rule = ("more than one category from About the same" if kind == "ccr"
            else f"rated {GOLD_FAIL_AT_OR_BELOW} or lower")
    records = []
    for listener, own in votes.groupby("listener", sort=True):
        golds = own[own["condition"] == gold]
        failed = int((golds["rating"] >= CCR_GOLD_FAIL_FROM).sum() if kind == "ccr"
                     else (golds["rating"] <= GOLD_FAIL_AT_OR_BELOW).sum())
        joined = own.join(cells, on=["item", "condition"])
        others = joined["count"] - 1
        keep = others > 0
        mean_others = (joined["sum"] - joined["rating"])[keep] / others[keep]
        r = float(np.corrcoef(joined["rating"][keep], mean_others)[0, 1]) \
            if keep.sum() > 2 and joined["rating"][keep].std() > 0 and mean_others.std() > 0 else float("nan")
        reasons = []
        if failed:
            reasons.append(f"failed {failed} of {len(golds)} gold clips ({gold} {rule})")
        if len(own) > 1 and own["rating"].nunique() == 1:
            reasons.append(f"the same answer ({own['rating'].iloc[0]}) to all {len(own)} trials")
        records.append({"listener": listener, "trials": len(own), "gold_rated": len(golds), "gold_failed": failed,
                        "variance": float(own["rating"].var(ddof=0)), "r_with_others": r,
                        "excluded": bool(reasons), "reason": "; ".join(reasons)})
    return pd.DataFrame(records, columns=["listener", "trials", "gold_rated", "gold_failed", "variance",
                                          "r_with_others", "excluded", "reason"])


def acr_screening(ratings: pd.DataFrame, gold: str = "reference") -> pd.DataFrame:
    """`category_screening` of ACR ratings (1-5)."""
    return category_screening("acr", ratings[ratings["phase"] == "test"], gold)


def mos_table(votes: pd.DataFrame, scale: tuple[int, int] = (1, 5), column: str = "mos") -> pd.DataFrame:
    """The mean vote per condition (test phase): votes, listeners, mean and Student-t 95 % CI (clipped to the
    `scale`), best first; `column` names the mean (mos, dmos, cmos)."""
    records = []
    for condition, group in votes[votes["phase"] == "test"].groupby("condition"):
        estimate = mean_ci(group["rating"].to_numpy(dtype=float))
        low, high = np.clip([estimate.low, estimate.high], *scale)  # votes lie on the scale
        records.append({"condition": condition, "votes": estimate.n, "listeners": group["listener"].nunique(),
                        column: estimate.mean, "ci95_low": low, "ci95_high": high})
    table = pd.DataFrame(records, columns=["condition", "votes", "listeners", column, "ci95_low", "ci95_high"])
    return table.sort_values(column, ascending=False, kind="stable").reset_index(drop=True)


def category_table(kind: str, kept: pd.DataFrame, gold: str = "reference") -> pd.DataFrame:
    """The MOS (ACR), DMOS (DCR) or CMOS (CCR; the reference against itself left out) of the kept votes."""
    shown = kept[kept["condition"] != gold] if kind == "ccr" else kept
    return mos_table(shown, SCALES[kind], MEANS[kind])


def acr_paired(votes: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """Paired t and Wilcoxon tests between the conditions (same listener and item), Holm-corrected."""
    from codecbench.listening_test.analysis import pairwise_tests

    return pairwise_tests(votes[votes["phase"] == "test"])


# -- A/B ---------------------------------------------------------------------------------------------------

def comparisons(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per A/B test trial: listener, item, `first` and `second` (the pair's conditions in name order),
    and `outcome` 1 (first preferred), 0 (second preferred) or 0.5 (no preference).

    Raises:
        ValueError: a trial without exactly two ratings of 0/100 or 50/50.
    """
    test = ratings[ratings["phase"] == "test"].sort_values("condition", kind="stable")
    records = []
    for (listener, trial), group in test.groupby(["listener", "trial"], sort=True):
        values = sorted(group["rating"].tolist())
        if len(group) != 2 or values not in ([0, PREFERRED], [TIE, TIE]):
            raise ValueError(f"listener {listener} trial {trial} is not an A/B answer (two ratings of 0 and 100, "
                             f"or 50 and 50): {values}")
        first, second = group.itertuples()
        outcome = 0.5 if first.rating == TIE else float(first.rating == PREFERRED)
        records.append({"listener": listener, "trial": trial, "item": first.item, "first": first.condition,
                        "second": second.condition, "outcome": outcome})
    return pd.DataFrame(records, columns=["listener", "trial", "item", "first", "second", "outcome"])


def preference_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per pair: comparisons, wins of each, ties, the first condition's share of the decided comparisons with
    its Wilson 95 % CI, the two-sided binomial test of no preference (p = 0.5) and its Holm correction."""
    records = []
    for (first, second), group in pairs.groupby(["first", "second"], sort=True):
        wins = int((group["outcome"] == 1).sum())
        losses = int((group["outcome"] == 0).sum())
        decided = wins + losses
        record = {"first": first, "second": second, "n": len(group), "first_wins": wins, "second_wins": losses,
                  "ties": len(group) - decided}
        if decided:
            test = stats.binomtest(wins, decided, 0.5)
            interval = test.proportion_ci(CONFIDENCE, method="wilson")
            record.update(share_first=wins / decided, ci95_low=interval.low, ci95_high=interval.high,
                          p_binomial=test.pvalue)
        else:
            record.update(share_first=np.nan, ci95_low=np.nan, ci95_high=np.nan, p_binomial=np.nan)
        records.append(record)
    table = pd.DataFrame(records, columns=["first", "second", "n", "first_wins", "second_wins", "ties",
                                           "share_first", "ci95_low", "ci95_high", "p_binomial"])
    finite = table["p_binomial"].notna()
    table["p_holm"] = np.nan
    if finite.any():
        table.loc[finite, "p_holm"] = holm(table.loc[finite, "p_binomial"].tolist())
    return table


def bradley_terry(pairs: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Bradley-Terry worths by maximum likelihood: P(i preferred to j) = w_i / (w_i + w_j), worths summing to 1;
    a tie counts half a win to each side. Where the comparisons leave the maximum at infinity (a condition that
    won, or lost, every comparison), every pair gets one extra tie (half a win each way) so that the ranking
    stays finite, and the note says so.

    Returns:
        (condition, worth, log_worth, rank; best first) and a note.
    """
    conditions = sorted(set(pairs["first"]) | set(pairs["second"]))
    index = {c: i for i, c in enumerate(conditions)}
    k = len(conditions)
    wins = np.zeros((k, k))  # wins[i, j]: how often i was preferred to j
    for row in pairs.itertuples():
        i, j = index[row.first], index[row.second]
        wins[i, j] += row.outcome
        wins[j, i] += 1 - row.outcome
    note = ""
    if k < 2:
        return pd.DataFrame(columns=["condition", "worth", "log_worth", "rank"]), "fewer than two conditions"
    if not _strongly_connected(wins):
        compared = (wins + wins.T) > 0
        wins = wins + 0.5 * compared
        note = ("a condition won or lost every comparison, so the maximum-likelihood worths are infinite; "
                "one tie was added to every compared pair")
    theta = _bt_fit(wins)
    worth = np.exp(theta) / np.exp(theta).sum()
    table = pd.DataFrame({"condition": conditions, "worth": worth, "log_worth": np.log(worth)})
    table = table.sort_values("worth", ascending=False, kind="stable").reset_index(drop=True)
    table["rank"] = np.arange(1, k + 1)
    return table, note


def _bt_fit(wins: np.ndarray) -> np.ndarray:
    """Log-worths (the first fixed at 0) maximising the Bradley-Terry log-likelihood of `wins`."""
    n = wins + wins.T

    def negative(free: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.concatenate([[0.0], free])
        diff = theta[:, None] - theta[None, :]
        p = 1 / (1 + np.exp(-diff))  # p[i, j]: P(i preferred to j)
        value = -np.sum(wins * np.log(np.clip(p, 1e-300, None)))
        gradient = -(wins - n * p).sum(axis=1)
        return value, gradient[1:]

    result = optimize.minimize(negative, np.zeros(len(wins) - 1), jac=True, method="BFGS",
                               options={"gtol": 1e-10, "maxiter": 1000})
    return np.concatenate([[0.0], result.x])


def _strongly_connected(wins: np.ndarray) -> bool:
    """Every condition reaches every other through "was preferred to" (at least half a win): the condition under
    which the Bradley-Terry maximum is finite (Zermelo 1929; Hunter 2004)."""
    from scipy.sparse.csgraph import connected_components

    count, _ = connected_components(wins > 0, directed=True, connection="strong")
    return count == 1


def ab_screening(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per listener: A/B trials and ties; excluded when every test answer was "no preference" (no information)."""
    pairs = comparisons(ratings)
    records = []
    for listener, own in pairs.groupby("listener", sort=True):
        ties = int((own["outcome"] == 0.5).sum())
        excluded = len(own) > 1 and ties == len(own)
        records.append({"listener": listener, "trials": len(own), "ties": ties, "excluded": excluded,
                        "reason": f"no preference in all {len(own)} trials" if excluded else ""})
    return pd.DataFrame(records, columns=["listener", "trials", "ties", "excluded", "reason"])


# -- every type ------------------------------------------------------------------------------------------

def screening(kind: str, ratings: pd.DataFrame, gold: str = "reference") -> pd.DataFrame:
    if kind in CATEGORY_TYPES:
        return category_screening(kind, votes_of(kind, ratings, gold), gold)
    return ab_screening(ratings)


def kept_ratings(kind: str, ratings: pd.DataFrame, gold: str = "reference") -> pd.DataFrame:
    """The test ratings (ACR, DCR, CCR: votes, `votes_of`) of the listeners screening keeps."""
    test = votes_of(kind, ratings, gold) if kind in CATEGORY_TYPES else ratings[ratings["phase"] == "test"]
    screened = screening(kind, ratings, gold)
    return test[test["listener"].isin(set(screened.loc[~screened["excluded"], "listener"]))]


def summary_table(kind: str, kept: pd.DataFrame, gold: str = "reference") -> pd.DataFrame:
    """The MOS, DMOS or CMOS table (`category_table`), or the A/B preference table, of the kept ratings."""
    return category_table(kind, kept, gold) if kind in CATEGORY_TYPES else preference_table(comparisons(kept))


def admin_tables(kind: str, ratings: pd.DataFrame, gold: str = "reference") -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the admin page shows for an ACR, DCR, CCR or A/B test: screening per listener, and the MOS, DMOS,
    CMOS or preference table of the kept listeners."""
    return screening(kind, ratings, gold), summary_table(kind, kept_ratings(kind, ratings, gold), gold).round(3)


def analyze_type(kind: str, ratings: pd.DataFrame, out: str | Path, gold: str = "reference") -> dict[str, pd.DataFrame]:
    """Screen, summarise and test an ACR, DCR, CCR or A/B study; writes `excluded_listeners.csv`, `screening.csv`
    and `mos.csv` / `dmos.csv` / `cmos.csv` + `paired_tests.csv` + `votes.csv` (the kept listeners' test votes,
    which `codecbench validity` reads) + `listening.json` (ACR, DCR, CCR), or `preferences.csv` +
    `bradley_terry.csv` (A/B) into `out`.

    Raises:
        ValueError: ratings that are not of this type (ACR, DCR: 1-5; CCR, A/B: two answers per trial).
    """
    from codecbench.safecsv import write_csv

    votes = votes_of(kind, ratings, gold) if kind in CATEGORY_TYPES else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    screened = screening(kind, ratings, gold)
    kept = kept_ratings(kind, ratings, gold)
    tables = {"screening": screened,
              "excluded_listeners": screened.loc[screened["excluded"], ["listener", "reason"]]}
    if votes is not None:
        tables[MEANS[kind]] = category_table(kind, kept, gold)
        paired, note = acr_paired(kept[kept["condition"] != gold] if kind == "ccr" else kept)
        tables["paired_tests"] = paired if paired is not None else pd.DataFrame({"note": [note]})
        tables["votes"] = kept[["listener", "item", "condition", "rating"]]
        info = {"type": kind, "scale": list(SCALES[kind]), "gold": gold,
                "kept": sorted(screened.loc[~screened["excluded"], "listener"].astype(str)),
                "excluded": tables["excluded_listeners"].astype(str).to_dict("records")}
        (out / LISTENING_JSON).write_text(json.dumps(info, indent=1) + "\n")
    else:
        pairs = comparisons(kept)
        tables["preferences"] = preference_table(pairs)
        ranking, note = bradley_terry(pairs)
        tables["bradley_terry"] = ranking.assign(note=note)
    for name, table in tables.items():
        write_csv(table, out / f"{name}.csv")
    return tables
