"""The NISQA Corpus (Mittag et al., Interspeech 2021): speech with crowdsourced P.808 ACR ratings (MOS 1-5).

Layout (the unzipped `NISQA_Corpus/`): `NISQA_corpus_file.csv`, one row per rated file, with the columns the
NISQA training configurations read (`db`, `con`, `filepath_deg`, `filepath_ref`, `mos`, `votes`, the
dimension MOS `noi`, `col`, `dis`, `loud`; paths relative to the corpus folder; `filepath_ref` is empty where
a file has no clean reference, e.g. the live recordings). Its ratings are per-file means of about five
crowd votes, with no listener identities and no hidden reference, so they are not a MUSHRA table: this reader
gives the per-file MOS and the (reference, degraded) pairs, which `codecbench score --pairs` scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from codecbench.pairs import Pair
from codecbench.safecsv import write_csv

FILE_CSV = "NISQA_corpus_file.csv"
COLUMNS = ("db", "con", "filepath_deg", "filepath_ref", "mos")
CITATION = ("G. Mittag, B. Naderi, A. Chehadi, S. Moller, \"NISQA: A Deep CNN-Self-Attention Model for "
            "Multidimensional Speech Quality Prediction with Crowdsourced Datasets\", Interspeech 2021")


@dataclass(frozen=True)
class NisqaFiles:
    """The corpus's rated files.

    Args:
        table: one row per file: `item` (the degraded file's stem), `condition` (`<db> con <con>`), `mos`,
            `degraded` and `reference` (absolute paths; '' where there is none), and the CSV's other columns.
        root: the corpus folder.
    """

    table: pd.DataFrame
    root: Path

    def pairs(self) -> list[Pair]:
        """The files that have a reference, as (reference, degraded) pairs."""
        rows = self.table[self.table["reference"] != ""]
        return [Pair(r.item, r.condition, Path(r.reference), Path(r.degraded)) for r in rows.itertuples()]

    def pairs_csv(self, path: str | Path) -> Path:
        """Write the pairs as a `codecbench score --pairs` CSV (reference, degraded, item, condition)."""
        path = Path(path)
        rows = self.table[self.table["reference"] != ""]
        return write_csv(rows[["reference", "degraded", "item", "condition"]], path)


def is_nisqa(path: Path) -> bool:
    """Whether `path` is an unzipped NISQA Corpus folder."""
    return path.is_dir() and (path / FILE_CSV).is_file()


def read_nisqa(root: str | Path, databases: list[str] | None = None) -> NisqaFiles:
    """The corpus's per-file ratings, optionally limited to some of its databases (`NISQA_VAL_SIM`, ...).

    Raises:
        ValueError: no `NISQA_corpus_file.csv`, a missing column, an unknown database, or a MOS outside 1-5.
    """
    root = Path(root)
    path = root / FILE_CSV
    if not path.is_file():
        raise ValueError(f"{path} not found: not an unzipped NISQA Corpus folder")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}")
    if databases:
        unknown = sorted(set(databases) - set(table["db"]))
        if unknown:
            raise ValueError(f"{path} has no database {unknown}; it has {sorted(set(table['db']))}")
        table = table[table["db"].isin(databases)]
    mos = pd.to_numeric(table["mos"], errors="coerce")
    bad = table.loc[mos.isna() | (mos < 1) | (mos > 5), "mos"]
    if len(bad):
        raise ValueError(f"{path}: MOS must be numbers from 1 to 5; found {bad.iloc[:5].tolist()}")
    table = table.assign(
        mos=mos, item=[Path(p).stem for p in table["filepath_deg"]],
        condition=[f"{db} con {con}" for db, con in zip(table["db"], table["con"])],
        degraded=[str(root / p) for p in table["filepath_deg"]],
        reference=[str(root / p) if p.strip() else "" for p in table["filepath_ref"]])
    return NisqaFiles(table.reset_index(drop=True), root)
