"""LaTeX form of the report: booktabs tables and figure environments, to `\\input` into a paper.

Needs `\\usepackage{booktabs}` and `\\usepackage{graphicx}` in the paper's preamble.
"""

from __future__ import annotations

from pathlib import Path

from codecbench.report.document import Cell, Document, FigureRef, Grid

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_SYMBOLS = {"–": "--", "—": "---", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "†": r"$^\dagger$",
            "±": r"$\pm$", "≤": r"$\leq$", "≥": r"$\geq$", "×": r"$\times$", "✓": "yes", "✗": "no",
            "α": r"$\alpha$", "ρ": r"$\rho$", "τ": r"$\tau$", "Δ": r"$\Delta$", "⚠": "(!)", "−": "$-$", "<": r"$<$", ">": r"$>$",
            "·": r"$\cdot$"}


def escape(text: str) -> str:
    """Text with LaTeX's special characters escaped and the report's symbols spelled in LaTeX."""
    out = []
    for i, ch in enumerate(text):
        if ch == "-" and text[i + 1: i + 2] == "-":
            out.append("-{}")  # keep "--flag" from becoming an en dash
        else:
            out.append(_SPECIAL.get(ch, _SYMBOLS.get(ch, ch)))
    text = "".join(out)
    return "{}" + text if text.startswith("[") else text  # after a row's \\, "[" would start an argument


def _cell(cell: Cell) -> str:
    text = escape(cell.text)
    text = rf"\textbf{{{text}}}" if cell.bold else text
    return text + escape(cell.mark)


def _columns(alignment: str) -> str:
    """LaTeX column types: l, r, and p (wrapped text) for long free-text columns."""
    return "".join(r"p{0.22\linewidth}" if a == "p" else a for a in alignment)


def grid_latex(grid: Grid) -> str:
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{escape(grid.caption)}}}",
             rf"\label{{tab:{grid.label}}}", rf"\begin{{tabular}}{{{_columns(grid.alignment())}}}", r"\toprule",
             " & ".join(escape(h) for h in grid.header) + r" \\", r"\midrule"]
    lines += [" & ".join(_cell(c) for c in row) + r" \\" for row in grid.rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if grid.notes:
        lines += [r"\par\smallskip\footnotesize " + r"\par ".join(escape(n) for n in grid.notes)]
    lines += [r"\end{table}"]
    return "\n".join(lines)


def figure_latex(figure: FigureRef, base: Path) -> str:
    return "\n".join([r"\begin{figure}[t]", r"\centering",
                      rf"\includegraphics[width=\columnwidth]{{{figure.pdf.relative_to(base).as_posix()}}}",
                      rf"\caption{{{escape(figure.caption)}}}", r"\end{figure}"])


def document_latex(document: Document, base: Path) -> str:
    """Every table and figure of the document; figure paths are relative to `base`."""
    out = [f"% {escape(document.title)} -- written by codecbench report",
           r"% needs \usepackage{booktabs} and \usepackage{graphicx}"]
    out += [f"% {line}" for line in document.footer]
    for section in document.sections:
        out += ["", f"% --- {section.title}"]
        for block in section.blocks:
            if isinstance(block, Grid):
                out.append(grid_latex(block))
            elif isinstance(block, FigureRef):
                out.append(figure_latex(block, base))
    return "\n".join(out) + "\n"
