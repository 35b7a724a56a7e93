"""``load``: the sources of a dataset, tried in order, and the message when none works.

The order is the one the package docstring gives: a folder you name, the cache, system
copies, a download from the mirrors, the MNIST sample. Each source is a small function that
gives the four arrays or raises :class:`SourceFailed` saying why; ``load`` collects the
reasons and, when every source fails, puts them all in one :class:`DataError`.
"""
from __future__ import annotations

import importlib.util
import os
import urllib.parse
import warnings
from pathlib import Path

import numpy as np

from labkit import settings
from labkit.data import files, registry
from labkit.data.arrays import stratified_indices
from labkit.data.registry import (ROLES, DataError, Dataset, DatasetSpec, LabkitDataWarning, SampleSpec,
                                  SourceFailed, spec)

# ---- mirrors and the download ------------------------------------------------------------

def mirror_urls(sp: DatasetSpec, mirrors=None) -> tuple[str, ...]:
    """The base URLs to download ``sp`` from: ``mirrors``, else ``$LABKIT_MIRRORS``, else its own."""
    if mirrors is None:
        mirrors = settings.mirrors()
    chosen = sp.mirrors if mirrors is None else tuple(mirrors)
    return tuple(m.replace("{name}", sp.name).rstrip("/") + "/" for m in chosen)


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if "does not match the known hash" in text:
        return "checksum mismatch, file rejected (" + text.split(". ")[0].split(": ", 1)[-1] + ")"
    for marker in ("[Errno", "Failed to resolve", "Read timed out", "404", "403"):
        if marker in text:
            text = text[text.index(marker):]
            break
    return f"{type(err).__name__}: {text[:160].rstrip(chr(39) + chr(34) + ')')}"


#: Hosts whose names did not resolve in this process (no network): not asked again, so an
#: offline session does not retry every mirror on every load. Restart Python to retry.
_UNRESOLVED: set[str] = set()


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or url


def _did_not_resolve(err: BaseException) -> bool:
    text = str(err)
    return any(m in text for m in ("Failed to resolve", "NameResolutionError", "Name or service not known",
                                   "Temporary failure in name resolution", "nodename nor servname"))


def _download(sp: DatasetSpec, mirrors: tuple[str, ...], progress: bool) -> dict[str, np.ndarray]:
    """Fetch the missing or bad files into the cache, each from the first mirror that works."""
    import pooch  # imports requests: only when a download is needed
    import requests

    folder = files.cache_folder(sp.name)
    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=(15, 120))
    problems, alive = [], [m for m in mirrors if _host(m) not in _UNRESOLVED]
    skipped = [f"{m}: its host did not resolve earlier in this process (no network?); restart "
               "Python to try it again" for m in mirrors if _host(m) in _UNRESOLVED]
    for fs in sp.files:
        target = folder / fs.filename
        if target.is_file():
            try:
                files.read_idx_file(target, fs, len(sp.classes))
                continue
            except SourceFailed as err:
                files.set_aside(target, str(err))
        errors = []
        for base in list(alive):
            try:
                pooch.retrieve(base + fs.filename, known_hash=f"sha256:{fs.sha256}", fname=fs.filename,
                               path=folder, downloader=downloader, progressbar=progress)
                break
            except Exception as err:  # noqa: BLE001 - every failure is reported, none hidden
                errors.append(f"{base + fs.filename}: {_short(err)}")
                if isinstance(err, (requests.ConnectionError, requests.Timeout)):
                    alive.remove(base)  # unreachable: do not wait for it again for the next file
                    if _did_not_resolve(err):
                        _UNRESOLVED.add(_host(base))
        else:
            why = "; ".join(skipped + errors) or "skipped, no mirror reachable"
            problems.append(f"{fs.filename}: {why}")
    if problems:
        raise SourceFailed("\n       ".join(problems))
    return files.read_folder(sp, folder, owned=True)


# ---- the MNIST sample ----------------------------------------------------------------------

def sample_path(sample: SampleSpec) -> Path:
    """Where the installed package keeps the sample file; :class:`SourceFailed` if it does not."""
    found = importlib.util.find_spec(sample.package)  # finds the package without importing it
    if found is None or not found.submodule_search_locations:
        raise SourceFailed(f"the Python package {sample.package} is not installed")
    path = Path(list(found.submodule_search_locations)[0]) / sample.resource
    if not path.is_file():
        raise SourceFailed(f"{path} is missing from the installed {sample.package}")
    return path


def _load_sample(sp: DatasetSpec) -> tuple[dict[str, np.ndarray], str]:
    sample = sp.sample
    path = sample_path(sample)
    if files.sha256_file(path) != sample.sha256:
        raise SourceFailed(f"{path}: checksum mismatch (not the file this labkit knows)")
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1 or table[:, :-1].max() > 255:
        raise SourceFailed(f"{path}: expected rows of 784 pixels and a label, got shape {table.shape}")
    images, labels = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), table[:, -1]
    rng = np.random.default_rng(0)
    test = stratified_indices(labels, sample.n_test, rng)
    train = rng.permutation(np.setdiff1d(np.arange(len(labels)), test))
    test = rng.permutation(test)
    arrays = dict(zip(ROLES, (images[train], labels[train], images[test], labels[test])))
    return arrays, (f"SAMPLE: {sample.what} ({path}), split {len(train):,} train / "
                    f"{len(test):,} test with seed 0; NOT the full dataset")


