"""Running a chapter for the book (``make book``): full mode when it finishes within a time
budget, quick mode otherwise, and the copy says which and why.

The chapter runs in a fresh kernel through nbclient, from the notebooks' folder as JupyterLab
would, with errors kept as outputs (the book shows them; the book's test fails on them).
The budget is the whole chapter's: each cell may wait only for what is left of it, and a
chapter past it is stopped and its kernel shut down. A chapter whose copy already says full
mode did not finish within this budget goes straight to quick mode.
"""
from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from labkit.book import executed


def run_chapter(chapter: Path, out: Path, *, mode: str, budget_s: float, **extra) -> dict | None:
    """Run ``chapter`` in ``mode`` ('quick' or 'full') and write its executed copy to ``out``.

    Returns the copy's ``labkit_run`` entry, or None when the chapter did not finish within
    ``budget_s`` seconds (nothing is written then).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    if mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full', not {mode!r}")
    if budget_s <= 0:
        raise ValueError(f"the time budget must be positive seconds, not {budget_s!r}")
    nb = nbformat.read(str(chapter), as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "LABKIT_QUICK"}
    if mode == "quick":
        env["LABKIT_QUICK"] = "1"
    started, t0 = dt.datetime.now(dt.timezone.utc), time.monotonic()
    deadline = t0 + budget_s
    client = NotebookClient(
        nb, kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
        resources={"metadata": {"path": str(chapter.parent)}}, allow_errors=True,
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())))
    try:
        client.execute(env=env)
    except CellTimeoutError:
        return None
    run = sum(c.cell_type == "code" and c.execution_count is not None for c in nb.cells)
    nb.metadata[executed.KEY] = info = executed.run_info(
        nb, mode=mode, runner="make book (nbclient)", started=started,
        wall_s=time.monotonic() - t0, code_cells_run=run, errors=executed.count_errors(nb),
        code_cells_skipped=0, **extra)
    executed.write(nb, out)
    return info


def full_did_not_fit(copy_: Path, budget_s: float) -> bool:
    """Does the copy say full mode already ran past a budget at least this long?"""
    info = executed.read_info(copy_) or {}
    return (info.get("full_mode_budget_s") or 0) >= budget_s


def run_for_book(chapter: Path, executed_dir: Path, *, budget_s: float, quick_only: bool = False,
                 show=print) -> dict | None:
    """Full mode within ``budget_s``, else quick mode; the executed copy's entry, or None when
    neither finished within the budget."""
    out = Path(executed_dir) / chapter.name
    if not quick_only and not full_did_not_fit(out, budget_s):
        show(f"{chapter.name}: full mode, up to {budget_s:g} s ...")
        info = run_chapter(chapter, out, mode="full", budget_s=budget_s)
        if info is not None:
            return info
        show(f"{chapter.name}: full mode did not finish within {budget_s:g} s; quick mode instead")
        why = {"full_mode_budget_s": budget_s,
               "why_quick": f"full mode did not finish within the book's budget of {budget_s:g} s a chapter"}
    elif quick_only:
        why = {"why_quick": "the book was built with --quick"}
    else:
        show(f"{chapter.name}: full mode did not fit {budget_s:g} s before; quick mode")
        why = {"full_mode_budget_s": budget_s,
               "why_quick": f"full mode did not finish within the book's budget of {budget_s:g} s a chapter"}
    info = run_chapter(chapter, out, mode="quick", budget_s=budget_s, **why)
    if info is None:
        show(f"{chapter.name}: quick mode did not finish within {budget_s:g} s either")
    return info
