"""Dataset files on disk: find them, check them, set bad ones aside, keep a verified ``.npz`` copy.

An IDX file is accepted when its SHA-256 (of the ``.gz`` as distributed, or of its contents)
is the known one, its IDX header is well formed and its array has the expected shape; labels
must also lie within the classes. A bad file in a folder labkit owns (the cache) is moved
aside to ``<file>.corrupt``; one in your own or a system folder is named and left alone.

The ``.npz`` cache holds the four arrays of a dataset in one file, with a JSON record of its
SHA-256 next to it; it is checked each time it is read.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import secrets
import time
import warnings
import zlib
from pathlib import Path

import numpy as np

from labkit import __version__, paths
from labkit.data.idx import IDXError, parse_idx
from labkit.data.registry import ROLES, DatasetSpec, FileSpec, LabkitDataWarning, SourceFailed


def sha256_file(path: Path) -> str:
    """The SHA-256 of the file at ``path``, read in blocks of 1 MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write(path: Path, write) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        with open(tmp, "xb") as f:  # unlike mkstemp, honours the umask (files stay readable)
            write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def set_aside(path: Path, why: str) -> str:
    """Move the bad file ``path`` to ``<path>.corrupt`` with a warning; the reason, for messages."""
    aside = path.with_name(path.name + ".corrupt")
    try:
        path.replace(aside)
    except OSError as err:
        return f"{why}; could not move it aside ({err})"
    warnings.warn(f"{path}: {why}; moved aside to {aside.name}", LabkitDataWarning, stacklevel=4)
    return f"{why}; moved aside to {aside.name}"


def read_idx_file(path: Path, fs: FileSpec, n_classes: int) -> np.ndarray:
    """The verified array in one IDX file; :class:`SourceFailed` naming the file otherwise."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, zlib.error) as err:
        raise SourceFailed(f"{path}: not a readable gzip file ({err}); truncated?") from None
    if digest != fs.sha256 and hashlib.sha256(content).hexdigest() != fs.content_sha256:
        raise SourceFailed(f"{path}: checksum mismatch (SHA-256 {digest[:16]}..., expected "
                           f"{fs.sha256[:16]}... for the .gz or "
                           f"{fs.content_sha256[:16]}... for its contents)")
    try:
        array = parse_idx(content, str(path))
    except IDXError as err:
        raise SourceFailed(str(err)) from None
    if array.shape != fs.shape or array.dtype != np.uint8:
        raise SourceFailed(f"{path}: shape {array.shape} {array.dtype}, expected {fs.shape} uint8")
    if fs.role.endswith("labels"):
        if array.size and array.max() >= n_classes:
            raise SourceFailed(f"{path}: label {array.max()} out of range 0..{n_classes - 1}")
        return array.astype(np.int64)
    return array.copy()


def find_file(directory: Path, fs: FileSpec) -> Path | None:
    """The first of ``fs.candidates()`` present in ``directory``, or None."""
    return next((directory / n for n in fs.candidates() if (directory / n).is_file()), None)


def named_folders(root: Path, name: str) -> list[Path]:
    """Where a folder you name may hold ``name``: ``<root>/<name>/`` if there is one, then ``root``."""
    return ([root / name] if (root / name).is_dir() else []) + [root]


def read_folder(sp: DatasetSpec, directory: Path, owned: bool) -> dict[str, np.ndarray]:
    """All four arrays from ``directory``; a bad file in a folder labkit ``owned`` is set aside."""
    if not directory.is_dir():
        raise SourceFailed(f"{directory}: no such directory")
    found = {fs.role: find_file(directory, fs) for fs in sp.files}
    missing = [fs.filename for fs in sp.files if found[fs.role] is None]
    if len(missing) == len(sp.files):
        raise SourceFailed(f"{directory}: no {sp.name} files")
    if missing:
        raise SourceFailed(f"{directory}: missing {', '.join(missing)}")
    arrays, problems = {}, []
    for fs in sp.files:
        try:
            arrays[fs.role] = read_idx_file(found[fs.role], fs, len(sp.classes))
        except SourceFailed as err:
            problems.append(set_aside(found[fs.role], str(err)) if owned else str(err))
    if problems:
        raise SourceFailed("\n       ".join(problems))
    return arrays


def cache_folder(name: str) -> Path:
    """labkit's cache folder for dataset ``name``: ``labkit.paths.cache_dir()/<name>``."""
    return paths.cache_dir() / name


def npz_paths(name: str) -> tuple[Path, Path]:
    """``(npz, record)``: the cached arrays of dataset ``name`` and the JSON record of their SHA-256."""
    folder = cache_folder(name)
    return folder / f"{name}.npz", folder / f"{name}.npz.json"


def write_npz(sp: DatasetSpec, arrays: dict[str, np.ndarray], source: str) -> None:
    """Keep ``arrays`` in the ``.npz`` cache with its record, unless both are there already."""
    npz, meta = npz_paths(sp.name)
    if npz.is_file() and meta.is_file():  # already there; checked each time it is read
        return
    atomic_write(npz, lambda f: np.savez(f, **arrays))
    record = {"dataset": sp.name, "sha256": sha256_file(npz), "bytes": npz.stat().st_size,
              "source": source, "written": time.strftime("%Y-%m-%d %H:%M:%S"), "labkit": __version__}
    atomic_write(meta, lambda f: f.write(json.dumps(record, indent=1).encode()))


def read_npz(sp: DatasetSpec) -> tuple[dict[str, np.ndarray], str]:
    """The arrays in the ``.npz`` cache and where they first came from, checked against the record."""
    npz, meta = npz_paths(sp.name)
    if not npz.is_file():
        raise SourceFailed(f"{npz}: not built yet")
    try:
        record = json.loads(meta.read_text())
        expected = record["sha256"]
    except (OSError, ValueError, KeyError) as err:
        raise SourceFailed(f"{npz}: its record {meta.name} is missing or unreadable ({err}); "
                           "rebuilding") from None
    if sha256_file(npz) != expected:
        raise SourceFailed(set_aside(npz, f"{npz}: SHA-256 does not match {meta.name}"))
    with np.load(npz, allow_pickle=False) as z:
        arrays = {role: z[role] for role in ROLES if role in z.files}
    for fs in sp.files:
        dtype = np.int64 if fs.role.endswith("labels") else np.uint8
        if fs.role not in arrays or arrays[fs.role].shape != fs.shape or arrays[fs.role].dtype != dtype:
            raise SourceFailed(set_aside(npz, f"{npz}: {fs.role} missing or of the wrong shape or type"))
    return arrays, f"cache {npz} (verified; first loaded from {record.get('source', '?')})"
