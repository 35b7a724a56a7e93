"""Executed copies of the chapters: ``runs/executed/NN_name.ipynb``, outputs included.

A copy holds the chapter's cells as they ran, each code cell's outputs as a notebook front
end would have shown them at the end of the run, and ``metadata.labkit_run``: the machine,
the date, the mode (quick or full), who ran it, how many code cells ran and failed, and a
digest of the chapter's source so a copy of an older version is seen to be stale.

``Recorder`` turns the kernel's iopub messages into outputs. It does what JupyterLab does
with them, because the chapters rely on it: streams to the same pipe are joined and a
carriage return overwrites its line; ``update_display_data`` replaces every output shown
under that ``display_id`` (``LiveProgress`` draws its curve that way, in an earlier cell's
output too); ``clear_output`` empties the cell, at once or, with ``wait=True``, just before
the next output. Widgets' comm messages become their saved state (``labkit.book.widgets``),
and what an Output widget captures goes into it, not into the cell.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path

from labkit import paths
from labkit.book import widgets

KEY = "labkit_run"                 # the metadata entry every executed copy carries
_SHOWN = ("display_data", "execute_result")


class BookError(RuntimeError):
    """The executed copies cannot make a book: which chapters, what is wrong, what to run."""


def executed_dir() -> Path:
    """``runs/executed/`` (under ``$LABKIT_RUNS`` when set)."""
    return paths.runs_dir() / "executed"


def source_digest(nb) -> str:
    """SHA-256 of the cells' types and sources: it changes when the chapter's text or code does."""
    cells = [[c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]]
             for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def fold_carriage_returns(text: str) -> str:
    """What a terminal shows: on each line, a ``\\r`` lets the text after it overwrite the line."""
    return "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line else line
                     for line in text.split("\n"))


class Recorder:
    """The outputs of one notebook's code cells, built from the kernel's iopub messages.

    Feed it ``message(cell, msg)`` for every message whose parent is the execute request of
    code cell number ``cell`` (0-based, counting code cells only); read ``outputs`` and
    ``counts`` (execution counts) at any time.
    """

    def __init__(self):
        self.outputs: dict[int, list] = {}
        self.counts: dict[int, int] = {}
        self._displays: dict[str, list[tuple[int, object]]] = {}
        self._clear_on_next: set[int] = set()
        self.widgets = widgets.State()

    def message(self, cell: int, msg: dict) -> None:
        from nbformat import from_dict, v4

        kind, content = msg["msg_type"], msg["content"]
        outs = self.outputs.setdefault(cell, [])
        if self.widgets.message(msg):
            return
        captured = self.widgets.capture(msg)
        if captured is not None and kind in ("stream", "error", "clear_output") + _SHOWN:
            if kind == "clear_output":
                captured.clear()
            elif kind == "stream" and captured and captured[-1].get("output_type") == "stream" \
                    and captured[-1].get("name") == content["name"]:
                captured[-1]["text"] = fold_carriage_returns(captured[-1]["text"] + content["text"])
            else:
                captured.append(v4.output_from_msg(msg))
            return
        if kind == "execute_input":            # numbered in the order cells ran (nbval keeps
            self.counts[cell] = len(self.counts) + 1   # no history, so the kernel's count stays 1)
            return
        if kind == "clear_output":
            if content.get("wait"):
                self._clear_on_next.add(cell)
            else:
                self._clear(cell)
            return
        display_id = (content.get("transient") or {}).get("display_id")
        if kind == "update_display_data":
            for _, out in self._displays.get(display_id, []):
                out["data"] = from_dict(content["data"])
                out["metadata"] = from_dict(content.get("metadata", {}))
            return
        if kind not in ("stream", "error") + _SHOWN:
            return                                    # status, comms, execute_reply: not outputs
        if cell in self._clear_on_next:
            self._clear_on_next.discard(cell)
            self._clear(cell)
            outs = self.outputs[cell]
        if kind == "stream" and outs and outs[-1]["output_type"] == "stream" \
                and outs[-1]["name"] == content["name"]:
            outs[-1]["text"] = fold_carriage_returns(outs[-1]["text"] + content["text"])
            return
        out = v4.output_from_msg(msg)
        if kind == "stream":
            out["text"] = fold_carriage_returns(out["text"])
        if display_id and kind in _SHOWN:
            self._displays.setdefault(display_id, []).append((cell, out))
        outs.append(out)

    def _clear(self, cell: int) -> None:
        self.outputs[cell] = []
        for shown in self._displays.values():
            shown[:] = [(c, out) for c, out in shown if c != cell]


def machine_line() -> str:
    """The machine in one line, as every page of the book shows it."""
    from labkit import machine

    info = dict(machine.machine_info(blas=False))
    lines = dict(machine.machine_lines(info))
    return "; ".join([lines["CPU"], lines["OS"], f"Python {info['python']}", lines["GPU"]])


def run_info(nb, *, mode: str, runner: str, started: dt.datetime, wall_s: float,
             code_cells_run: int, errors: int, **extra) -> dict:
    """The ``metadata.labkit_run`` entry of an executed copy."""
    if mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full', not {mode!r}")
    return {"machine": machine_line(), "date": started.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "mode": mode, "runner": runner, "wall_s": round(wall_s, 1),
            "code_cells": sum(c["cell_type"] == "code" for c in nb["cells"]),
            "code_cells_run": code_cells_run, "errors": errors,
            "expected_errors": count_errors(nb, expected=True),
            "source_sha256": source_digest(nb), **extra}


def with_outputs(nb, recorder: Recorder):
    """A copy of ``nb`` whose code cells carry the recorder's outputs and execution counts."""
    import copy

    nb = copy.deepcopy(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        cell.outputs = recorder.outputs.get(i, [])
        cell.execution_count = recorder.counts.get(i)
    state = recorder.widgets.metadata()
    if state:
        nb.metadata["widgets"] = state
    return nb


EXPECTED = "raises-exception"      # nbval's tag for a cell that fails on purpose (it shows the error)


def count_errors(nb, *, expected: bool = False) -> int:
    """Cells whose outputs hold an error: unexpected ones, or (``expected=True``) those tagged
    ``raises-exception``, which show an error on purpose (chapter 10's Figure 3 as printed)."""
    return sum(any(o.get("output_type") == "error" for o in c.get("outputs", []))
               for c in nb["cells"] if c["cell_type"] == "code"
               and (EXPECTED in c.get("metadata", {}).get("tags", [])) == expected)


def write(nb, path: Path) -> Path:
    """Write ``nb`` to ``path`` atomically (a reader never sees half a file)."""
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)
    return path


