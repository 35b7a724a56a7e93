"""Caffe's data: an LMDB database of ``Datum`` records, written as Caffe's MNIST example did.

Caffe's ``convert_mnist_data`` tool turned the MNIST IDX files into an LMDB directory
(``mnist_train_lmdb``) with one record per image: key ``%08d`` of the image's index, value a
serialized Datum (channels 1, height 28, width 28, the 784 pixel bytes, the label).
:func:`convert_mnist` writes the same records from arrays; :func:`read_lmdb` reads any LMDB
of raw (not encoded) Datums back into arrays, as the Data layer does.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from labkit.caffe import caffe_pb2

_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def write_lmdb(path, images: np.ndarray, labels: np.ndarray, commit_every: int = 1000) -> Path:
    """Write ``images`` (N, H, W) or (N, C, H, W), uint8, and integer ``labels`` as an LMDB
    of Datum records keyed ``00000000``, ``00000001``, ... Any database already at ``path``
    is replaced."""
    import lmdb

    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"Datum records hold bytes: give uint8 images, not {images.dtype}")
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or len(images) != len(labels):
        raise ValueError(f"images (N, H, W) or (N, C, H, W) and N labels; got {images.shape} and {len(labels)} labels")
    path = Path(path)
    if path.exists():
        for f in path.iterdir():
            f.unlink()
    path.mkdir(parents=True, exist_ok=True)
    n, c, h, w = images.shape
    map_size = max(1 << 24, 2 * n * (c * h * w + 64) + (1 << 20))
    env = lmdb.open(str(path), map_size=map_size)
    datum = caffe_pb2.Datum(channels=c, height=h, width=w)
    try:
        txn = env.begin(write=True)
        for i in range(n):
            datum.data = images[i].tobytes()
            datum.label = int(labels[i])
            txn.put(b"%08d" % i, datum.SerializeToString())
            if (i + 1) % commit_every == 0:
                txn.commit()
                txn = env.begin(write=True)
        txn.commit()
    finally:
        env.close()
    return path


def convert_mnist(images: np.ndarray, labels: np.ndarray, path) -> Path:
    """Caffe's ``convert_mnist_data``: MNIST images (N, 28, 28) uint8 and labels -> an LMDB
    at ``path`` (a directory, e.g. ``mnist_train_lmdb``)."""
    return write_lmdb(path, images, labels)


def read_lmdb(path, cached: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """All records of an LMDB of Datums, in key order: images (N, C, H, W) uint8 (or float32
    for ``float_data`` records) and labels (N,) int64. ``cached=True`` reuses an earlier read
    of the same, unchanged database."""
    import lmdb

    path = Path(path)
    if not (path / "data.mdb").exists():
        raise FileNotFoundError(f"no LMDB at {path} (a directory with data.mdb); write one with "
                                "labkit.caffe.convert_mnist(images, labels, path)")
    key = (str(path.resolve()), os.stat(path / "data.mdb").st_mtime_ns)
    if cached and key in _CACHE:
        return _CACHE[key]
    env = lmdb.open(str(path), readonly=True, lock=False)
    images, labels, shape = [], [], None
    datum = caffe_pb2.Datum()
    try:
        with env.begin() as txn:
            for k, value in txn.cursor():
                datum.ParseFromString(value)
                if datum.encoded:
                    raise ValueError(f"{path}: record {k!r} holds an encoded image; only raw Datums are supported")
                shape = (datum.channels, datum.height, datum.width)
                images.append(datum.data if datum.data else np.asarray(datum.float_data, np.float32).tobytes())
                labels.append(datum.label)
    finally:
        env.close()
    if not images:
        raise ValueError(f"{path}: the database is empty")
    dtype = np.uint8 if len(images[0]) == int(np.prod(shape)) else np.float32
    x = np.frombuffer(b"".join(images), dtype).reshape((len(images),) + shape)
    out = (x, np.asarray(labels, np.int64))
    if cached:
        while len(_CACHE) >= 4:                # a few databases' worth of memory at most
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = out
    return out


def resolve_source(source: str, root=None) -> Path:
    """A Data layer's ``source``: as given (absolute, or relative to the working directory as
    Caffe reads it), else relative to ``root`` (the directory of the prototxt)."""
    path = Path(source)
    if path.exists() or path.is_absolute() or root is None:
        return path
    alt = Path(root) / path
    return alt if alt.exists() else path
