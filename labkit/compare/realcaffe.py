"""Real BVLC Caffe as a row of the comparison: chapter 20's network, run by pycaffe.

Chapter 20 writes LeNet once, as the review's Figure 1 (a ``NetSpec`` function tagged
``lenet``), and runs it on ``labkit.caffe``. This row takes that same function from the
chapter's cells, writes its net with Input layers in place of the Data layer, and hands it
to real Caffe (``labkit.caffe.real``; ``make caffe`` builds it). ``contract(namespace)``
returns the six functions of ``labkit.chapters.CONTRACT`` for it:

* ``predict_logits`` reshapes the input blob to the batch and runs the net up to ``score``;
* ``make_train_step`` builds Caffe's own C++ ``SGDSolver`` from the Recipe (momentum, weight
  decay, the ``inv`` policy) and steps it once per call on the batch it is given, copied
  into the Input blobs. Caffe computes the learning rate itself, so each step checks that
  its rate is the one the caller asks for, and that the label blob it trained on holds the
  caller's labels: the same batches in the same order as every other row, checked.

Real Caffe must not share a process with TensorFlow (``labkit.compat``); the comparison
runs each row in a child process of its own, so it never does. Nothing here imports Caffe
until a function is called.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np


class CaffeLeNet:
    """A pycaffe Net and, once training starts, the SGDSolver that owns it (kept alive here)."""

    def __init__(self, net, folder: Path, net_file: Path):
        self.net, self.folder, self.net_file, self.solver = net, folder, net_file, None


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

    def make_train_step(model, recipe):
        caffe = real.import_caffe()
        solver_file = model.folder / "lenet_solver.prototxt"
        solver_file.write_text(
            f'net: "{model.net_file}"\nbase_lr: {recipe.base_lr!r}\nmomentum: {recipe.momentum!r}\n'
            f'weight_decay: {recipe.weight_decay!r}\nlr_policy: "inv"\ngamma: {recipe.gamma!r}\n'
            f'power: {recipe.power!r}\nmax_iter: 100000000\ndisplay: 0\nsnapshot: 0\n'
            f'snapshot_prefix: "{model.folder / "snap"}"\nrandom_seed: {recipe.seed}\nsolver_mode: CPU\n')
        real.check_solver_file(solver_file)
        weights = real.get_weights(model.net)
        model.solver = caffe.SGDSolver(str(solver_file))
        model.net = model.solver.net             # from here on the solver's net is the model
        real.set_weights(model.net, weights)

        def step(x_nchw, y, lr):
            solver, net = model.solver, model.net
            want = recipe.base_lr * (1.0 + recipe.gamma * solver.iter) ** (-recipe.power)
            if not math.isclose(lr, want, rel_tol=1e-6):
                raise ValueError(f"real Caffe's solver sets the learning rate itself ({want:.6g} at iteration "
                                 f"{solver.iter}, the Recipe's inv policy); the caller asked for {lr:.6g}. "
                                 "Call the step once per iteration with recipe.lr_at(iteration).")
            _feed(net, x_nchw, y)
            solver.step(1)                   # Caffe's forward, backward and SGD update, in C++
            if not np.array_equal(net.blobs["label"].data, np.asarray(y, np.float32)):
                raise AssertionError("real Caffe trained on other labels than it was given")
            return float(net.blobs["loss"].data)

        return step

    return {"build_lenet": build_lenet, "load_canonical": load_canonical, "export_canonical": export_canonical,
            "predict_logits": predict_logits, "sgd_step": sgd_step, "make_train_step": make_train_step}
