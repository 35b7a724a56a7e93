"""labkit.plots: the confusion matrix against a hand count, and what each figure draws."""
from __future__ import annotations

import math

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from labkit import plots  # noqa: E402
from labkit.plots import (class_balance, confusion_matrix, loss_curve, misclassified_grid,  # noqa: E402
                          plot_confusion, sample_grid)

CLASSES = ["zero", "one", "two"]


@pytest.fixture(autouse=True)
def no_side_effects():
    """No figure is left in pyplot, and no global setting changes."""
    import matplotlib.pyplot as plt

    before = dict(matplotlib.rcParams)
    yield
    assert plt.get_fignums() == []
    assert dict(matplotlib.rcParams) == before


def test_confusion_matrix_by_hand():
    y_true = [0, 0, 1, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0, 2]
    expected = np.array([[1, 1, 0],
                         [0, 2, 0],
                         [1, 0, 2]])
    cm = confusion_matrix(y_true, y_pred)
    assert cm.dtype == np.int64 and (cm == expected).all()
    assert (confusion_matrix(np.array(y_true), np.array(y_pred), n_classes=4)[:3, :3] == expected).all()
    assert confusion_matrix(y_true, y_pred, n_classes=4)[3].sum() == 0
    assert confusion_matrix([], [], n_classes=2).tolist() == [[0, 0], [0, 0]]


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="3 labels but y_pred has 2"):
        confusion_matrix([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="0..1"):
        confusion_matrix([0, 2], [0, 1], n_classes=2)


def _images(n=12, h=6, w=5):
    rng = np.random.default_rng(0)
    return rng.random((n, h, w)), np.arange(n) % 3


def test_sample_grid_titles_and_seed():
    x, y = _images()
    fig = sample_grid(x, y, CLASSES, n=6, seed=1)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6
    titles = [ax.get_title() for ax in shown]
    assert set(titles) <= set(CLASSES)
    again = [ax.get_title() for ax in sample_grid(x, y, CLASSES, n=6, seed=1).axes if ax.images]
    assert titles == again
    assert len([ax for ax in sample_grid(x, y, n=50).axes if ax.images]) == 12   # n > N: all of them


def test_sample_grid_channels_first_is_transposed_not_reshaped():
    # Channel c of image i is constant c, so a correct conversion keeps pixel [r, k] = (0, 1, 2).
    x = np.zeros((4, 3, 7, 5))
    x[:, 1], x[:, 2] = 1.0, 2.0
    x[:, :, 0, 0] += 0.5                  # mark the top-left pixel
    fig = sample_grid(x, [0, 1, 2, 0], CLASSES, n=4)
    img = np.asarray(fig.axes[0].images[0].get_array())
    assert img.shape == (7, 5, 3)
    lo, hi = x[0].min(), x[0].max()
    expected = (x[0].transpose(1, 2, 0) - lo) / (hi - lo)
    assert np.allclose(img, expected)
    gray = sample_grid(np.ones((2, 1, 4, 4)), n=2)      # (N, 1, H, W) becomes (N, H, W)
    assert np.asarray(gray.axes[0].images[0].get_array()).shape == (4, 4)
    with pytest.raises(ValueError, match="batch of images"):
        sample_grid(np.ones((4, 4)))


def test_class_balance_bars_are_the_counts():
    labels = [0, 0, 0, 1, 2, 2]
    fig = class_balance(labels, CLASSES)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [3, 1, 2]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == CLASSES
    assert "6 examples in 3 classes" in fig.axes[0].get_title()


def test_plot_confusion_writes_every_count():
    cm = confusion_matrix([0, 0, 1, 1, 2, 2, 2], [0, 1, 1, 1, 2, 0, 2])
    fig = plot_confusion(cm, CLASSES)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == [str(v) for v in cm.ravel()]
    assert "accuracy 0.714 on 7 examples" in ax.get_title()
    normed = plot_confusion(cm, CLASSES, normalize=True).axes[0]
    assert [t.get_text() for t in normed.texts][:3] == ["0.50", "0.50", "0.00"]


def test_misclassified_grid_shows_only_mistakes():
    x, y = _images(6)
    pred = y.copy()
    pred[[1, 4]] = (y[[1, 4]] + 1) % 3
    fig = misclassified_grid(x, y, pred, CLASSES, n=10)
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == [f"{CLASSES[y[i]]} -> {CLASSES[pred[i]]}" for i in (1, 4)]
    assert "2 of 6 misclassified" in fig._suptitle.get_text()
    none = misclassified_grid(x, y, y, CLASSES)
    assert "no misclassified images" in none.texts[0].get_text()


def _ydata(fig, label):
    return [list(line.get_ydata()) for ax in fig.axes for line in ax.lines if line.get_label() == label][0]


def test_loss_curve_accepts_the_histories_chapters_have():
    from labkit.timing import LiveProgress

    live = LiveProgress(4, mode="off")
    for i in range(4):
        live.update(loss=1.0 / (i + 1), acc=None if i == 1 else i / 4)
    fig = loss_curve(live)
    assert len(fig.axes) == 2
    assert _ydata(fig, "loss") == [1.0, 0.5, 1 / 3, 0.25]
    assert _ydata(fig, "acc") == [0.0, 0.5, 0.75]               # the NaN step is skipped
    assert fig.axes[0].get_xlabel() == "step"

    class KerasLikeHistory:                                      # what keras' fit() returns
        history = {"loss": [0.9, 0.5], "accuracy": [0.6, 0.8], "val_loss": [1.0, 0.7],
                   "val_accuracy": [0.5, 0.7]}

    fig = loss_curve(KerasLikeHistory())
    labels = sorted(line.get_label() for ax in fig.axes for line in ax.lines)
    assert labels == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert fig.axes[0].get_xlabel() == "epoch"

    fig = loss_curve([{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0}])   # a list of dicts
    assert len(fig.axes) == 1 and _ydata(fig, "loss") == [2.0, 1.0]
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 2]
    with pytest.raises(ValueError, match="nothing to plot"):
        loss_curve({"step": [1, 2], "time": [0.1, 0.2]})
    with pytest.raises(TypeError):
        loss_curve(3.0)


def test_figures_are_figures():
    from matplotlib.figure import Figure

    x, y = _images()
    cm = confusion_matrix(y, y)
    for fig in (sample_grid(x, y, CLASSES), class_balance(y, CLASSES), plot_confusion(cm),
                misclassified_grid(x, y, (y + 1) % 3, CLASSES), loss_curve({"loss": [1.0, math.nan]})):
        assert isinstance(fig, Figure)
    assert plots.__name__ == "labkit.plots"
