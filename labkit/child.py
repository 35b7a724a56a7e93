"""A toolkit's work in a fresh Python process of its own: the one mechanism behind the
comparison harness and the chapters that run another backend.

Why a child: a toolkit fixes some choices at import (Keras its backend, TensorFlow and
PyTorch their thread pools), and two toolkits in one process share the cores and the
memory. So the harness and chapter 11 start ``python -m ...`` with the toolkit's
environment (``toolkit_env``), relay the child's progress lines as they come, stop it
after a time limit, and read its result from a JSON file the child writes.

The child side is two calls: ``say(msg)`` for a progress line, ``write_result(path, obj)``
for the answer.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

#: Every thread-count variable the toolkits here read; a child gets the same value in each.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")
PREFIX = "[labkit] "


def toolkit_env(env: dict | None = None, threads: int | None = None) -> dict:
    """This process's environment, plus ``env`` (e.g. KERAS_BACKEND), plus ``threads`` in every
    variable of THREAD_VARS when given. Unbuffered output, so progress arrives as it happens."""
    out = {**os.environ, **(env or {})}
    if threads is not None:
        out.update({v: str(threads) for v in THREAD_VARS})
    out.setdefault("PYTHONUNBUFFERED", "1")
    return out


def say(msg: str) -> None:
    """In a child: one progress line for the parent to relay."""
    print(f"{PREFIX}{msg}", file=sys.stderr, flush=True)


def write_result(path: str | os.PathLike, result) -> None:
    """In a child: the answer, as JSON, written whole (a temporary file renamed into place)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, path)


@dataclass
class Outcome:
    """How a child ended: its result (None when it failed), exit code, and its last lines."""

    name: str
    result: object | None
    returncode: int | None                 # None: killed at the time limit
    seconds: float
    tail: list[str] = field(default_factory=list)
    timeout: float | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None

    def error(self) -> str:
        """One message saying how the child failed and what it printed last."""
        why = (f"timed out after {self.timeout:g} s" if self.returncode is None
               else f"exited with code {self.returncode}" if self.returncode else "wrote no result")
        last = [ln for ln in self.tail if ln.strip()][-8:]
        return f"{self.name}: the child process {why}. Its last output:\n" + "\n".join(last)


def run(name: str, args: list[str], result_file: str | os.PathLike, *, env: dict, timeout: float,
        show: Callable[[str], None] | None = None, cwd: str | os.PathLike | None = None) -> Outcome:
    """Run ``python args...`` with ``env``, relay its ``say`` lines to ``show``, and read the JSON
    it writes to ``result_file``. Never raises because of the child; see ``Outcome``."""
    result_file = Path(result_file)
    result_file.unlink(missing_ok=True)
    tail: deque[str] = deque(maxlen=40)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=None if cwd is None else str(cwd))

    def relay():
        for line in proc.stdout:
            line = line.rstrip()
            tail.append(line)
            if show is not None and line.startswith(PREFIX):
                show(line[len(PREFIX):])
    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    reader.join(timeout=5)
    result = json.loads(result_file.read_text()) if rc == 0 and result_file.is_file() else None
    return Outcome(name, result, rc, time.perf_counter() - start, list(tail), timeout)
