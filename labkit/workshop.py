"""The workshop kit: warm every cache before the day, plan three hours, reset the notebooks.

    python -m labkit workshop warm [CHAPTER ...] [--caffe]   data, then each chapter once in quick mode
    python -m labkit workshop plan [--minutes 180] [--legacy 14] [--factor 1.5]
    python -m labkit workshop reset [--notebooks DIR]         notebooks back as committed, copies kept

``warm`` fetches the datasets, then runs every chapter once in quick mode, one after
another in a fresh kernel each (``labkit.compare.fullrun.run_chapter``, the runner of
``make full``): that first run is what fills Theano's compile cache, torch.compile's, the
data cache, and tries the Node packages. Each chapter's wall time becomes a run record
(metric ``workshop_chapter_wall_s`` in ``runs/workshop/records.jsonl``); ``plan`` builds its
timed blocks from the latest record of each chapter. ``--caffe`` also runs ``make caffe``
(minutes on a first build). ``reset`` is ``labkit.pristine.reset``: the notebooks back as
committed, every changed one saved first.
"""
from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from labkit import paths, settings, tables

METRIC = "workshop_chapter_wall_s"
MINUTES = 180                     # the session

# Minutes of reading and discussion per block, on top of the chapter's measured run in quick
# mode: stated, not measured (what a room needs to read a chapter and ask about it).
INTRO_MIN, BREAK_MIN, WRAP_MIN = 15, 10, 10
TALK_MIN = {"00_setup": 5, "01_data": 10, "10_pytorch": 25, "11_keras": 20, "legacy": 15,
            "40_compare": 15, "50_playground": 15}
# (block, chapter) in the order of the day; "legacy" is the one chapter --legacy picks.
DAY = (("introduction", None), ("setup check", "00_setup"), ("data", "01_data"),
       ("PyTorch", "10_pytorch"), ("break", None), ("Keras", "11_keras"),
       ("legacy toolkit", "legacy"), ("break", None), ("comparison", "40_compare"),
       ("playground", "50_playground"), ("wrap-up", None))
# The legacy block's choices: the chapters of the review's toolkits that are retired or in
# maintenance (they need NumPy 1.x and labkit.compat); --legacy picks one, else the quickest.
LEGACY = ("12_theano", "13_lasagne", "14_chainer", "16_mxnet")
# What to drop, first to last, when the day does not fit (the rest is the core).
SKIP_ORDER = ("50_playground", "legacy", "01_data", "40_compare")
SKIP_WHY = {"50_playground": "runs offline, good for self-study afterwards",
            "legacy": "five minutes on what became of it, from chapter 30's table, instead",
            "01_data": "show its sample grid and the NCHW/NHWC cell from the projector",
            "40_compare": "show the comparison table from your own warm-up run instead of running it"}


class WorkshopError(RuntimeError):
    """Something the workshop kit needs is missing; the message says what to run."""


def records_file() -> Path:
    return paths.runs_dir() / "workshop" / "records.jsonl"


# --- caches --------------------------------------------------------------------------------

def _size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for f in files:
            with contextlib.suppress(OSError):          # a file removed while we walk
                total += os.lstat(os.path.join(root, f)).st_size
    return total


def _flag(flags: str, name: str) -> str | None:
    for item in flags.split(","):
        key, _, value = item.partition("=")
        if key.strip().replace(".", "__") == name and value.strip():
            return value.strip()
    return None


