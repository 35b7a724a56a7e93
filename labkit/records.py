"""Run records: one JSON line per measured figure, with the machine, versions and mode.

    >>> from labkit import records
    >>> records.record("pytorch", "train_images_per_s", 4321.0, "img/s", batch_size=64)
    >>> records.write_results("pytorch", train=tp64, infer={1: tp1, 256: tp256},
    ...                       test_accuracy=0.91, train_wall_s=73.0, device="cpu")
    >>> records.records_table(records.read_records(toolkit="pytorch"))

``write_results`` is how a chapter records what every chapter measures, under the metric
names the comparison reads: ``train_images_per_s`` (the Recipe's batch),
``infer_images_per_s`` at each of ``lenet.INFER_BATCHES``, ``test_accuracy`` and
``train_wall_s``.
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

try:
    import fcntl
except ImportError:                      # Windows: appends still go in one write, unlocked
    fcntl = None

from labkit import tables
from labkit.machine import machine_info
from labkit.paths import runs_dir

RECORDS_FILE = "records.jsonl"
_RESERVED = {"time", "toolkit", "versions", "metric", "value", "unit", "device", "cpu", "threads",
             "quick", "host", "python", "labkit"}


def records_path(path: str | os.PathLike | None = None) -> Path:
    """The records file: ``path`` (a file, or a folder holding records.jsonl), else ``runs_dir()``'s."""
    if path is None:
        return runs_dir() / RECORDS_FILE
    p = Path(path).expanduser()
    return p / RECORDS_FILE if p.is_dir() or not p.suffix else p


def _jsonable(x):
    if hasattr(x, "item") and callable(x.item):     # NumPy and torch scalars
        return x.item()
    return str(x)                                   # paths, devices, anything else: as text


def record(toolkit: str, metric: str, value: float, unit: str, *, device: str | None = None,
           threads: int | None = None, versions: dict[str, str | None] | None = None,
           path: str | os.PathLike | None = None, quick: bool | None = None, **extra) -> dict:
    """Append one run record (one JSON line) to ``records.jsonl`` and return it.

    ``device`` is what the run used ('cpu', 'cuda:0', ...). ``threads`` is the thread count
    the toolkit used, if you know it (``torch.get_num_threads()``); the record also keeps
    os.cpu_count(), the usable CPUs and the OMP/MKL/OpenBLAS thread variables. Toolkit
    versions come from ``versions`` or, without importing anything, from the loaded modules
    or the installed metadata (``toolkits.versions_for``: a comparison row's modules, e.g.
    keras and its backend). ``extra`` keyword arguments (batch_size=64, ...) are stored
    as they are. ``quick`` says which mode produced the figure (None: ask ``quick_mode()``).
    The line is written with one ``write`` on a file opened for appending
    (under an advisory lock where the OS has one), so concurrent runs never interleave.
    """
    clash = _RESERVED & set(extra)
    if clash:
        raise ValueError(f"record(): {', '.join(sorted(clash))} is set by record() itself; "
                         "pick another name for your extra field")
    from labkit import __version__, quick_mode, toolkits

    if threads is None and _key(toolkit) == "torch" and "torch" in sys.modules:
        threads = sys.modules["torch"].get_num_threads()     # PyTorch says how many it uses
    m = machine_info(blas=False)

    rec = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "toolkit": toolkit,
        "versions": versions if versions is not None else toolkits.versions_for(toolkit),
        "metric": metric, "value": value, "unit": unit, "device": device,
        "cpu": m["cpu"],
        "threads": {"used": threads, "cpu_count": m["threads"], "usable": m["usable_threads"],
                    "cpu_limit": m["cpu_limit"], **m["env_threads"]},
        "quick": quick_mode() if quick is None else bool(quick), "host": m["hostname"], "python": m["python"], "labkit": __version__,
        **extra,
    }
    line = json.dumps(rec, default=_jsonable, ensure_ascii=False) + "\n"
    target = records_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = line.encode("utf-8")
    with open(target, "ab", buffering=0) as f:
        if fcntl is not None:            # so no other writer appends between our check and write
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        if os.fstat(f.fileno()).st_size > 0 and not _ends_with_newline(target):
            data = b"\n" + data          # a crashed writer left half a line: do not glue onto it
        f.write(data)                    # one write on an O_APPEND file: the line stays whole
        f.flush()
    return json.loads(line)


