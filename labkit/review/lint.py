"""A chapter may show the review's Figure N only as the paper prints it: a code cell tagged
``review-figure-N`` must be the figure's code (``figures.differences``), and an untagged code
cell must not label its code as the review's (or paper's) Figure N.

    >>> from labkit.review import lint
    >>> lint.check_notebook("notebooks/11_keras.ipynb")      # [] when every figure cell is faithful
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from labkit.review.figures import FIGURES, TAG, differences

#: Text that calls something the review's or the paper's Figure N, either way round.
LABEL = re.compile(r"(review|paper)\W.{0,40}?Figure\s*(\d+)|Figure\s*(\d+).{0,40}?(review|paper)",
                   re.IGNORECASE | re.DOTALL)
_TAG = re.compile("^" + re.escape(TAG).replace(r"\{\}", r"(\d+)") + "$")
_TAG_NAME = re.compile(re.escape(TAG).replace(r"\{\}", r"\d+"))


def tagged_figure(tags) -> int | None:
    """N if ``tags`` hold ``review-figure-N``; a tag naming a figure the paper lacks is an error."""
    for tag in tags or ():
        m = _TAG.match(tag)
        if m:
            n = int(m.group(1))
            if n not in FIGURES:
                raise ValueError(f"tag {tag!r}: the review has Figures {sorted(FIGURES)} only")
            return n
    return None


def check_cell(source: str, tags=()) -> list[str]:
    """Problems with one code cell (empty when it is fine)."""
    n = tagged_figure(tags)
    if n is not None:
        return [f"tagged {TAG.format(n)} but differs from the paper: {d}" for d in differences(n, source)]
    m = LABEL.search(_TAG_NAME.sub("", source))       # naming the tag itself labels nothing
    if m:
        return [f"calls its code the review's Figure {m.group(2) or m.group(3)} ({m.group(0)!r}) without the "
                f"tag {TAG.format(m.group(2) or m.group(3))}: show the figure as printed and tag the cell, "
                "or say the code is adapted without naming it the figure"]
    return []


def check_notebook(path) -> list[str]:
    """Every problem in a notebook's code cells, each prefixed with the cell's index."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        out += [f"{Path(path).name} cell {i}: {p}" for p in
                check_cell(source, cell.get("metadata", {}).get("tags", []))]
    return out