def caches() -> list[dict]:
    """Every cache a room would otherwise wait for: what, where, how big (None: absent), a note."""
    import getpass
    import tempfile

    root = paths.repo_root()
    home = Path.home()
    theano = _flag(os.environ.get("THEANO_FLAGS", ""), "base_compiledir")
    inductor = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    wheels = settings.text("LABKIT_WHEELS") or (Path(os.environ.get("XDG_CACHE_HOME", home / ".cache"))
                                                 / "labkit" / "wheels")
    rows = [
        ("labkit data cache", paths.cache_dir(), "datasets and their .npz copies (LABKIT_CACHE moves it)"),
        ("Theano compile cache", Path(theano) if theano else home / ".theano",
         "THEANO_FLAGS=base_compiledir=..." if theano else "Theano's default base_compiledir"),
        ("torch.compile cache", Path(inductor) if inductor
         else Path(tempfile.gettempdir()) / f"torchinductor_{getpass.getuser()}",
         "TORCHINDUCTOR_CACHE_DIR" if inductor else "Inductor's default, under /tmp: cleared by a reboot"),
        ("Node packages", root / "js" / "node_modules" if root else None, "npm ci, run by make setup"),
        ("real Caffe wheel", Path(wheels), "make caffe keeps its built wheel here"),
    ]
    for var, what in (("JAX_COMPILATION_CACHE_DIR", "JAX compile cache"), ("TF_XLA_FLAGS", "TensorFlow XLA cache")):
        rows.append((what, None, f"{var} is set; not measured here" if os.environ.get(var)
                     else "off by default: every run compiles afresh (nothing to warm)"))
    return [{"cache": what, "path": None if folder is None else str(folder), "note": note,
             "bytes": _size(folder) if folder is not None and folder.is_dir() else None}
            for what, folder, note in rows]


def _mib(n: int | None) -> str:
    return "absent" if n is None else f"{n / 2**20:,.1f} MiB"


def caches_table(after: list[dict], before: list[dict] | None = None) -> tables.Table:
    was = {c["cache"]: c["bytes"] for c in before or []}
    rows = []
    for c in after:
        state = "-" if c["path"] is None else "absent" if c["bytes"] is None else "warm"
        if before is not None and c["path"] is not None and c["bytes"] is not None:
            b = was.get(c["cache"])
            state = ("filled now" if not b else "was warm" if c["bytes"] <= b
                     else f"was warm, +{_mib(c['bytes'] - b)}")
        rows.append([c["cache"], c["path"] or "-", _mib(c["bytes"]) if c["path"] else "-", state, c["note"]])
    return tables.Table(["cache", "where", "size", "state", "note"], rows)


# --- warm ----------------------------------------------------------------------------------

def warm(names=None, *, caffe: bool = False, notebooks=None, kernel: str = "python3", show=print) -> list[dict]:
    """Fetch the data, run each chapter once in quick mode and record its wall time; the rows."""
    from labkit import data
    from labkit.compare.fullrun import chapters, run_chapter
    from labkit.records import record

    chosen = chapters(names, notebooks)
    before = caches()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    folder = records_file().parent / f"warm-{stamp}"
    show(f"workshop warm-up {stamp}: data, then {len(chosen)} chapter(s) in quick mode; "
         f"their records in {folder}")
    for name in data.DATASETS:
        try:
            ds = data.load(name)
        except data.DataError as err:            # the chapters will fail on it too: say it first
            show(f"data {name}: NOT fetched: {err}")
            continue
        show(f"data {name}: {ds.describe()}" + ("\n  NOT warm: the full set could not be fetched here; "
                                                "connect to the internet and run warm again" if ds.is_sample else ""))
    rows = [build_caffe(show)] if caffe else []          # first, so chapter 20 runs real Caffe too
    last = latest_times()
    for k, path in enumerate(chosen, 1):
        show(f"[{k}/{len(chosen)}] {path.name} ...")
        r = run_chapter(path, folder, kernel, quick=True)
        record("workshop", METRIC, round(r["wall_s"], 2), "s", versions={}, path=records_file(), quick=True,
               chapter=r["chapter"], warmup=stamp, error=r["error"], peak_mib=round(r["peak_mib"], 1))
        prev = last.get(r["chapter"])
        show(f"[{k}/{len(chosen)}] {r['chapter']}: {r['wall_s']:.1f} s"
             + (f" (previous warm-up: {prev['value']:.1f} s)" if prev else " (first warm-up)")
             + ("" if r["error"] is None else f", FAILED: {r['error']}"))
        rows.append(r)
    show("\n" + caches_table(caches(), before).text())
    return rows