# ---- the chain of sources, and load --------------------------------------------------------

def _fail(why: str):
    raise SourceFailed(why)


def _sources(sp: DatasetSpec, data_dir, urls, download: bool, progress: bool, sample: bool):
    """``(label, kind, fetch)`` in load order; ``fetch()`` gives ``(arrays, source)`` or raises."""
    if data_dir is not None:
        how, named = "data_dir argument", data_dir
    else:
        how, named = "$LABKIT_DATA", settings.data_dir()
    if named:
        for folder in files.named_folders(Path(named).expanduser(), sp.name):
            yield (f"{how}: {folder}", "named",
                   lambda f=folder: (files.read_folder(sp, f, owned=False), f"directory {f} ({how})"))
    else:
        yield "data_dir / $LABKIT_DATA", "named", lambda: _fail("not given")
    yield "cache (.npz)", "npz", lambda: files.read_npz(sp)
    cache = files.cache_folder(sp.name)
    yield (f"cache: {cache}", "files",
           lambda: (files.read_folder(sp, cache, owned=True), f"cache {cache} (IDX files)"))
    debian = f" (Debian package {sp.system_package})" if sp.system_package else ""
    for base in registry.SYSTEM_DIRS:
        yield (f"system copy: {base / sp.name}", "files",
               lambda f=base / sp.name: (files.read_folder(sp, f, owned=False), f"system copy {f}{debian}"))
    yield ("download: " + ", ".join(urls), "files",
           (lambda: (_download(sp, urls, progress), f"downloaded from {', '.join(urls)} into {cache}"))
           if download else lambda: _fail("skipped (download=False or $LABKIT_OFFLINE)"))
    if sp.sample is not None:
        yield (f"sample: {sp.sample.what}", "sample",
               (lambda: _load_sample(sp)) if sample else lambda: _fail("refused (sample=False)"))


def load(name: str, data_dir: str | os.PathLike | None = None, *, mirrors=None,
         download: bool | None = None, progress: bool = True, sample: bool = True) -> Dataset:
    """Load dataset ``name`` from the first source that works (see the package docstring).

    ``mirrors`` replaces the download mirrors (``$LABKIT_MIRRORS`` likewise: base URLs, may
    contain ``{name}``). ``download=False`` (or ``$LABKIT_OFFLINE=1``) skips the network;
    ``sample=False`` refuses the MNIST sample. Raises :class:`DataError` listing every
    source tried when none works.
    """
    sp = spec(name)
    urls = mirror_urls(sp, mirrors)
    download = not settings.offline() if download is None else download
    named = data_dir is not None or settings.data_dir() is not None
    tried: list[tuple[str, str, str]] = []
    for label, kind, fetch in _sources(sp, data_dir, urls, download, progress, sample):
        try:
            arrays, source = fetch()
        except (SourceFailed, OSError) as err:
            why = str(err) if isinstance(err, SourceFailed) else f"{type(err).__name__}: {err}"
            tried.append((label, why, kind))
            continue
        if named and kind != "named":
            problems = "; ".join(why for _, why, k in tried if k == "named")
            warnings.warn(f"{sp.name}: the folder you named did not work ({problems}); using {source}",
                          LabkitDataWarning, stacklevel=2)
        if kind in ("named", "files"):
            try:
                files.write_npz(sp, arrays, source)
            except OSError as err:
                warnings.warn(f"could not write the .npz cache ({err}); the next load will be slow too",
                              LabkitDataWarning, stacklevel=2)
        if kind == "sample":
            warnings.warn(
                f"{sp.name}: using {sp.sample.what}, NOT the full {sp.title} "
                f"({sp.files[0].shape[0]:,} + {sp.files[2].shape[0]:,} images); accuracies are not "
                f"comparable with published ones. For the full set, connect to the internet and run "
                f"load({sp.name!r}) again, or put the four files from {sp.homepage} in a folder and "
                f"set LABKIT_DATA to it.", LabkitDataWarning, stacklevel=2)
        return Dataset(sp.name, sp.classes, *(arrays[r] for r in ROLES), source, kind == "sample")
    raise DataError(_failure_message(sp, tried, urls))


def _failure_message(sp: DatasetSpec, tried: list[tuple[str, str, str]], urls) -> str:
    lines = [f"could not load {sp.name} ({sp.title}). Tried, in order:"]
    lines += [f"  {i}. {label}\n       {why}" for i, (label, why, _) in enumerate(tried, 1)]
    lines += ["How to fix it (any one):",
              f"  - connect to the internet and run again: labkit downloads the files into "
              f"{files.cache_folder(sp.name)} (mirrors: {' '.join(urls)}; $LABKIT_MIRRORS replaces them)",
              f"  - fetch {', '.join(fs.filename for fs in sp.files)} from {sp.homepage}, put them "
              f"in a folder and pass load({sp.name!r}, data_dir=FOLDER) or set LABKIT_DATA=FOLDER"]
    if sp.system_package:
        lines.append(f"  - on Debian/Ubuntu: sudo apt-get install {sp.system_package} "
                     f"(or `make system-deps`)")
    return "\n".join(lines)
