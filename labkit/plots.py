"""The figures every chapter draws: sample images, class balance, confusion matrix, mistakes, curves.

Each function returns a matplotlib ``Figure``. The figure is detached from pyplot before
it is returned, so a notebook cell that ends with the call shows it exactly once, and
figures do not pile up in pyplot's list. Nothing here changes matplotlib's settings.

Images may be (N, H, W), (N, H, W, C) or (N, C, H, W) with C in {1, 3}; values in 0..1,
0..255 or standardised (each image is shown with its own range).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _figure(width: float, height: float):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width, height))
    plt.close(fig)                       # ours, not pyplot's: shown once, when returned
    return fig


def _as_hwc(images) -> np.ndarray:
    """(N, H, W, C) or (N, H, W); a channels-first batch is transposed, not reshaped."""
    x = np.asarray(images)
    if x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(0, 2, 3, 1)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (3, 4):
        raise ValueError(f"expected a batch of images (N, H, W[, C]) or (N, C, H, W), got shape {x.shape}")
    return x


def _name(label, classes: Sequence[str] | None) -> str:
    i = int(label)
    return str(classes[i]) if classes is not None and 0 <= i < len(classes) else str(i)


def _grid(images: np.ndarray, titles: list[str], cols: int | None, title: str | None,
          colors: list[str] | None = None):
    n = len(images)
    cols = cols or min(n, 8)
    rows = -(-n // cols)
    fig = _figure(1.3 * cols, 1.45 * rows + (0.4 if title else 0))
    for i in range(rows * cols):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.axis("off")
        if i >= n:
            continue
        img = images[i].astype(np.float64)
        lo, hi = float(img.min()), float(img.max())
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(titles[i], fontsize=8, color=colors[i] if colors else "black")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def sample_grid(images, labels=None, classes: Sequence[str] | None = None, *, n: int = 16,
                seed: int | None = 0, cols: int | None = None, title: str | None = None):
    """``n`` images picked at random (``seed``), each titled with its class name."""
    x = _as_hwc(images)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(x), size=min(n, len(x)), replace=False))
    titles = [_name(labels[i], classes) for i in idx] if labels is not None else [str(i) for i in idx]
    return _grid(x[idx], titles, cols, title)


def class_balance(labels, classes: Sequence[str] | None = None, *, title: str | None = None):
    """A bar chart of how many examples each class has."""
    labels = np.asarray(labels).astype(np.int64).ravel()
    k = max(len(classes) if classes is not None else 0, int(labels.max()) + 1 if labels.size else 0)
    counts = np.bincount(labels, minlength=k)
    names = [_name(i, classes) for i in range(k)]
    fig = _figure(max(4.0, 0.6 * k), 3.0)
    ax = fig.add_subplot()
    bars = ax.bar(range(k), counts, color="tab:blue")
    ax.bar_label(bars, fontsize=7)
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names), default=0) > 3 else 0, ha="right")
    ax.set_ylabel("examples")
    ax.set_title(title or f"{labels.size:,} examples in {k} classes")
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Counts ``cm[i, j]`` of examples of true class ``i`` predicted as ``j`` (int64)."""
    t = np.asarray(y_true).astype(np.int64).ravel()
    p = np.asarray(y_pred).astype(np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}")
    if n_classes is None:
        n_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    bad = (t < 0) | (t >= n_classes) | (p < 0) | (p >= n_classes)
    if bad.any():
        found = np.unique(np.r_[t, p][np.r_[bad, bad]])
        raise ValueError(f"labels must be in 0..{n_classes - 1}; found {found}")
    return np.bincount(n_classes * t + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def plot_confusion(cm, classes: Sequence[str] | None = None, *, normalize: bool = False,
                   title: str | None = None):
    """The confusion matrix as a heat map: rows are true classes, columns predictions.

    ``normalize`` shows each row as fractions (recall per class on the diagonal).
    """
    cm = np.asarray(cm)
    k = cm.shape[0]
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    names = [_name(i, classes) for i in range(k)]
    fig = _figure(1.0 + 0.55 * k, 0.8 + 0.5 * k)
    ax = fig.add_subplot()
    im = ax.imshow(shown, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    top = shown.max() if shown.size else 0
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalize else f"{int(shown[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > top / 2 else "black")
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = cm.sum()
    acc = np.trace(cm) / total if total else float("nan")
    ax.set_title(title or f"accuracy {acc:.3f} on {int(total):,} examples")
    fig.tight_layout()
    return fig


def misclassified_grid(images, y_true, y_pred, classes: Sequence[str] | None = None, *,
                       n: int = 16, seed: int | None = 0, cols: int | None = None,
                       title: str | None = None):
    """Up to ``n`` images the model got wrong, titled 'true -> predicted'."""
    x = _as_hwc(images)
    t, p = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    wrong = np.flatnonzero(t != p)
    if wrong.size == 0:
        fig = _figure(4, 1)
        fig.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return fig
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(wrong, size=min(n, wrong.size), replace=False))
    titles = [f"{_name(t[i], classes)} -> {_name(p[i], classes)}" for i in idx]
    head = title or f"{wrong.size:,} of {t.size:,} misclassified (true -> predicted)"
    return _grid(x[idx], titles, cols, head, colors=["tab:red"] * len(idx))


def _history_dict(history: Any) -> dict:
    """A dict of lists from a LiveProgress, a Keras History, a dict, or a list of dicts."""
    h = getattr(history, "history", history)
    if isinstance(h, (list, tuple)):
        keys = list(dict.fromkeys(k for row in h for k in row))
        h = {k: [row.get(k, np.nan) for row in h] for k in keys}
    if not isinstance(h, dict):
        raise TypeError(f"loss_curve needs a dict of lists, a list of dicts, a LiveProgress or "
                        f"a Keras History, not {type(history).__name__}")
    return {k: np.asarray(v, dtype=np.float64) for k, v in h.items()}


def loss_curve(history, *, title: str | None = None, x: str | None = None):
    """Loss (left) and accuracy (right) against steps or epochs.

    Curves are every key containing 'loss', and every key containing 'acc'; the x axis is
    ``x`` if given, else 'step', else 'epoch', else the index. NaN points are skipped.
    """
    h = _history_dict(history)
    x = x or next((k for k in ("step", "epoch") if k in h), None)
    groups = [[k for k in h if "loss" in k and k != x], [k for k in h if "acc" in k and k != x]]
    groups = [g for g in groups if g]
    if not groups:
        raise ValueError(f"nothing to plot: no key with 'loss' or 'acc' in {list(h)}")
    from matplotlib.ticker import MaxNLocator

    fig = _figure(4.2 * len(groups), 3.0)
    for i, names in enumerate(groups):
        ax = fig.add_subplot(1, len(groups), i + 1)
        for name in names:
            y = h[name]
            xs = h[x] if x else np.arange(1, len(y) + 1)
            keep = ~np.isnan(y)
            ax.plot(xs[keep], y[keep], label=name, marker="o" if keep.sum() <= 30 else None, ms=3)
        ax.set_xlabel(x or "epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("loss" if "loss" in names[0] else "accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