def build_caffe(show=print) -> dict:
    """``make caffe`` (real Caffe built from source: minutes the first time, then its cached wheel)."""
    root = paths.repo_root()
    if root is None or not (root / "Makefile").is_file():
        raise WorkshopError("make caffe needs the workbook's clone (its Makefile and tools/); this labkit "
                            "is installed on its own")
    show("make caffe: building real Caffe (several minutes on a first build; its wheel is cached after) ...")
    t0 = time.perf_counter()
    proc = subprocess.run(["make", "caffe"], cwd=root)
    wall = time.perf_counter() - t0
    error = None if proc.returncode == 0 else f"make caffe exited with {proc.returncode} (its log says why)"
    show(f"make caffe: {wall:.0f} s, " + ("ok" if error is None else error))
    return {"chapter": "make caffe", "wall_s": wall, "error": error}


# --- plan ----------------------------------------------------------------------------------

def latest_times(path=None) -> dict[str, dict]:
    """The latest warm-up record of each chapter: {chapter: record}."""
    from labkit.records import read_records

    out = {}
    for rec in read_records(path or records_file(), metric=METRIC):
        out[rec["chapter"]] = rec            # oldest first: the last one wins
    return out


@dataclass
class Block:
    name: str
    chapter: str | None
    run_min: int
    talk_min: int
    note: str = ""

    @property
    def minutes(self) -> int:
        return self.run_min + self.talk_min


class Plan(NamedTuple):
    blocks: list[Block]
    skipped: list[str]            # chapters dropped to fit, in SKIP_ORDER
    legacy: str                   # the legacy chapter chosen
    times: dict[str, dict]        # the warm-up record used for each chapter


def plan(path=None, *, minutes: int = MINUTES, legacy: str | None = None, factor: float = 1.0) -> Plan:
    """The day as timed blocks from the latest warm-up record of each chapter.

    A chapter's block is its measured quick-mode run (times ``factor``, rounded up to whole
    minutes) plus its ``TALK_MIN``. When the blocks exceed ``minutes``, chapters are dropped in
    ``SKIP_ORDER`` until they fit (or none is left to drop)."""
    if factor <= 0:
        raise ValueError(f"factor must be positive (1.5 means laptops half again as slow), not {factor}")
    source = Path(path) if path else records_file()
    times = latest_times(source)
    if not times:
        raise WorkshopError(f"no warm-up record in {source}: run `make workshop` first (or `python -m "
                            "labkit workshop warm`), which runs every chapter once and records its time")
    legacy_choices = LEGACY
    if legacy is None:
        measured = [c for c in legacy_choices if c in times]
        if not measured:
            raise WorkshopError(f"no warm-up time for any legacy chapter ({', '.join(legacy_choices)}): "
                                f"run `python -m labkit workshop warm {legacy_choices[0]}`")
        legacy = min(measured, key=lambda c: times[c]["value"])
    else:
        hits = [c for c in legacy_choices if c == legacy or c.split("_", 1)[0] == legacy]
        if len(hits) != 1:
            raise ValueError(f"--legacy {legacy!r} is not a legacy chapter; pick one of {', '.join(legacy_choices)}")
        legacy = hits[0]
    blocks = []
    for name, chapter in DAY:
        if chapter is None:
            blocks.append(Block(name, None, 0, INTRO_MIN if name == "introduction" else
                                WRAP_MIN if name == "wrap-up" else BREAK_MIN))
            continue
        stem = legacy if chapter == "legacy" else chapter
        rec = times.get(stem)
        if rec is None:
            raise WorkshopError(f"no warm-up time for chapter {stem} in {source}: run `python -m labkit "
                                f"workshop warm {stem}` (or `make workshop` for every chapter)")
        note = "" if not rec.get("error") else f"FAILED in the warm-up ({rec['error']}): fix it before the day"
        blocks.append(Block(f"{name} ({stem})" if chapter == "legacy" else name, chapter,
                            math.ceil(rec["value"] * factor / 60), TALK_MIN[chapter], note))
    skipped = []
    for chapter in SKIP_ORDER:
        if sum(b.minutes for b in blocks) <= minutes:
            break
        skipped.append(legacy if chapter == "legacy" else chapter)
        blocks = [b for b in blocks if b.chapter != chapter]
    return Plan(blocks, skipped, legacy, times)


