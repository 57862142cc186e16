"""The report as a format-neutral document (sections of text, tables and figures) and its Markdown form."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, whether it is the best of its column, and a footnote mark."""

    text: str
    bold: bool = False
    mark: str = ""


@dataclass
class Grid:
    """A table: header, rows of cells, a caption and notes printed under it.

    Args:
        label: a short identifier (LaTeX label, HTML id).
    """

    label: str
    caption: str
    header: list[str]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)
    align: str = ""  # per column "l", "r" or "p" (wrapped text); default: first left, rest right

    def alignment(self) -> str:
        return self.align or "l" + "r" * (len(self.header) - 1)


@dataclass(frozen=True)
class FigureRef:
    """A figure written as `<stem>.png` and `<stem>.pdf`."""

    png: Path
    pdf: Path
    caption: str


Block = Union[str, Grid, FigureRef]


@dataclass
class Section:
    """A titled part of the report; an appendix holds detail a reader opens on demand (HTML: collapsed tables)."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    appendix: bool = False


@dataclass
class Document:
    title: str
    sections: list[Section]
    footer: list[str]


def fmt(value: float, decimals: int) -> str:
    """A number for a table, or an en dash when it is missing."""
    if value is None or not np.isfinite(value):
        return "–"
    text = f"{value:.{decimals}f}"
    return text.lstrip("-") if float(text) == 0 else text  # no "-0.00"


def fmt_p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def cells(*texts: object) -> list[Cell]:
    return [Cell(str(t)) for t in texts]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def grid_markdown(grid: Grid) -> str:
    def cell(c: Cell) -> str:
        text = _md_escape(c.text) + c.mark
        return f"**{text}**" if c.bold else text

    aligns = ["---:" if a == "r" else "---" for a in grid.alignment()]
    lines = [f"**{grid.caption}**", "", "| " + " | ".join(_md_escape(h) for h in grid.header) + " |",
             "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in grid.rows]
    if grid.notes:
        lines += [""] + [f"{note}  " for note in grid.notes]
    return "\n".join(lines)


def document_markdown(document: Document, base: Path) -> str:
    """The whole document as Markdown; figure links are relative to `base`."""
    out = [f"# {document.title}", ""]
    for section in document.sections:
        out += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Grid):
                out += [grid_markdown(block), ""]
            elif isinstance(block, FigureRef):
                png = block.png.relative_to(base).as_posix()
                pdf = block.pdf.relative_to(base).as_posix()
                out += [f"![{block.caption}]({png})", "", f"*{block.caption}* ([PDF]({pdf}))", ""]
            else:
                out += [block, ""]
    out += ["---", ""] + [f"{line}  " for line in document.footer]
    return "\n".join(out) + "\n"