def read_info(path: Path) -> dict | None:
    """The ``labkit_run`` entry of an executed copy, or None when the file has none."""
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get(KEY)
    except (OSError, ValueError):
        return None


def chapters(notebooks: Path) -> list[Path]:
    """The chapters in ``notebooks``, in file-name order (``NN_name.ipynb``)."""
    return sorted(p for p in Path(notebooks).glob("*.ipynb") if re.match(r"\d+_", p.name))


def problem(chapter: Path, executed: Path) -> str | None:
    """Why ``executed``/chapter's name cannot go into the book as it is, or None when it can."""
    copy_ = Path(executed) / chapter.name
    if not copy_.exists():
        return f"{chapter.name}: no executed copy in {executed}"
    info = read_info(copy_)
    if not info:
        return f"{chapter.name}: {copy_} has no '{KEY}' metadata (it was not written by labkit.book)"
    if info.get("source_sha256") != source_digest(json.loads(chapter.read_text(encoding="utf-8"))):
        return f"{chapter.name}: the executed copy is stale (the chapter changed after it ran on {info.get('date')})"
    if info.get("code_cells_run", 0) + info.get("code_cells_skipped", 0) < info.get("code_cells", 0):
        return (f"{chapter.name}: only {info.get('code_cells_run')} of {info.get('code_cells')} code cells ran "
                "(a run stopped early, or selected some cells)")
    return None


def check(notebooks: Path, executed: Path) -> list[Path]:
    """The chapters, when every one has a fresh, complete executed copy; else ``BookError`` naming each problem."""
    found = chapters(notebooks)
    if not found:
        raise BookError(f"no chapters (NN_name.ipynb) in {notebooks}")
    problems = [p for p in (problem(ch, executed) for ch in found) if p]
    if problems:
        raise BookError("the book needs a fresh, complete executed copy of every chapter:\n  "
                        + "\n  ".join(problems)
                        + "\nRun `make test` (quick mode, every chapter) or `make book` (runs what is missing).")
    return found