def _key(toolkit: str) -> str | None:
    from labkit import toolkits

    try:
        return toolkits.resolve(toolkit)
    except ValueError:
        return None


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def read_records(path: str | os.PathLike | None = None, **filters) -> list[dict]:
    """The records in ``path`` (default: ``runs_dir()/records.jsonl``), oldest first.

    ``filters`` keep records whose field equals the value (``toolkit="torch"``), or for
    which a callable returns true (``value=lambda v: v > 100``). A line that is not valid
    JSON (a run that crashed while writing) is skipped with a warning; the others are kept.
    A missing file gives an empty list.
    """
    target = records_path(path)
    if not target.exists():
        return []
    out, bad = [], []
    with open(target, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                bad.append(n)
                continue
            if isinstance(rec, dict) and all(_match(rec, k, v) for k, v in filters.items()):
                out.append(rec)
    if bad:
        warnings.warn(f"{target}: skipped line(s) {', '.join(map(str, bad))}: not valid JSON "
                      "(probably a run that stopped while writing); the other records are kept.",
                      RuntimeWarning, stacklevel=2)
    return out


def _match(rec: dict, key: str, want) -> bool:
    if key not in rec:
        return False
    return bool(want(rec[key])) if callable(want) else rec[key] == want


DEFAULT_COLUMNS = ["time", "toolkit", "version", "metric", "value", "unit", "device", "threads", "quick"]


def _cell(rec: dict, column: str) -> str:
    if column == "version":       # the toolkit's own, else every version recorded (keras / backend)
        versions = rec.get("versions") or {}
        return str(versions.get(rec.get("toolkit")) or " / ".join(str(v) for v in versions.values() if v))
    v = rec.get(column)
    if column == "time" and isinstance(v, str):
        return v.replace("T", " ")[:16]
    if column == "threads" and isinstance(v, dict):
        return str(v.get("used") or v.get("usable") or "")
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return tables.num(v)
    return "" if v is None else str(v)


def records_table(records: Iterable[dict], columns: list[str] | None = None) -> tables.Table:
    """A table of ``records`` (from ``read_records``) with ``columns`` (default ``DEFAULT_COLUMNS``)."""
    columns = list(columns or DEFAULT_COLUMNS)
    return tables.Table(columns, [[_cell(r, c) for c in columns] for r in records])


# --- what every chapter records ----------------------------------------------------------------

def _rate(x) -> float:
    """Images/s from a ``timing.Throughput`` (its median) or a plain number."""
    return float(getattr(x, "median", x))


def write_results(toolkit: str, *, train=None, infer: dict | None = None, test_accuracy: float | None = None,
                  train_wall_s: float | None = None, batch_size: int | None = None,
                  path: str | os.PathLike | None = None, quick: bool | None = None, **common) -> list[dict]:
    """Record a chapter's figures under the shared metric names; return the records written.

    ``train``: training images/s (a ``Throughput`` or a number) at ``batch_size`` (default: the
    Recipe's). ``infer``: ``{batch: images/s}`` for every batch in ``lenet.INFER_BATCHES``.
    ``common`` (device, versions, threads, dataset, variant, ...) goes into every record.
    """
    from labkit import lenet

    clash = {"batch_size", "metric", "value", "unit"} & set(common)
    if clash:
        raise ValueError(f"write_results() sets {', '.join(sorted(clash))} itself (pass batch_size= as its "
                         "own argument: the training batch); remove it from the common fields")
    written = []
    rec = lambda metric, value, unit, **extra: written.append(  # noqa: E731
        record(toolkit, metric, value, unit, path=path, quick=quick, **common, **extra))
    if train is not None:
        rec("train_images_per_s", _rate(train), "img/s", batch_size=batch_size or lenet.FULL.batch_size)
    if infer is not None:
        missing = [b for b in lenet.INFER_BATCHES if b not in infer]
        extra = [b for b in infer if b not in lenet.INFER_BATCHES]
        if missing or extra:
            raise ValueError(f"write_results(infer=...) wants images/s at batches {list(lenet.INFER_BATCHES)} "
                             f"(lenet.INFER_BATCHES); missing {missing}, unexpected {extra}")
        for batch in lenet.INFER_BATCHES:
            rec("infer_images_per_s", _rate(infer[batch]), "img/s", batch_size=batch)
    if test_accuracy is not None:
        rec("test_accuracy", float(test_accuracy), "fraction")
    if train_wall_s is not None:
        rec("train_wall_s", float(train_wall_s), "s")
    return written