def plan_text(path=None, **kw) -> str:
    """The plan as the instructor reads it: clock times, blocks, total, what to skip and why."""
    minutes = kw.get("minutes", MINUTES)
    blocks, skipped, legacy, times = plan(path, **kw)
    rows, clock = [], 0
    for b in blocks:
        rows.append([f"{clock // 60}:{clock % 60:02d}", b.name, str(b.minutes),
                     f"{b.run_min} run + {b.talk_min} talk" if b.chapter else "", b.note])
        clock += b.minutes
    dates = sorted({r["time"][:10] for r in times.values()})
    lines = [f"A {minutes}-minute workshop, from warm-up records of {', '.join(dates)} "
             f"(chapter runs in quick mode, rounded up to whole minutes):", "",
             tables.Table(["start", "block", "min", "of which", "note"], rows).text(), "",
             f"total: {clock} min of {minutes}" + (f" ({minutes - clock} spare: questions, exercises)"
                                                    if clock < minutes else
                                                    f" (over by {clock - minutes}: shorten the talks)"
                                                    if clock > minutes else "")]
    if skipped:
        lines.append("dropped to fit: " + ", ".join(skipped))
    lines.append("short of time? skip, in this order:")
    for chapter in SKIP_ORDER:
        lines.append(f"  - {legacy if chapter == 'legacy' else chapter}: {SKIP_WHY[chapter]}")
    return "\n".join(lines)


# --- command line --------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m labkit workshop", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("warm", help="fetch the data and run each chapter once in quick mode, timed")
    w.add_argument("chapters", nargs="*", help="chapter names or numbers (default: every chapter)")
    w.add_argument("--caffe", action="store_true", help="also build real Caffe (make caffe: minutes)")
    w.add_argument("--notebooks", metavar="DIR", help="the chapters' folder (default: the workbook's)")
    w.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3: this Python)")
    q = sub.add_parser("plan", help="a timed plan of the day from the latest warm-up")
    q.add_argument("--minutes", type=int, default=MINUTES, help=f"length of the day (default {MINUTES})")
    q.add_argument("--legacy", help="the legacy chapter to teach (default: the quickest measured)")
    q.add_argument("--factor", type=float, default=1.0,
                   help="multiply measured run times (1.5: laptops half again as slow as the one measured)")
    q.add_argument("--records", metavar="FILE", help=f"warm-up records (default {records_file()})")
    r = sub.add_parser("reset", help="notebooks back to their committed state; changed ones saved first")
    r.add_argument("--notebooks", metavar="DIR", help="the chapters' folder (default: the workbook's)")
    args = p.parse_args(argv)
    try:
        if args.command == "warm":
            rows = warm(args.chapters, caffe=args.caffe, notebooks=args.notebooks, kernel=args.kernel,
                        show=lambda m: print(m, flush=True))
            return 1 if any(r["error"] for r in rows) else 0
        if args.command == "plan":
            print(plan_text(args.records, minutes=args.minutes, legacy=args.legacy, factor=args.factor))
            return 0
        from labkit.pristine import reset

        reset(args.notebooks)
        return 0
    except (WorkshopError, ValueError, LookupError, RuntimeError) as err:
        print(f"workshop {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
