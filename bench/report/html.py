"""One self-contained HTML page of the report: tables, and figures inlined as base64 PNG."""

from __future__ import annotations

import base64
from html import escape

from codecbench.report.document import Cell, Document, FigureRef, Grid

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 0.25rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
th, td { padding: 0.2rem 0.6rem; border-bottom: 1px solid #ddd; }
thead th { border-bottom: 2px solid #222; }
td.r, th.r { text-align: right; }
.notes { font-size: 0.85rem; color: #555; margin-bottom: 1.5rem; }
figure { margin: 1rem 0; } figure img { max-width: 100%; }
details { margin: 0.4rem 0; } summary { cursor: pointer; font-weight: 600; }
footer { font-size: 0.8rem; color: #555; border-top: 1px solid #ccc; margin-top: 2rem; padding-top: 0.5rem; }
"""


def _cell(cell: Cell, align: str) -> str:
    text = escape(cell.text) + escape(cell.mark)
    text = f"<b>{text}</b>" if cell.bold else text
    return f'<td class="{align}">{text}</td>'


def grid_html(grid: Grid) -> str:
    aligns = ["r" if a == "r" else "l" for a in grid.alignment()]
    head = "".join(f'<th class="{a}">{escape(h)}</th>' for h, a in zip(grid.header, aligns))
    body = "".join("<tr>" + "".join(_cell(c, a) for c, a in zip(row, aligns)) + "</tr>" for row in grid.rows)
    notes = "".join(f"<div>{escape(n)}</div>" for n in grid.notes)
    return (f'<table id="{escape(grid.label)}"><caption>{escape(grid.caption)}</caption><thead><tr>{head}'
            f'</tr></thead><tbody>{body}</tbody></table><div class="notes">{notes}</div>')


def figure_html(figure: FigureRef) -> str:
    data = base64.b64encode(figure.png.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{escape(figure.caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(figure.caption)}</figcaption></figure>")


def document_html(document: Document) -> str:
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(document.title)}"
             f"</title><style>{STYLE}</style></head><body><h1>{escape(document.title)}</h1>"]
    for section in document.sections:
        parts.append(f"<section><h2>{escape(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Grid) and section.appendix:
                parts.append(f"<details><summary>{escape(block.caption)}</summary>{grid_html(block)}</details>")
            elif isinstance(block, Grid):
                parts.append(grid_html(block))
            elif isinstance(block, FigureRef):
                parts.append(figure_html(block))
            else:
                parts.append(f"<p>{escape(block)}</p>")
        parts.append("</section>")
    parts.append("<footer>" + "".join(f"<div>{escape(line)}</div>" for line in document.footer) + "</footer>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
