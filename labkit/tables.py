"""Small tables and number formatting, for text (terminals, the doctor) and HTML (Jupyter).

Every table labkit shows is a :class:`Table`; every number it prints goes through
:func:`num` (or one of the unit helpers below), so the same figure reads the same
everywhere.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field


def num(x, digits: int = 3) -> str:
    """4321.9 -> '4,322'; 0.51234 -> '0.512'; None or NaN -> '-'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.{digits}g}"


def seconds(s: float | None) -> str:
    """1.234 -> '1.2 s'; None -> ''."""
    return "" if s is None else f"{s:.1f} s"


def clock(s: float) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour."""
    s = max(0, int(round(s)))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def gib(n: int | None) -> str:
    """Bytes as GiB with one decimal; None -> '?'."""
    return "?" if n is None else f"{n / 2**30:.1f} GiB"


def megabytes(n: int | None) -> str:
    """Bytes as ', 12.3 MB' for a listing; '' for none."""
    return f", {n / 1e6:.1f} MB" if n else ""


def text_table(headers: list[str], rows: list[list[str]], width: int = 60) -> str:
    """A plain-text table; cells longer than ``width`` are cut with '...', except in the last column."""
    fit = lambda c: c if len(c) <= width else c[:width - 3] + "..."  # noqa: E731
    cut = [[fit(c) for c in row[:-1]] + row[-1:] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cut)]) for i, h in enumerate(headers)]
    widths[-1] = len(headers[-1])        # the last column is not padded
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cut)])


def html_table(headers: list[str] | None, rows: list[list[str]], styles: list[str] | None = None) -> str:
    """An HTML table, every cell escaped; ``styles`` gives each row's CSS."""
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in headers or [])
    head = f"<thead><tr>{head}</tr></thead>" if head else ""
    body = "".join(
        f"<tr style='{styles[i] if styles else ''}'>"
        + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in row) + "</tr>"
        for i, row in enumerate(rows))
    return f"<table>{head}<tbody>{body}</tbody></table>"


@dataclass
class Table:
    """``columns`` and ``rows`` (lists of strings), shown as text or, in Jupyter, as HTML."""

    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def text(self) -> str:
        return text_table(self.columns, self.rows)

    __str__ = __repr__ = text

    def _repr_html_(self) -> str:
        return html_table(self.columns, self.rows)
