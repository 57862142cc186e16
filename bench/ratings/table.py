"""`Ratings`: one long table of listeners' ratings, with what a validity measurement needs to know of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from codecbench.pairs import Pair

RATING_COLUMNS = ["listener", "item", "condition", "rating", "file"]


def validate_table(table: pd.DataFrame) -> pd.DataFrame:
    """The ratings in `RATING_COLUMNS` order, strings where they name things and ratings as floats.

    Raises:
        ValueError: a missing column, an empty listener/item/condition, a rating outside 0-100, or one
            listener rating one (item, condition) twice.
    """
    missing = [c for c in RATING_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"ratings lack the columns {missing}; expected {RATING_COLUMNS}")
    table = table[RATING_COLUMNS].copy()
    for column in ("listener", "item", "condition"):
        if table[column].isna().any() or (table[column].astype(str).str.strip() == "").any():
            raise ValueError(f"ratings have empty {column} values")
        table[column] = table[column].astype(str)
    table["file"] = table["file"].fillna("").astype(str)
    rating = pd.to_numeric(table["rating"], errors="coerce")
    bad = table.loc[rating.isna() | (rating < 0) | (rating > 100), "rating"]
    if len(bad):
        raise ValueError(f"ratings must be numbers from 0 to 100; found {bad.iloc[:5].tolist()}")
    table["rating"] = rating.astype(float)
    twice = table.duplicated(["listener", "item", "condition"], keep=False)
    if twice.any():
        first = table[twice].iloc[0]
        raise ValueError(f"listener {first['listener']} rated item {first['item']} / {first['condition']} "
                         f"{int(twice.sum())} times")
    return table.reset_index(drop=True)


@dataclass(frozen=True)
class Ratings:
    """Listeners' ratings and the roles of their conditions.

    Args:
        table: `RATING_COLUMNS`, one row per rating; `file` is the rated stimulus's path ('' if unknown).
        reference: the hidden reference's condition (what every other stimulus is scored against).
        anchors: the anchor conditions (left out of agreement measurements, see `codecbench.validity`).
        source: where the ratings came from, in words.
        citation: whom to cite for them ('' for a user's own test).
        notes: what reading them decided (e.g. a listener column chosen).
        mid_anchor: the anchor BS.1534-3's mid-anchor screening rule applies to (None: that rule is not applied).
        screened: the listeners were already screened by the test's own rules (e.g. an ACR analysis): the
            BS.1534-3 screening does not apply to them.
    """

    table: pd.DataFrame
    reference: str
    anchors: tuple[str, ...] = ()
    source: str = ""
    citation: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    mid_anchor: str | None = None
    screened: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", validate_table(self.table))
        conditions = set(self.table["condition"])
        if self.reference not in conditions:
            raise ValueError(f"no ratings of the reference condition {self.reference!r}; conditions: "
                             f"{sorted(conditions)}")

    @property
    def systems(self) -> list[str]:
        """The rated conditions that are neither the reference nor an anchor, in order of appearance."""
        return [c for c in dict.fromkeys(self.table["condition"]) if c != self.reference and c not in self.anchors]

    def kept(self, listeners: list[str]) -> "Ratings":
        """These ratings limited to `listeners` (e.g. those post-screening kept)."""
        return Ratings(self.table[self.table["listener"].isin(listeners)], self.reference, self.anchors,
                       self.source, self.citation, self.notes, self.mid_anchor, self.screened)

    def contract(self) -> pd.DataFrame:
        """The ratings as the `ratings.csv` export contract that `mushra analyze` reads (every rating a
        test-phase rating; ratings rounded to whole numbers, which the contract requires)."""
        from codecbench.listening_test.testdef import RATINGS_COLUMNS

        table = self.table.copy()
        table["rating"] = np.rint(table["rating"]).astype(int)
        table["session"], table["phase"], table["timestamp"] = "", "test", ""
        table["trial"] = table.groupby("listener").cumcount()
        return table[RATINGS_COLUMNS]

    def pairs(self) -> list["Pair"]:
        """Every rated stimulus but the reference's, paired with its item's reference file.

        Raises:
            ValueError: no stimulus has a file, or an item has no reference file.
        """
        from codecbench.pairs import Pair

        files = self.table[self.table["file"] != ""].drop_duplicates(["item", "condition"])
        if files.empty:
            raise ValueError(f"the ratings of {self.source or 'this source'} name no stimulus files: give the "
                             "stimuli (the test folder) to score them")
        references = files[files["condition"] == self.reference].set_index("item")["file"]
        missing = sorted(set(files["item"]) - set(references.index))
        if missing:
            raise ValueError(f"items without a {self.reference} file: {missing[:5]}")
        return [Pair(r.item, r.condition, Path(references[r.item]), Path(r.file))
                for r in files.itertuples() if r.condition != self.reference]
