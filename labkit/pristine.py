"""Notebooks back to their pristine state, without losing a learner's work (``make reset``).

In a git clone, every chapter notebook that differs from the committed one (``git show
HEAD:path``) is first copied to ``runs/notebook-backups/STAMP/`` (a new folder each time; a
saved copy is never overwritten), then replaced by the committed version. Only notebooks are
touched, one by one: never a ``git checkout`` of the tree, and a notebook the repository does
not hold (a learner's own) is left alone and named. Where the folder is not a git clone (a zip
download), there is no pristine copy to go back to: outputs and execution counts are cleared
instead, each changed notebook saved first, and the message says so.

    python -m labkit workshop reset [--notebooks DIR]
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from labkit import paths


class ResetError(RuntimeError):
    """git could not give a committed notebook back; the message says which and why."""


def _git(root: Path, *args: str, text: bool = True):
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=text)


def _backup(src: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / src.name
    with open(target, "xb") as f:           # never overwrite a copy already saved
        f.write(src.read_bytes())
    return target


def _backup_folder(base: Path) -> Path:
    stamp, n = time.strftime("%Y%m%dT%H%M%S"), 1
    while (base / (stamp if n == 1 else f"{stamp}-{n}")).exists():
        n += 1
    return base / (stamp if n == 1 else f"{stamp}-{n}")


def reset(notebooks=None, *, backups=None, show=print) -> dict:
    """Put the chapter notebooks back as committed; every changed one is copied to ``backups``
    (default ``runs/notebook-backups/STAMP/``) first. Outside a git clone, clear outputs instead."""
    from labkit.chapters import notebooks_dir

    folder = notebooks_dir(notebooks).resolve()
    if backups is None:
        base = paths.runs_dir() if notebooks is None else folder.parent / "runs"
        backups = _backup_folder(base / "notebook-backups")
    backups = Path(backups)
    top = _git(folder, "rev-parse", "--show-toplevel") if shutil.which("git") else None
    tracked = []
    if top is not None and top.returncode == 0:
        root = Path(top.stdout.strip()).resolve()
        listed = _git(root, "ls-tree", "-r", "--name-only", "HEAD", "--", str(folder.relative_to(root)))
        tracked = [line for line in listed.stdout.splitlines() if line.endswith(".ipynb")]
    out = {"mode": "git" if tracked else "strip", "restored": [], "backups": str(backups), "saved": [],
           "untracked": []}
    if not tracked:
        show(f"{folder} is not part of a git clone of the workbook (a zip download?): there is no "
             "committed copy to restore, so outputs are cleared instead; your edits to cells stay")
        return _strip(folder, backups, out, show)
    for rel in tracked:
        path = root / rel
        committed = _git(root, "show", f"HEAD:{rel}", text=False)
        if committed.returncode != 0:
            raise ResetError(f"git show HEAD:{rel} failed: {committed.stderr.decode(errors='replace').strip()}")
        if path.is_file() and path.read_bytes() == committed.stdout:
            continue
        if path.is_file():
            out["saved"].append(str(_backup(path, backups)))
        path.write_bytes(committed.stdout)
        out["restored"].append(rel)
    known = {Path(rel).name for rel in tracked}
    out["untracked"] = sorted(p.name for p in folder.glob("*.ipynb") if p.name not in known)
    show(f"reset: {len(out['restored'])} notebook(s) restored from git HEAD"
         + (f"; your copies saved in {backups}" if out["saved"] else "; nothing to save"))
    if out["untracked"]:
        show(f"left alone (not in the repository, yours): {', '.join(out['untracked'])}")
    return out


def _strip(folder: Path, backups: Path, out: dict, show) -> dict:
    import nbformat

    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as err:            # a file the learner broke: say so, never touch it
            show(f"left alone: {path.name} is not a readable notebook ({type(err).__name__}: {err})")
            continue
        code = [c for c in nb.cells if c.cell_type == "code"]
        if not any(c.outputs or c.execution_count is not None for c in code):
            continue
        out["saved"].append(str(_backup(path, backups)))
        for c in code:
            c.outputs, c.execution_count = [], None
        nbformat.write(nb, path)
        out["restored"].append(path.name)
    show(f"reset: outputs cleared in {len(out['restored'])} notebook(s)"
         + (f"; your copies saved in {backups}" if out["saved"] else ""))
    return out
