"""Which toolkits are installed, which devices each one sees, and what machine this is.

    >>> from labkit import device
    >>> device.table()                   # every toolkit: one row each (HTML in Jupyter)
    >>> device.table(["torch"])          # only the toolkits a chapter uses
    >>> print(device.report_text())      # what ``python -m labkit doctor`` prints
    >>> from labkit import placement; placement.select("torch")   # where a chapter runs: a GPU the toolkit sees, else the CPU

The table is written once. Each toolkit in the registry (``labkit.toolkits.TOOLKITS``)
carries small questions about its imported module (``labkit.probes``): which GPUs it sees,
which CUDA and cuDNN it reports, and a short note. The machine section comes from
``labkit.machine``. A toolkit that is not installed gives a row saying so; one
whose import fails gives a row with the error's first line. Nothing here raises because
of a toolkit.

Where a probe runs: importing every toolkit costs seconds and memory (TensorFlow alone
about 4 s and 800 MB here), starts each one's thread pools, and JAX on a GPU reserves
most of the GPU's memory when it first lists devices. So a toolkit the caller has not
imported yet is probed in a child Python process (all children run side by side), and
the caller's process stays as it was. A toolkit the caller has already imported is
probed in place: that is free and reports the state the caller is really in.
"""
from __future__ import annotations

import html
import importlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Iterable

from labkit import tables
from labkit import toolkits as registry
from labkit.machine import machine_info, machine_lines, nvidia_smi, usable_cpus
from labkit.probes import cuda_str, cudnn_str
from labkit.toolkits import Toolkit, resolve

__all__ = ["Row", "Toolkit", "DeviceTable", "resolve", "probe", "table", "gpu_hints", "report_text",
           "machine_info"]

# --- one row per toolkit ---------------------------------------------------------------------


@dataclass
class Row:
    """What one toolkit reports. ``gpu`` is None when the toolkit cannot tell."""

    toolkit: str
    key: str
    installed: bool
    version: str | None = None
    gpu: bool | None = None
    devices: list[str] = field(default_factory=list)
    cuda: str | None = None
    cudnn: str | None = None
    notes: str = ""
    error: str | None = None
    seconds: float | None = None      # import + questions, in the process that probed
    isolated: bool = False            # probed in a child process

    @property
    def usable(self) -> bool:
        return self.installed and self.error is None


_CPU_FINE = "The workbook runs on the CPU; a GPU only makes training faster."
_BUILTIN = dict(registry.TOOLKITS)   # a child process is sent the key of these, the whole adapter of others


# --- finding and probing ---------------------------------------------------------------------

def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def _probe_here(key: str, tk: Toolkit) -> Row:
    """Probe in this process: find, import, ask each question. Never raises."""
    start = time.perf_counter()
    row = Row(tk.name, key, installed=registry.installed(tk.module))
    if not row.installed:
        row.notes = tk.optional
        return row
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module(tk.module)
    except (Exception, SystemExit) as err:
        row.error, row.version = _one_line(err), registry.dist_version(tk.module)
        row.seconds = time.perf_counter() - start
        return row
    row.version = str(getattr(module, "__version__", "") or registry.dist_version(tk.module) or "?")
    problems, notes = [], ""
    for question in ("gpus", "cuda", "cudnn", "notes"):
        fn = getattr(tk, question)
        if fn is None:
            continue
        try:
            answer = fn(module)
        except Exception as err:          # one question failing must not hide the others
            problems.append(f"{question}: {_one_line(err)}")
            continue
        if question == "gpus":
            row.gpu = None if answer is None else bool(answer)
            row.devices = list(answer or [])
        elif question == "notes":
            notes = answer or ""
        else:
            setattr(row, question, cuda_str(answer) if question == "cuda" else cudnn_str(answer))
    row.notes = "; ".join([n for n in [notes, *problems] if n])
    row.seconds = time.perf_counter() - start
    return row


