"""``make full``: every chapter in full mode, one after another, with its wall time, peak
memory and accuracy as one table.

    python -m labkit.compare.fullrun                       # every chapter in notebooks/
    python -m labkit.compare.fullrun 10_pytorch 14_chainer  # some chapters (names or files)

Full mode is what a reader gets (``LABKIT_QUICK`` removed): the full datasets, ten epochs,
every toolkit of the comparison, the Caffe chapter's learning-rate search, torch.compile
training, the Keras LeNet-5. Each chapter runs top to bottom in a fresh kernel (nbclient),
with no cell time limit. Its figures:

* wall time: the whole notebook, kernel start included;
* peak memory: the largest sum of resident memory over the kernel and every process it
  started, sampled every 0.2 s (pages shared between processes are counted in each, so a
  chapter with child processes is over-counted rather than under);
* accuracy: every ``test_accuracy`` the chapter wrote as a run record during its run;
* others' CPU: the share of the machine's CPU time that went to processes outside the
  chapter's tree while it ran. Above a few percent the wall time was measured under load,
  and the table says so rather than passing it off as a quiet figure.

The chapters' records go to a folder of their own for this run (``runs/full-STAMP/`` under
``labkit.paths.runs_dir()``) and the table is written there too. Nothing is asserted: a
failing chapter is a row saying which cell failed, and the run goes on.
"""
from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import time
from pathlib import Path

from labkit import tables


LOADED = 0.05       # others' CPU share above which a wall time is marked as measured under load


def chapters(names=None, notebooks=None) -> list[Path]:
    """The chapter notebooks to run: ``names`` (e.g. '10_pytorch' or a file), default every
    ``NN_*.ipynb`` of the notebooks folder, in order. A clear error for a name not there."""
    from labkit.chapters import notebooks_dir

    folder = notebooks_dir(notebooks)
    every = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return every
    out = []
    for name in names:
        stem = Path(name).name.removesuffix(".ipynb")
        hits = [p for p in every if p.stem == stem or p.stem.split("_", 1)[0] == stem]
        if len(hits) != 1:
            raise ValueError(f"no chapter {name!r} in {folder} (there are: {', '.join(p.stem for p in every)})")
        out.append(hits[0])
    return out


class PeakMemory:
    """The largest resident-memory sum of this process's descendants, sampled in a thread."""

    def __init__(self, every: float = 0.2):
        import psutil

        self.me, self.every, self.peak = psutil.Process(), every, 0
        self.cpu = {}                       # pid -> latest user+system seconds seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        while not self._stop.is_set():
            total = 0
            for p in self.me.children(recursive=True):
                try:
                    total += p.memory_info().rss
                    t = p.cpu_times()
                    self.cpu[p.pid] = t.user + t.system
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.every)

    def __enter__(self):
        import psutil

        self._busy0, self._t0 = _busy(psutil.cpu_times()), time.perf_counter()
        self._own0 = sum(self.me.cpu_times()[:2])      # nbclient's driving counts as the chapter's
        self._thread.start()
        return self

    def __exit__(self, *exc):
        import psutil

        self._stop.set()
        self._thread.join()
        self.spent = spent = (time.perf_counter() - self._t0) * (psutil.cpu_count() or 1)   # CPU-seconds there were
        busy = _busy(psutil.cpu_times()) - self._busy0
        self.mine = sum(self.cpu.values()) + sum(self.me.cpu_times()[:2]) - self._own0
        self.others = max(0.0, busy - self.mine) / spent if spent > 0 else 0.0


def _busy(t) -> float:
    """Machine-wide CPU seconds spent by this machine's processes (idle, iowait and the hypervisor's steal are not)."""
    return sum(v for k, v in t._asdict().items() if k not in ("idle", "iowait", "steal", "guest", "guest_nice"))


