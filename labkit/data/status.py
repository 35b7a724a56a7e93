"""Where would ``load`` find each dataset now? Looked up on disk only: no hashing, no network.

``status_text(name)`` answers for one dataset in a few lines (``python -m labkit data``);
``cache_report()`` gives the same facts as rows, for a table.
"""
from __future__ import annotations

from pathlib import Path

from labkit import settings, tables
from labkit.data import files, registry
from labkit.data.registry import DATASETS, DatasetSpec, SourceFailed, spec
from labkit.data.sources import mirror_urls, sample_path


def _survey(sp: DatasetSpec) -> list[dict]:
    """One row per source, in load order: where, what is there now (no hashing, no network)."""
    rows = []

    def row(source, where, state, nbytes=None, ready=False):
        rows.append({"dataset": sp.name, "source": source, "where": str(where), "state": state,
                     "bytes": nbytes, "ready": ready})

    def idx_row(source, folder: Path):
        found = [p for p in (files.find_file(folder, fs) for fs in sp.files) if p]
        size = sum(p.stat().st_size for p in found) or None
        state = f"{len(found)}/{len(sp.files)} files" if folder.is_dir() else "no such directory"
        row(source, folder, state, size, ready=len(found) == len(sp.files))

    named = settings.data_dir()
    if named:
        idx_row("$LABKIT_DATA", files.named_folders(Path(named).expanduser(), sp.name)[0])
    else:
        row("$LABKIT_DATA", "-", "not set")
    npz, meta = files.npz_paths(sp.name)
    built = npz.is_file() and meta.is_file()
    row("cache .npz", npz, "built (checked on load)" if built else "not built yet",
        npz.stat().st_size if npz.is_file() else None, ready=built)
    idx_row("cache IDX", npz.parent)
    for base in registry.SYSTEM_DIRS:
        idx_row("system copy", base / sp.name)
    row("download", " ".join(mirror_urls(sp)),
        "off ($LABKIT_OFFLINE)" if settings.offline() else "on demand (needs the network)")
    if sp.sample is not None:
        try:
            path = sample_path(sp.sample)
            row("sample", path, f"available: {sp.sample.what}", path.stat().st_size, ready=True)
        except SourceFailed as err:
            row("sample", "-", f"unavailable: {err}")
    return rows


def cache_report() -> list[dict]:
    """Rows ``{dataset, source, where, state, bytes, ready}`` for every dataset, in load order."""
    return [r for sp in DATASETS.values() for r in _survey(sp)]


def status_text(name: str) -> str:
    """Where ``load(name)`` would find the data now, one line per source (downloads nothing)."""
    sp = spec(name)
    rows = _survey(sp)
    lines = [f"{sp.name} ({sp.title}):"]
    for r in rows:
        size = tables.megabytes(r["bytes"])
        lines.append(f"  {r['source']:13s} {r['state']}{size}  {r['where']}")
    first = next((r for r in rows if r["ready"]), None)
    if first is None:
        guess = "nothing local: load() needs the network"
    elif first["source"] == "sample" and not any(r["source"] == "download" and r["state"].startswith(
            "off") for r in rows):
        guess = "a download if the network works, else the sample"
    else:
        guess = f"{first['source']} {first['where']}"
    lines.append(f"  -> load() would use: {guess}")
    return "\n".join(lines)