def _child_main() -> None:
    """Entry point of a probe's child process: a pickled (key, Toolkit) in, one JSON row out."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                        # a toolkit's own prints go to stderr, not into our JSON
    key, tk = pickle.load(sys.stdin.buffer)
    row = _probe_here(key, tk or _BUILTIN[key])
    row.isolated = True
    out.write(json.dumps(asdict(row)))
    out.flush()


def _payload(key: str, tk: Toolkit) -> bytes | None:
    """What the child needs: the key of a registered adapter, else the pickled adapter."""
    try:
        return pickle.dumps((key, None if _BUILTIN.get(key) is tk else tk))
    except (pickle.PicklingError, AttributeError, TypeError):
        return None                      # e.g. an adapter built from lambdas in a notebook


def _probe_isolated(key: str, tk: Toolkit, payload: bytes, timeout: float) -> Row:
    code = ("import sys; P = " + repr(sys.path) + "; sys.path[:] = P + [p for p in sys.path "
            "if p not in P]; from labkit.device import _child_main; _child_main()")
    start = time.perf_counter()
    row = Row(tk.name, key, installed=True, isolated=True)
    try:
        proc = subprocess.run([sys.executable, "-c", code], input=payload,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        row.error = f"probe timed out after {timeout:g} s"
        row.version = registry.dist_version(tk.module)
        return row
    if proc.returncode == 0:
        try:
            return Row(**json.loads(proc.stdout))
        except (ValueError, TypeError) as err:
            row.error = f"probe returned no row ({_one_line(err)})"
    else:
        rc = proc.returncode
        how = f"killed by {signal.Signals(-rc).name}" if rc < 0 else f"exited with code {rc}"
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or [""])[-1][:200]
        row.error = f"probe process {how}" + (f": {last}" if last else "")
    row.version, row.seconds = registry.dist_version(tk.module), time.perf_counter() - start
    return row


def probe(name: str, *, isolate: bool | None = None, timeout: float = 180) -> Row:
    """One toolkit's row. ``isolate`` None: in a child process unless already imported here."""
    key = resolve(name)
    return _probe_many([(key, registry.TOOLKITS[key])], isolate, timeout)[0]


def _probe_many(items: list[tuple[str, Toolkit]], isolate: bool | None, timeout: float) -> list[Row]:
    rows: list[Row | None] = [None] * len(items)
    away = {}
    for i, (key, tk) in enumerate(items):
        here = not isolate if isolate is not None else tk.module in sys.modules
        payload = None if here or not registry.installed(tk.module) else _payload(key, tk)
        if payload is None:              # in this thread: imports must not race each other
            rows[i] = _probe_here(key, tk)
        else:
            away[i] = payload
    if away:
        workers = min(len(away), max(2, usable_cpus()))   # side by side, one per CPU
        with ThreadPoolExecutor(workers) as pool:
            done = pool.map(lambda i: _probe_isolated(*items[i], away[i], timeout), away)
            for i, row in zip(away, done):
                rows[i] = row
    return rows


# --- hints ----------------------------------------------------------------------------------

def gpu_hints(rows: Iterable[Row], *, driver: bool | None = None) -> list[str]:
    """What to check when toolkits see no GPU; empty when there is nothing to say.

    ``driver``: whether an NVIDIA driver is present (default: is ``nvidia-smi`` on PATH).
    """
    rows = [r for r in rows if r.usable]
    if driver is None:
        driver = shutil.which("nvidia-smi") is not None
    hints = []
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        hints.append(f"CUDA_VISIBLE_DEVICES={hidden!r} hides every GPU from CUDA; unset it "
                     "before starting Python to let the toolkits see them.")
    seeing = [r for r in rows if r.gpu]
    if not seeing and not driver:
        return hints + [
            "No GPU found, and no NVIDIA driver (nvidia-smi is not on PATH). " + _CPU_FINE,
            "On Colab: Runtime > Change runtime type > a GPU, then run the notebook again from the top.",
            "On your own machine with an NVIDIA card: install the NVIDIA driver and check that "
            "`nvidia-smi` lists the card; then install a CUDA build of the toolkit (hints per "
            "toolkit: run this again once the driver works).",
        ]
    if not seeing:
        hints.append("The NVIDIA driver is there (nvidia-smi works) but no toolkit sees a GPU: "
                     "the installed toolkits are CPU builds. " + _CPU_FINE)
    for r in rows:
        if r.gpu is False:
            adapter = registry.TOOLKITS.get(r.key)
            how = adapter.gpu_hint if adapter and adapter.gpu_hint else "Install its GPU build."
            build = "" if r.cuda else " (a CPU-only build)"
            hints.append(f"{r.toolkit} {r.version}{build} sees no GPU. {how}")
    return hints


# --- the table ------------------------------------------------------------------------------

_HEADERS = ["Toolkit", "Version", "GPU", "Devices", "CUDA", "cuDNN", "Probe", "Notes"]


