"""The same LeNet in every toolkit, side by side, read from the chapters' own cells.

Every LeNet chapter's ``lenet``-tagged cells define the six functions of
``labkit.chapters.CONTRACT``. That makes the natural way to line the toolkits up: function
by function. ``read`` splits a chapter's tagged code into one piece per contract function,
each with the top-level helpers it uses (a class, a conversion, a constant), and a
``setup`` piece for the rest (imports, settings). ``html`` and ``text`` put the chapters in
columns, one row per function, so the lines that build the model, load the weights, predict
and take a step sit beside each other.

``differences`` reads the same code for the one-line differences a reader porting a model
trips over (image layout, kernel and dense-weight layouts, flatten order, kernel flip,
pooling rounding) and gives each with the line that shows it, so the table is computed from
the source, never typed by hand.

    >>> from labkit import sidebyside
    >>> sidebyside.html(rows=["load_canonical"])      # in Jupyter: the weight loading, every toolkit
    >>> print(sidebyside.text(["10_pytorch.ipynb", "11_keras.ipynb"], rows=["build_lenet"]))
    >>> sidebyside.differences_table()

Which chapters are LeNet chapters comes from the registry (``labkit.toolkits``).
"""
from __future__ import annotations

import ast
import html as _html
import os
import re
from dataclasses import dataclass, field

from labkit import chapters, tables

#: What each contract function does, as the rows of the page show it.
ROLES = {
    "build_lenet": "model",
    "load_canonical": "weights in",
    "export_canonical": "weights out",
    "predict_logits": "predict",
    "sgd_step": "loss and one SGD step",
    "make_train_step": "training step with the Recipe",
}
if set(ROLES) != set(chapters.CONTRACT):     # the contract changed: this page must follow it
    raise ImportError(f"labkit.sidebyside.ROLES {sorted(ROLES)} no longer matches "
                      f"labkit.chapters.CONTRACT {sorted(chapters.CONTRACT)}")
SETUP = "setup"
ROWS = (SETUP, *chapters.CONTRACT)


@dataclass
class Chapter:
    """One chapter's LeNet code, split by row (``SETUP`` and the contract functions)."""

    notebook: str                       # '10_pytorch.ipynb'
    toolkit: str                        # 'PyTorch'
    source: str                         # the tagged cells' code, as labkit.chapters reads it
    rows: dict[str, list[tuple[int, int]]] = field(default_factory=dict)   # row -> [(first, last) line]

    def code(self, row: str) -> str:
        lines = self.source.splitlines()
        return "\n\n".join("\n".join(lines[a - 1:b]) for a, b in self.rows.get(row, []))

    def line_count(self, row: str) -> int:
        """Lines of code in a row, blank and comment-only lines left out."""
        return sum(1 for ln in self.code(row).splitlines() if ln.strip() and not ln.strip().startswith("#"))


def lenet_chapters() -> dict[str, str]:
    """``{chapter notebook: toolkit name}`` for every chapter the registry names, in chapter order."""
    from labkit import toolkits

    found: dict[str, str] = {}
    for tk in toolkits.TOOLKITS.values():
        if tk.chapter is not None:
            found.setdefault(tk.chapter, tk.name)
    return dict(sorted(found.items()))


