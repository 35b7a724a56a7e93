"""labkit.compare.realcaffe: real Caffe's row trains from an LMDB its Data layer reads, in the
order the comparison's worker gives, and says so when a batch is not the one it was told.

Real Caffe (``make caffe``) runs in this process, which loads no TensorFlow (they crash
together); without Caffe these tests skip, under CI they fail (as in test_caffe_real.py).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from labkit import chapters, lenet

pytestmark = [pytest.mark.timeout(300), pytest.mark.caffe_real, pytest.mark.slow]
STEPS, BATCH = 6, 64


@pytest.fixture(scope="module")
def row():
    """The real-Caffe row's functions, from chapter 20's cells, and a small shared order."""
    from labkit.caffe import real
    from labkit.compare import realcaffe, worker

    why = real.why_unavailable()
    if why:
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI builds real Caffe, so it must import here: {why}")
        pytest.skip(why)
    ds, _ = lenet.dataset(quick=True)
    recipe = lenet.FULL
    order = np.concatenate([b for _, b in zip(range(STEPS), worker.shared_batches(len(ds.train_images),
                                                                                    BATCH, recipe.seed))])
    return realcaffe.contract(chapters.load(chapters.notebook_for("caffe"))), ds, order, recipe


def _train(fns, ds, order, recipe, lmdb: bool, labels=None):
    from labkit import data

    x_all = data.to_float32(ds.train_images)[:, None]
    labels = ds.train_labels if labels is None else labels
    model = fns["load_canonical"](fns["build_lenet"](), lenet.initial_weights())
    if lmdb:
        fns["read_batches"](model, ds.train_images, labels, order, BATCH)
    step = fns["make_train_step"](model, recipe)
    losses = []
    for i in range(len(order) // BATCH):
        idx = order[i * BATCH:(i + 1) * BATCH]
        losses.append(step(x_all[idx], ds.train_labels[idx].astype(np.int64), recipe.lr_at(i)))
    return model, losses, fns["export_canonical"](model)


def test_the_data_layer_reads_the_lmdb_in_the_shared_order(row):
    """Figure 1's own Data layer, reading the LMDB, trains as the Input-fed net does: same
    losses, same weights (within one float32 rounding of the pixels); and its batches are
    checked against the caller's at every step (labels exactly, pixels within DATA_ATOL)."""
    from labkit.compare import realcaffe

    fns, ds, order, recipe = row
    model, from_db, w_db = _train(fns, ds, order, recipe, lmdb=True)
    assert (model.lmdb / "data.mdb").exists()
    text = (model.folder / "lenet_train_lmdb.prototxt").read_text()
    assert 'type: "Data"' in text and str(model.lmdb) in text          # Figure 1 as printed, reading the LMDB
    _, fed, w_fed = _train(fns, ds, order, recipe, lmdb=False)
    assert np.allclose(from_db, fed, rtol=0, atol=1e-5), (from_db, fed)
    assert max(lenet.max_abs_diff(w_db[k], w_fed[k]) for k in w_db) <= lenet.STEP_ATOL
    x = np.asarray(np.random.default_rng(0).random((4, 1, 28, 28)), np.float32)
    assert np.allclose(fns["predict_logits"](model, x), lenet.forward(w_db, x), atol=lenet.LOGITS_ATOL)
    assert realcaffe.DATA_ATOL < 1 / 255 / 2                            # finer than one grey level


def test_a_batch_out_of_order_is_caught(row):
    """The LMDB written with other labels than the caller then feeds: the first step says so."""
    fns, ds, order, recipe = row
    shifted = np.roll(ds.train_labels, 1)
    with pytest.raises(AssertionError, match="other labels than it was given at iteration 0 .read from the LMDB"):
        _train(fns, ds, order, recipe, lmdb=True, labels=shifted)


def test_read_batches_refuses_what_it_cannot_write(row):
    fns, ds, order, _ = row
    model = fns["build_lenet"]()
    with pytest.raises(ValueError, match="raw uint8 training images"):
        fns["read_batches"](model, ds.train_images.astype(np.float32), ds.train_labels, order, BATCH)
    with pytest.raises(ValueError, match="not a whole number of batches of 64"):
        fns["read_batches"](model, ds.train_images, ds.train_labels, order[:100], BATCH)