def _devices(names: list[str]) -> str:
    return ", ".join(n if k == 1 else f"{k} x {n}" for n, k in Counter(names).items())


def _cells(r: Row) -> list[str]:
    if not r.installed:
        return [r.toolkit, "not installed", "", "", "", "", "", r.notes]
    if r.error:
        return [r.toolkit, r.version or "?", "?", "", "", "", tables.seconds(r.seconds), "import failed: " + r.error]
    gpu = {True: "yes", False: "no", None: "?"}[r.gpu]
    return [r.toolkit, r.version or "?", gpu, _devices(r.devices) or "-", r.cuda or "-",
            r.cudnn or "-", tables.seconds(r.seconds), r.notes]


class DeviceTable:
    """Rows (``.rows``), the machine (``.machine``) and the GPU hints (``.hints``), as one report.

    The hints are shown in full when ``show_hints`` is true, else as a one-line pointer.
    """

    def __init__(self, rows: list[Row], machine: dict | None = None, hints: list[str] | None = None,
                 show_hints: bool = True):
        self.rows, self.machine, self.hints, self.show_hints = rows, machine, hints or [], show_hints

    def _hints_pointer(self) -> str:
        return f"GPU hints: {len(self.hints)} (in this table's .hints; the doctor prints them)"

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key: int | str) -> Row:
        if isinstance(key, int):
            return self.rows[key]
        wanted = resolve(key) if key not in {r.key for r in self.rows} else key
        for r in self.rows:
            if r.key == wanted:
                return r
        raise KeyError(f"{key!r} is not in this table (it has {', '.join(r.key for r in self.rows)})")

    def text(self) -> str:
        parts = []
        if self.machine:
            lines = machine_lines(self.machine)
            parts.append("\n".join(f"{k:8s} {v}" for k, v in lines))
        parts.append(tables.text_table(_HEADERS, [_cells(r) for r in self.rows]))
        if self.hints and self.show_hints:
            parts.append("GPU hints:\n" + "\n".join(f"  - {h}" for h in self.hints))
        elif self.hints:
            parts.append(self._hints_pointer())
        return "\n\n".join(parts)

    __str__ = text

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        parts = []
        if self.machine:
            parts.append(tables.html_table(None, [list(kv) for kv in machine_lines(self.machine)]))
        styles = ["color:#888" if not r.installed else "color:#b00020" if r.error else "" for r in self.rows]
        parts.append(tables.html_table(_HEADERS, [_cells(r) for r in self.rows], styles))
        if self.hints and self.show_hints:
            parts.append("<p><b>GPU hints</b></p><ul>" + "".join(
                f"<li>{html.escape(h)}</li>" for h in self.hints) + "</ul>")
        elif self.hints:
            parts.append(f"<p>{html.escape(self._hints_pointer())}</p>")
        return "<div>" + "".join(parts) + "</div>"


def table(toolkits: Iterable[str] | str | None = None, *, isolate: bool | None = None,
          machine: bool = True, hints: bool = False, timeout: float = 180) -> DeviceTable:
    """Probe ``toolkits`` (names; default every toolkit in the registry) and return the table.

    ``isolate``: True probes each toolkit in a child process, False in this one; None (the
    default) probes here the toolkits already imported and the others in child processes.
    ``machine`` adds the machine section. ``.hints`` always holds ``gpu_hints(rows)``;
    ``hints=True`` shows them in full, else a one-line pointer when there are any.
    """
    if isinstance(toolkits, str):
        toolkits = [toolkits]
    known = registry.TOOLKITS
    keys = list(known) if toolkits is None else list(dict.fromkeys(resolve(t) for t in toolkits))
    rows = _probe_many([(k, known[k]) for k in keys], isolate, timeout)
    return DeviceTable(rows, machine_info() if machine else None, gpu_hints(rows), show_hints=hints)


def report_text(toolkits: Iterable[str] | None = None, **kwargs) -> str:
    """The doctor's report: machine, toolkit table, GPU hints, and ``nvidia-smi`` if present."""
    start = time.perf_counter()
    text = table(toolkits, **{"hints": True, **kwargs}).text()
    smi = nvidia_smi()
    if smi:
        text += "\n\n$ nvidia-smi\n" + smi.rstrip()
    return text + f"\n\n(probed in {time.perf_counter() - start:.1f} s)"