def _defined(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _used(node: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _span(node: ast.stmt, lines: list[str]) -> tuple[int, int]:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    while first > 1 and lines[first - 2].lstrip().startswith("#"):   # the comment just above it
        first -= 1
    return first, node.end_lineno


def split(source: str) -> dict[str, list[tuple[int, int]]]:
    """The line spans of each row: a contract function and the top-level helpers only it (or an
    earlier contract function) uses; everything else is ``SETUP``."""
    tree = ast.parse(source)
    lines = source.splitlines()
    owners: dict[int, str] = {}
    defined = {name: i for i, node in enumerate(tree.body) for name in _defined(node)}
    for function in chapters.CONTRACT:
        if function not in defined:
            continue
        todo = [defined[function]]
        while todo:
            i = todo.pop()
            if i in owners:
                continue
            owners[i] = function
            todo += [defined[n] for n in _used(tree.body[i]) if n in defined and defined[n] not in owners]
    rows: dict[str, list[tuple[int, int]]] = {row: [] for row in ROWS}
    for i, node in enumerate(tree.body):
        rows[owners.get(i, SETUP)].append(_span(node, lines))
    for spans in rows.values():
        spans.sort()
    return rows


def read(notebook: str, notebooks: str | os.PathLike | None = None) -> Chapter:
    """A chapter's LeNet code, split by row; ``notebook`` is a file name such as '10_pytorch.ipynb'."""
    known = lenet_chapters()
    if notebook not in known:
        raise ValueError(f"{notebook!r} is not a LeNet chapter; the registry knows {', '.join(known)}")
    source = chapters.tagged_source(chapters.notebook_path(notebook, notebooks))
    return Chapter(notebook, known[notebook], source, split(source))


def read_all(only=None, notebooks=None) -> list[Chapter]:
    """Every LeNet chapter (or ``only`` those); a chapter without ``lenet`` cells yet (one being
    written) is left out, and ``missing()`` names it."""
    found = []
    for nb in only or lenet_chapters():
        try:
            found.append(read(nb, notebooks))
        except (LookupError, SyntaxError):
            if only:
                raise
    return found


def missing(notebooks=None) -> dict[str, str]:
    """``{chapter: why}`` for the registry's chapters ``read_all`` leaves out."""
    out = {}
    for nb in lenet_chapters():
        try:
            read(nb, notebooks)
        except (LookupError, SyntaxError) as err:
            out[nb] = str(err)
    return out


# --- the one-line differences, found in the source ----------------------------------------------

@dataclass(frozen=True)
class Finding:
    aspect: str
    value: str
    line: int | None = None       # 1-based, in the chapter's tagged source; None: nothing found
    evidence: str = ""            # that line, stripped

    def cell(self) -> str:
        return self.value if self.line is None else f"{self.value} (line {self.line})"


#: aspect -> (rows searched, [(pattern, value)], value when nothing matches). First match wins.
DETECTORS = {
    "images": (("predict_logits", "build_lenet", "make_train_step", "sgd_step", SETUP), [
        (r"transpose\(\s*(?:\w+,\s*)?[\[(]?0,\s*2,\s*3,\s*1\b|permute\(0,\s*2,\s*3,\s*1\)",
         "NHWC: transposed on the way in"),
        (r"channels_last", "NCHW; channels-last memory as an option"),
    ], "NCHW, as canonical"),
    "conv kernels": (("load_canonical",), [
        (r"transpose\(2,\s*3,\s*1,\s*0\)", "(rows, columns, in, out)"),
        (r"transpose\(0,\s*2,\s*3,\s*1\)", "one row per filter, (row, column, channel)"),
    ], "(out, in, rows, columns), as canonical"),
    "dense weights": (("load_canonical",), [
        (r"\.T\b", "(in, out): transposed"),
        (r"transpose\(0,\s*2,\s*3,\s*1\)", "one row per neuron, as canonical"),
    ], "(out, in), as canonical"),
    "flatten order": (("load_canonical",), [
        (r"reshape\([^)]*\)\.transpose\(", "(row, column, channel): fc1 reordered on load"),
    ], "(channel, row, column), as canonical"),
    "kernel flip": (tuple(ROWS), [
        (r"(filter_flip|flip_filters)\s*=\s*False", "switched off (the toolkit convolves by default)"),
        (r"\[:,\s*:,\s*::-1,\s*::-1\]|\bflip\(", "kernels turned on load"),
    ], "none: the toolkit cross-correlates, as Caffe"),
    "pooling rounding": (tuple(ROWS), [
        (r"cover_all\s*=\s*False|ceil_mode\s*=\s*False|pooling_convention\s*=\s*[\"']valid", "set to round down"),
        (r"cover_all\s*=\s*True|ceil_mode\s*=\s*True|pooling_convention\s*=\s*[\"']full", "set to round up, as Caffe"),
        (r"pool.*padding\s*=\s*[\"']VALID[\"']", "padding='VALID': rounds down"),
    ], "the toolkit's default"),
}


def differences(chapter: Chapter) -> dict[str, Finding]:
    """Each aspect of ``DETECTORS``, found in the chapter's code with the line that shows it."""
    lines = chapter.source.splitlines()
    out = {}
    for aspect, (rows, patterns, default) in DETECTORS.items():
        spans = sorted(s for row in rows for s in chapter.rows.get(row, []))
        numbered = [(n, lines[n - 1]) for a, b in spans for n in range(a, b + 1)]
        code = [(n, ln) for n, ln in numbered if not ln.lstrip().startswith("#")]
        out[aspect] = Finding(aspect, default)
        for pattern, value in patterns:
            hit = next(((n, ln) for n, ln in code if re.search(pattern, ln.split("#")[0])), None)
            if hit:
                out[aspect] = Finding(aspect, value, hit[0], hit[1].strip())
                break
    return out


def differences_table(only=None, notebooks=None) -> tables.Table:
    found = [(c, differences(c)) for c in read_all(only, notebooks)]
    return tables.Table(["toolkit", *DETECTORS], [[c.toolkit, *(f[a].cell() for a in DETECTORS)] for c, f in found])


def sizes_table(only=None, notebooks=None) -> tables.Table:
    """Lines of code per row and chapter (blank and comment lines left out)."""
    read_in = read_all(only, notebooks)
    return tables.Table(["row", *(c.toolkit for c in read_in)],
                        [[_label(row), *(str(c.line_count(row)) for c in read_in)] for row in ROWS])


# --- rendering ----------------------------------------------------------------------------------

def _label(row: str) -> str:
    return "setup" if row == SETUP else f"{ROLES[row]}: {row}"


def _rows(rows) -> list[str]:
    rows = list(rows or ROWS)
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise ValueError(f"unknown rows {unknown}; the rows are {', '.join(ROWS)}")
    return rows


class Page:
    """What ``html`` returns: shown as HTML in Jupyter, as its text elsewhere."""

    def __init__(self, html: str, text: str):
        self.html, self._text = html, text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self._text


def html(only=None, rows=None, notebooks=None, width_em: int = 44) -> Page:
    """The chapters in columns, one table row per contract function; scrolls sideways."""
    read_in, rows = read_all(only, notebooks), _rows(rows)
    cell = "vertical-align:top;text-align:left;border:1px solid #ddd;padding:4px"
    pre = f"margin:0;font-size:11px;line-height:1.3;white-space:pre;min-width:{width_em}em"
    head = "".join(f"<th style='{cell}'>{_html.escape(c.toolkit)}<br><code>{c.notebook}</code></th>"
                   for c in read_in)
    body = "".join(
        f"<tr><th style='{cell}'>{_html.escape(_label(row))}</th>"
        + "".join(f"<td style='{cell}'><pre style='{pre}'>{_html.escape(c.code(row)) or '(none)'}</pre></td>"
                  for c in read_in) + "</tr>" for row in rows)
    table = (f"<div style='overflow-x:auto'><table style='border-collapse:collapse'>"
             f"<thead><tr><th style='{cell}'></th>{head}</tr></thead><tbody>{body}</tbody></table></div>")
    return Page(table, text(only, rows, notebooks))


def text(only=None, rows=None, notebooks=None, columns: bool = False, width: int = 60) -> str:
    """The same as plain text: each row, then each chapter's code; ``columns=True`` puts the
    chapters side by side, each cut to ``width`` characters."""
    read_in, rows = read_all(only, notebooks), _rows(rows)
    out = []
    for row in rows:
        out.append(f"=== {_label(row)} ===")
        if columns:
            blocks = [[c.toolkit, "-" * len(c.toolkit), *c.code(row).splitlines()] for c in read_in]
            depth = max(map(len, blocks))
            fit = lambda s: (s if len(s) <= width else s[:width - 1] + "…").ljust(width)  # noqa: E731
            out += [" | ".join(fit(b[i] if i < len(b) else "") for b in blocks).rstrip() for i in range(depth)]
        else:
            for c in read_in:
                out += [f"--- {c.toolkit} ({c.notebook}) ---", c.code(row) or "(none)"]
        out.append("")
    return "\n".join(out)
