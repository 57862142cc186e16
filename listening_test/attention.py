"""Attention and consistency per listener, for the listeners export: trapping trials passed, how often the hidden
reference was found, and who a `--require-headphones` test screened out."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from codecbench.listening_test.traps import trap_scores

if TYPE_CHECKING:
    from codecbench.listening_test.results import ResultsDB

REFERENCE_FOUND = 90  # a hidden reference rated at least this was found (BS.1534-3's post-screening threshold)
COLUMNS = ["traps", "traps_passed", "trap_pass_rate", "reference_items", "hidden_reference_rate", "screened_out"]


def attention(ratings: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Per listener with test ratings: `traps`, `traps_passed`, `trap_pass_rate` (NaN without traps),
    `reference_items` and `hidden_reference_rate` (the share of items whose hidden reference they rated >= 90)."""
    test = ratings[ratings["phase"] == "test"]
    found = test[test["condition"] == reference].groupby("listener")["rating"]
    table = pd.DataFrame({"reference_items": found.size(),
                          "hidden_reference_rate": found.agg(lambda r: round(float((r >= REFERENCE_FOUND).mean()), 3))})
    table = table.reindex(sorted(test["listener"].unique())).rename_axis("listener").reset_index()
    table = table.merge(trap_scores(ratings), on="listener", how="left")
    table[["traps", "traps_passed"]] = table[["traps", "traps_passed"]].fillna(0).astype(int)
    table["trap_pass_rate"] = (table["traps_passed"] / table["traps"].where(table["traps"] > 0)).round(3)
    table["reference_items"] = table["reference_items"].fillna(0).astype(int)
    return table


def listeners_export(results: ResultsDB) -> pd.DataFrame:
    """`ResultsDB.listeners()` with the `COLUMNS` of `attention` after it; `screened_out` is True for a listener a
    `--require-headphones` test screened out (headphone screen failed)."""
    listeners = results.listeners()
    table = listeners.merge(attention(results.ratings(), results.test.spec["reference"]), on="listener", how="left")
    table[["traps", "traps_passed", "reference_items"]] = \
        table[["traps", "traps_passed", "reference_items"]].fillna(0).astype(int)
    table["screened_out"] = bool(results.test.require_headphones) & (table["huggins_passed"] == False)  # noqa: E712
    return table