def run_chapter(path: Path, records: Path, kernel: str = "python3", quick: bool = False) -> dict:
    """Execute one notebook in full mode in a fresh kernel; wall time, peak memory, accuracies.
    ``quick=True`` runs it in quick mode instead (``LABKIT_QUICK=1``; the workshop warm-up)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from labkit.records import read_records, records_path

    nb = nbformat.read(path, as_version=4)
    before = len(read_records(records)) if records_path(records).is_file() else 0
    saved = {k: os.environ.get(k) for k in ("LABKIT_QUICK", "LABKIT_RUNS")}
    if quick:
        os.environ["LABKIT_QUICK"] = "1"
    else:
        os.environ.pop("LABKIT_QUICK", None)
    os.environ["LABKIT_RUNS"] = str(records)
    error, start, started = None, time.perf_counter(), dt.datetime.now(dt.timezone.utc)
    try:
        with PeakMemory() as mem:
            client = NotebookClient(nb, timeout=None, kernel_name=kernel,
                                    resources={"metadata": {"path": str(path.parent)}})
            try:
                client.execute()
            except CellExecutionError as err:
                error = str(err).strip().splitlines()[-1][:200]
            except Exception as err:       # a kernel that died or would not start: a row, not a crash
                error = f"{type(err).__name__}: {str(err).strip()[:200]}"
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    wall = time.perf_counter() - start
    if not quick:
        _keep_for_book(nb, path, started, wall)
    recs = read_records(records)[before:] if records_path(records).is_file() else []
    acc = {r["toolkit"]: r["value"] for r in recs if r["metric"] == "test_accuracy"}
    return {"chapter": path.stem, "wall_s": wall, "peak_mib": mem.peak / 2 ** 20, "accuracy": acc,
            "records": len(recs), "error": error, "others_cpu": mem.others}


def _keep_for_book(nb, path: Path, started, wall: float) -> Path:
    """The executed chapter, outputs and all, as the book's full-mode copy (``runs/executed/``):
    ``make book`` after ``make full`` shows full-mode pages. A chapter that stopped at an error
    is kept too, its error counted; the book's page check fails on it."""
    from labkit.book import executed

    ran = sum(c.cell_type == "code" and c.execution_count is not None for c in nb.cells)
    nb.metadata[executed.KEY] = executed.run_info(
        nb, mode="full", runner="make full (nbclient)", started=started, wall_s=wall, code_cells_run=ran,
        errors=executed.count_errors(nb), code_cells_skipped=0)
    return executed.write(nb, executed.executed_dir() / path.name)


def table(rows: list[dict]) -> tables.Table:
    out = []
    for r in rows:
        acc = ", ".join(f"{k} {v:.4f}" for k, v in r["accuracy"].items()) or "-"
        out.append([r["chapter"], tables.clock(r["wall_s"]), f"{r['peak_mib']:,.0f}", acc,
                    f"{r['others_cpu']:.0%}" + (" (under load)" if r["others_cpu"] > LOADED else ""),
                    "ok" if r["error"] is None else "FAILED: " + r["error"]])
    return tables.Table(["chapter", "wall", "peak MiB (kernel tree)", "test accuracy (records)",
                         "others' CPU", "status"], out)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from labkit import machine
    from labkit.paths import runs_dir

    p = argparse.ArgumentParser(prog="python -m labkit.compare.fullrun", description=__doc__.split("\n\n")[0])
    p.add_argument("chapters", nargs="*", help="chapter names or numbers (default: every chapter)")
    p.add_argument("--notebooks", metavar="DIR", help="the chapters' folder (default: the workbook's)")
    p.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3: this Python)")
    args = p.parse_args(argv)
    try:
        paths = chapters(args.chapters, args.notebooks)
    except (ValueError, LookupError) as err:
        p.error(str(err))
    folder = runs_dir() / time.strftime("full-%Y%m%dT%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    info = machine.machine_info(blas=False)
    print(f"full mode, {len(paths)} chapter(s), one after another; records in {folder}", flush=True)
    rows = []
    for k, path in enumerate(paths, 1):
        print(f"[{k}/{len(paths)}] {path.name} ...", flush=True)
        rows.append(run_chapter(path, folder, args.kernel))
        r = rows[-1]
        print(f"[{k}/{len(paths)}] {path.stem}: {tables.clock(r['wall_s'])}, peak {r['peak_mib']:,.0f} MiB, "
              f"others' CPU {r['others_cpu']:.0%}, {'ok' if r['error'] is None else 'FAILED: ' + r['error']}", flush=True)
    text = (f"{info['cpu']}, {info['usable_threads']} usable CPUs, Python {info['python']}, {info['os']}; "
            f"{time.strftime('%Y-%m-%d')}\n\n" + table(rows).text())
    (folder / "full.txt").write_text(text + "\n")
    print("\n" + text)
    return 1 if any(r["error"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
