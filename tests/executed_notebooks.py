"""A pytest plugin: every notebook nbval runs keeps an executed copy, outputs included, in
``runs/executed/`` (``labkit.book.executed``); the book is built from these copies, so
``make test``'s own run of the chapters is the run the book shows.

nbval (0.11) runs a cell by sending its source to the kernel (``kernel.execute_cell_input``,
which returns the request's id) and reading the iopub messages through its notebook
collector's ``get_kernel_message``, keeping only part of them (it drops display updates
and ``clear_output``). The plugin wraps those two calls on each notebook's collector and
kernel, hands every message of the cell's request to a ``Recorder`` (widgets' comm messages
included: the copy keeps their state in ``metadata.widgets``, so the book can draw them)
and, after each cell, rewrites the copy (atomically): a run that stops early leaves a copy
that says how many cells ran. ``tests/conftest.py`` registers it; ``-p executed_notebooks`` does the same
elsewhere.
"""
from __future__ import annotations

import datetime as dt
import time

import pytest

from labkit import settings
from labkit.book import executed


class _Run:
    """One notebook's run: its recorder, the request being read, when it started."""

    def __init__(self, collector):
        self.collector, self.recorder = collector, executed.Recorder()
        self.cell, self.msg_id, self.ran, self.skipped = None, None, set(), set()
        self.started, self.t0 = dt.datetime.now(dt.timezone.utc), time.monotonic()
        self.mode = "quick" if settings.quick() else "full"
        kernel = collector.kernel
        send, receive = kernel.execute_cell_input, collector.get_kernel_message

        def execute_cell_input(*args, **kwargs):
            self.msg_id = send(*args, **kwargs)
            return self.msg_id

        def get_kernel_message(*args, **kwargs):
            msg = receive(*args, **kwargs)
            if self.cell is not None and msg.get("parent_header", {}).get("msg_id") == self.msg_id:
                self.recorder.message(self.cell, msg)
            return msg

        kernel.execute_cell_input = execute_cell_input
        collector.get_kernel_message = get_kernel_message

    def save(self):
        nb = executed.with_outputs(self.collector.nb, self.recorder)
        nb.metadata[executed.KEY] = executed.run_info(
            nb, mode=self.mode, runner="make test (nbval)", started=self.started,
            wall_s=time.monotonic() - self.t0, code_cells_run=len(self.ran),
            errors=executed.count_errors(nb), code_cells_skipped=len(self.skipped))
        executed.write(nb, executed.executed_dir() / self.collector.path.name)


_runs: dict[int, _Run] = {}


def _nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell_num")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if not _nbval_cell(item):
        return (yield)
    collector = item.parent
    for needed in ("nb", "kernel", "get_kernel_message"):
        if getattr(collector, needed, None) is None:
            raise RuntimeError(f"executed_notebooks: nbval's notebook collector has no '{needed}' "
                               "(nbval changed?); tests/executed_notebooks.py must follow it")
    run = _runs.get(id(collector))
    if run is None or run.collector is not collector:
        run = _runs[id(collector)] = _Run(collector)
    run.cell, run.msg_id = item.cell_num, None
    try:
        return (yield)
    finally:
        if run.msg_id is not None:
            run.ran.add(item.cell_num)
        elif item.options.get("skip"):            # nbval-skip: left out on purpose
            run.skipped.add(item.cell_num)
        run.cell = None
        run.save()


def pytest_runtest_teardown(item, nextitem):
    """A worker forgets a notebook's run once its last cell is done (its copy is on disk)."""
    if _nbval_cell(item) and (nextitem is None or nextitem.parent is not item.parent):
        _runs.pop(id(item.parent), None)
