"""Helpers for the chapters: pixels as float32, the channel axis, minibatches, seeded splits.

Every split and subset is stratified (each class keeps its share) and fixed by a seed, so
that the chapters train on the same samples in the same order whatever the toolkit.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterator

import numpy as np

from labkit.data.registry import Dataset


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


def stratified_indices(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
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
    val = stratified_indices(np.asarray(labels), int(val_size), np.random.default_rng(seed))
    train = np.setdiff1d(np.arange(n), val)
    return (images[train], labels[train]), (images[val], labels[val])


def epoch_order(n: int, *, seed: int = 0, epoch: int = 0) -> np.ndarray:
    """The order ``batches`` visits ``n`` samples in for ``(seed, epoch)``: one seeded permutation
    of ``range(n)``, fresh for each epoch. Whatever trains "in the chapters' order" draws it here."""
    return np.random.default_rng([seed, epoch]).permutation(n)


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
    order = epoch_order(n, seed=seed, epoch=epoch) if shuffle else None

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
    train = stratified_indices(ds.train_labels, min(n_train, len(ds.train_labels)), rng)
    n_test = len(ds.test_labels) if n_test is None else min(n_test, len(ds.test_labels))
    test = stratified_indices(ds.test_labels, n_test, rng)
    return replace(ds, train_images=ds.train_images[train], train_labels=ds.train_labels[train],
                   test_images=ds.test_images[test], test_labels=ds.test_labels[test],
                   source=f"{ds.source} [subset {len(train):,}/{len(test):,}, seed {seed}]")
