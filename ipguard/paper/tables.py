"""A table as the paper prints it, written three ways: Markdown (to read), LaTeX (booktabs,
to paste into a paper) and CSV (tidy rows at full precision, to compute with)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipguard.utils.io import atomic_write

LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#"}


@dataclass
class Table:
    """``header`` and ``rows`` are the printed cells; ``data`` the CSV rows (one dict each,
    numbers unrounded); ``notes`` go under the table."""

    title: str
    header: list[str]
    rows: list[list[str]]
    data: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_markdown(self) -> str:
        widths = [max(len(str(c)) for c in col) for col in zip(self.header, *self.rows,
                                                                 strict=True)]
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)) \
                + " |"
        out = [f"**{self.title}**", "", line(self.header),
               "| " + " | ".join("-" * w for w in widths) + " |"]
        out += [line(r) for r in self.rows]
        out += [""] + [f"{note}" for note in self.notes] if self.notes else []
        return "\n".join(out) + "\n"

    def to_latex(self) -> str:
        cols = "l" * min(2, len(self.header)) + "r" * max(0, len(self.header) - 2)
        out = ["\\begin{table}[t]", "\\centering", f"\\caption{{{latex(self.title)}}}",
               f"\\begin{{tabular}}{{{cols}}}", "\\toprule",
               " & ".join(latex(h) for h in self.header) + " \\\\", "\\midrule"]
        previous_group = None
        for row in self.rows:
            if previous_group is not None and row[0] and row[0] != previous_group:
                out.append("\\midrule")
            previous_group = row[0] or previous_group
            out.append(" & ".join(latex(c) for c in row) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}"]
        out += [f"\\par\\footnotesize {latex(note)}" for note in self.notes]
        out.append("\\end{table}")
        return "\n".join(out) + "\n"

    def to_csv(self) -> str:
        buffer = io.StringIO()
        columns: list[str] = []
        for row in self.data:
            columns += [k for k in row if k not in columns]
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.data)
        return buffer.getvalue()

    def save(self, out_dir: str | Path, stem: str) -> list[Path]:
        """``<stem>.md``, ``<stem>.tex`` and ``<stem>.csv`` in ``out_dir`` (atomically)."""
        paths = []
        for suffix, text in ((".md", self.to_markdown()), (".tex", self.to_latex()),
                             (".csv", self.to_csv())):
            path = Path(out_dir) / f"{stem}{suffix}"
            paths.append(atomic_write(path, lambda tmp, text=text: tmp.write_text(text)))
        return paths


def latex(text: object) -> str:
    """Escape LaTeX's special characters; keep the paper's math names ($L_2$, $\\epsilon$)."""
    s = str(text)
    if "$" in s:
        return s
    for char, escaped in LATEX_ESCAPES.items():
        s = s.replace(char, escaped)
    return s.replace("–", "--")


def fmt(value: float | None, digits: int = 2) -> str:
    """A rate or ARUC as the paper prints it (two decimals); missing values as an en dash."""
    if value is None or value != value:  # None or NaN
        return "–"
    return f"{value:.{digits}f}"


def fmt_tau(value: float) -> str:
    """A matching-rate threshold; above 1 no suspect can reach it ('> 1')."""
    return "> 1" if value > 1 else fmt(value)


def fmt_p(value: float | None) -> str:
    """A p-value: three decimals down to 0.001, then two significant digits (2.1e-45)."""
    if value is None or value != value:
        return "–"
    if value >= 0.001:
        return f"{value:.3f}"
    return f"{value:.1e}" if value > 0 else "<1e-300"


def fmt_range(values: Sequence[float], digits: int = 2) -> str:
    """[min, max] as the paper prints a family of negatives (one value when they agree)."""
    if not values:
        return "–"
    lo, hi = min(values), max(values)
    return f"[{lo:.{digits}f}, {hi:.{digits}f}]"


def merge_rows(keys: Sequence[Sequence[str]], cells: Mapping[tuple[str, ...], Mapping[str, str]],
               columns: Sequence[str]) -> list[list[str]]:
    """Printed rows from a row key (group, label) and a cell per column ('–' where absent);
    a group's name is printed on its first row only, as in the paper."""
    rows = []
    previous = None
    for key in keys:
        group = key[0] if key[0] != previous else ""
        previous = key[0]
        rows.append([group, *key[1:], *(cells.get(tuple(key), {}).get(c, "–")
                                        for c in columns)])
    return rows
