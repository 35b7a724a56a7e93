"""Real BVLC Caffe as a row of the comparison: chapter 20's network, run by pycaffe.

Chapter 20 writes LeNet once, as the review's Figure 1 (a ``NetSpec`` function tagged
``lenet``), and runs it on ``labkit.caffe``. This row takes that same function from the
chapter's cells, writes its net with Input layers in place of the Data layer, and hands it
to real Caffe (``labkit.caffe.real``; ``make caffe`` builds it). ``contract(namespace)``
returns the six functions of ``labkit.chapters.CONTRACT`` for it:

* ``predict_logits`` reshapes the input blob to the batch and runs the net up to ``score``;
* ``make_train_step`` builds Caffe's own C++ ``SGDSolver`` from the Recipe (momentum, weight
  decay, the ``inv`` policy) and steps it once per call. Caffe computes the learning rate
  itself, so each step checks that its rate is the one the caller asks for, and that the
  label blob it trained on holds the caller's labels (and the data blob the caller's images):
  the same batches in the same order as every other row, checked.

Where the batches come from. By default each step copies the batch it is given into the
Input blobs. The comparison's worker first calls a seventh function, ``read_batches(model,
images, labels, order, batch_size)``: it writes the training images in the shared order
(``worker.batch_order``) to an LMDB of Datum records (``labkit.caffe.db.write_lmdb``, as
``convert_mnist_data`` did), and the solver then trains Figure 1's net as printed, its Data
layer reading that LMDB (``scale: 1/255``), so Caffe reads its batches itself, as a Caffe user
trained. The Data layer reads the records in key order and does not shuffle; its prefetch
thread reads a few batches ahead but in the same order; past the last record it starts again
from the first. The per-step checks above say whether the order survived. Pixels reach the
net as ``uint8 x float32(1/255)`` where the other rows divide by 255: a difference of at most
one float32 rounding (checked within ``DATA_ATOL``). Prediction and export use an Input net
that shares the solver's weights (``Net.share_with``).

Real Caffe must not share a process with TensorFlow (``labkit.compat``); the comparison
runs each row in a child process of its own, so it never does. Nothing here imports Caffe
until a function is called.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np


#: How far the Data layer's pixels (uint8 times float32(1/255)) may be from the caller's (uint8 / 255).
DATA_ATOL = 1e-6


class CaffeLeNet:
    """A pycaffe Net and, once training starts, the SGDSolver that owns it (kept alive here);
    ``lmdb``: the database its Data layer reads, once ``read_batches`` wrote one."""

    def __init__(self, net, folder: Path, net_file: Path):
        self.net, self.folder, self.net_file, self.solver = net, folder, net_file, None
        self.lmdb, self.batch_size = None, None


def _fit(net, n: int) -> None:
    """Reshape the Input blobs to a batch of ``n`` when they hold another batch size."""
    if net.blobs["data"].data.shape[0] != n:
        net.blobs["data"].reshape(n, 1, 28, 28)
        net.blobs["label"].reshape(n)
        net.reshape()


def _feed(net, x, y=None) -> None:
    x = np.asarray(x, np.float32)
    _fit(net, len(x))
    net.blobs["data"].data[...] = x
    net.blobs["label"].data[...] = 0 if y is None else np.asarray(y)


def contract(namespace: dict) -> dict:
    """The six contract functions for real Caffe, from chapter 20's ``lenet`` cells."""
    from labkit.caffe import real

    style = namespace["caffe"]            # labkit.caffe, as the chapter imports it: writes the prototxt
    figure1 = namespace["lenet"]          # the review's Figure 1, the chapter's one copy of the net

    def build_lenet(batch_size=64):
        real.import_caffe()
        folder = Path(tempfile.mkdtemp(prefix="labkit-realcaffe-"))
        proto = style.with_inputs(figure1("(arrays)", batch_size),
                                  {"data": (batch_size, 1, 28, 28), "label": (batch_size,)})
        net_file = folder / "lenet_train.prototxt"
        style.write_net(proto, net_file)
        return CaffeLeNet(real.load_net(net_file, phase="train"), folder, net_file)

    def load_canonical(model, params):
        real.set_weights(model.net, params)
        return model

    def export_canonical(model):
        return real.get_weights(model.net)

    def predict_logits(model, x_nchw):
        _feed(model.net, x_nchw)
        return model.net.forward(end="score")["score"].copy()

    def sgd_step(model, x_nchw, y, lr):
        net = model.net
        _feed(net, x_nchw, y)
        net.clear_param_diffs()
        net.forward()
        net.backward()
        for blobs in net.params.values():
            for blob in blobs:
                blob.data[...] -= lr * blob.diff

    def read_batches(model, images, labels, order, batch_size):
        """Write ``images[order]`` (uint8, N x 28 x 28) and their labels to an LMDB in the model's
        folder, key by key in that order; ``make_train_step`` then trains from it."""
        from labkit.caffe.db import write_lmdb

        images, order = np.asarray(images), np.asarray(order, np.int64)
        if images.dtype != np.uint8 or images.shape[-2:] != (28, 28):
            raise ValueError(f"read_batches wants the raw uint8 training images (N, 28, 28), got {images.dtype} "
                             f"{images.shape}: pass the dataset's train_images, not the float32 ones")
        if len(order) == 0 or len(order) % batch_size:
            raise ValueError(f"the order holds {len(order)} indices, not a whole number of batches of {batch_size}")
        model.lmdb = write_lmdb(model.folder / "train_lmdb", images[order], np.asarray(labels)[order])
        model.batch_size = batch_size
        return model.lmdb

    def make_train_step(model, recipe):
        caffe = real.import_caffe()
        solver_file = model.folder / "lenet_solver.prototxt"
        train_file = model.net_file
        if model.lmdb is not None:                # Figure 1 as printed: its Data layer reads the LMDB
            if model.batch_size != recipe.batch_size:
                raise ValueError(f"the LMDB holds batches of {model.batch_size}, the Recipe trains batches of "
                                 f"{recipe.batch_size}: call read_batches with recipe.batch_size")
            train_file = style.write_net(figure1(str(model.lmdb), recipe.batch_size),
                                         model.folder / "lenet_train_lmdb.prototxt")
        solver_file.write_text(
            f'net: "{train_file}"\nbase_lr: {recipe.base_lr!r}\nmomentum: {recipe.momentum!r}\n'
            f'weight_decay: {recipe.weight_decay!r}\nlr_policy: "inv"\ngamma: {recipe.gamma!r}\n'
            f'power: {recipe.power!r}\nmax_iter: 100000000\ndisplay: 0\nsnapshot: 0\n'
            f'snapshot_prefix: "{model.folder / "snap"}"\nrandom_seed: {recipe.seed}\nsolver_mode: CPU\n')
        real.check_solver_file(solver_file)
        weights = real.get_weights(model.net)
        model.solver = caffe.SGDSolver(str(solver_file))
        if model.lmdb is None:
            model.net = model.solver.net         # from here on the solver's net is the model
        else:
            model.net.share_with(model.solver.net)   # the Input net predicts with the solver's weights
        real.set_weights(model.solver.net, weights)
        from_lmdb = model.lmdb is not None

        def step(x_nchw, y, lr):
            solver, net = model.solver, model.solver.net
            want = recipe.base_lr * (1.0 + recipe.gamma * solver.iter) ** (-recipe.power)
            if not math.isclose(lr, want, rel_tol=1e-6):
                raise ValueError(f"real Caffe's solver sets the learning rate itself ({want:.6g} at iteration "
                                 f"{solver.iter}, the Recipe's inv policy); the caller asked for {lr:.6g}. "
                                 "Call the step once per iteration with recipe.lr_at(iteration).")
            if not from_lmdb:
                _feed(net, x_nchw, y)
            solver.step(1)                   # Caffe's forward, backward and SGD update, in C++
            if not np.array_equal(net.blobs["label"].data, np.asarray(y, np.float32)):
                raise AssertionError(f"real Caffe trained on other labels than it was given at iteration "
                                     f"{solver.iter - 1}" + (" (read from the LMDB)" if from_lmdb else ""))
            if from_lmdb:
                gap = float(np.abs(net.blobs["data"].data - np.asarray(x_nchw, np.float32)).max())
                if not gap <= DATA_ATOL:
                    raise AssertionError(f"real Caffe's Data layer read other images than the caller's at iteration "
                                         f"{solver.iter - 1}: pixels differ by {gap:.3g} (> {DATA_ATOL:g})")
            return float(net.blobs["loss"].data)

        return step

    return {"build_lenet": build_lenet, "load_canonical": load_canonical, "export_canonical": export_canonical,
            "predict_logits": predict_logits, "sgd_step": sgd_step, "make_train_step": make_train_step,
            "read_batches": read_batches}
