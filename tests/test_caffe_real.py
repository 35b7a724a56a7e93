"""Real BVLC Caffe (pycaffe, built by `make caffe`), end to end.

The review's Figure 1 (pycaffe's NetSpec LeNet reading an LMDB of Caffe Datums) builds a
training net; Caffe's SGD solver trains it for a few iterations; `net.save` writes a
caffemodel; OpenCV's dnn module, an independent reader of Caffe's formats, loads it with a
deploy prototxt and must give pycaffe's outputs. From the shared initial weights, real Caffe
must also give the NumPy reference's probe logits.

Real Caffe is optional for readers: without it these tests skip. Under CI (CI=true), where
`.ci/run` builds it, they fail instead, so a broken build cannot pass unnoticed.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from labkit import lenet
from figure1 import deploy_lenet, figure1

# Caffe hangs rather than fails on some misuse (two live solvers sharing an LMDB reader):
# a hang must fail these tests soon, not at the suite's 900 s timeout.
pytestmark = [pytest.mark.timeout(300), pytest.mark.caffe_real, pytest.mark.slow]

BATCH = 64
N_DIGITS = 320          # five batches
ITERATIONS = 40


@pytest.fixture(scope="module")
def caffe():
    try:
        import caffe as real_caffe
        import caffe._caffe  # noqa: F401  (the compiled library, not just the Python files)
    except ImportError as err:
        why = (f"real Caffe does not import ({type(err).__name__}: {err}); "
               f"run `make caffe` to build it into .venv")
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI builds real Caffe, so it must import here: {why}")
        pytest.skip(why)
    real_caffe.set_mode_cpu()
    return real_caffe


@pytest.fixture(scope="module")
def digits():
    """The first N_DIGITS MNIST training digits (uint8, N x 28 x 28) and labels, offline."""
    from labkit import data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # the 5,000-digit sample is fine here
        ds = data.load("mnist", download=False, progress=False)
    return ds.train_images[:N_DIGITS], ds.train_labels[:N_DIGITS]


def write_lmdb(path, images, labels, caffe_pb2):
    """An LMDB of Caffe Datums, keyed in order, as Caffe's convert_mnist_data wrote them."""
    import lmdb
    with lmdb.open(str(path), map_size=64 << 20) as env, env.begin(write=True) as txn:
        for i, (image, label) in enumerate(zip(images, labels)):
            datum = caffe_pb2.Datum(channels=1, height=28, width=28,
                                    data=image.astype(np.uint8).tobytes(), label=int(label))
            txn.put(f"{i:08d}".encode(), datum.SerializeToString())


def figure1_solver(caffe, folder, digits):
    """An LMDB of ``digits``, Figure 1's training net reading it, and Caffe's MNIST solver
    (lr 0.01, momentum 0.9, decay 5e-4, inv policy, CPU, seeded) for that net, all written
    into ``folder``. Returns the solver file."""
    from google.protobuf import text_format
    from caffe.proto import caffe_pb2
    images, labels = digits
    write_lmdb(folder / "mnist_train_lmdb", images, labels, caffe_pb2)
    train_net = folder / "lenet_train.prototxt"
    train_net.write_text(str(figure1(caffe)(str(folder / "mnist_train_lmdb"), BATCH)))
    path = folder / "lenet_solver.prototxt"
    s = caffe_pb2.SolverParameter(
        train_net=str(train_net), base_lr=0.01, momentum=0.9, weight_decay=0.0005,
        lr_policy="inv", gamma=0.0001, power=0.75, display=0, max_iter=10_000,
        snapshot_after_train=False, random_seed=2017,
        solver_mode=caffe_pb2.SolverParameter.CPU)
    path.write_text(text_format.MessageToString(s))
    return path


def test_figure1_trains_saves_and_opencv_reads_it(caffe, digits, tmp_path):
    import cv2
    from caffe.proto import caffe_pb2

    images, labels = digits
    solver_file = figure1_solver(caffe, tmp_path, digits)

    solver = caffe.SGDSolver(str(solver_file))
    net = solver.net
    assert net.blobs["data"].data.shape == (BATCH, 1, 28, 28)
    assert [k for k in net.params] == ["conv1", "conv2", "fc1", "score"]
    assert net.params["fc1"][0].data.shape == (500, 800)

    losses = []
    for it in range(ITERATIONS):
        solver.step(1)
        if it == 0:
            # The Data layer read the LMDB in key order and scaled by 1/255.
            np.testing.assert_allclose(net.blobs["data"].data[:, 0], images[:BATCH] / 255.0, atol=1e-6)
            np.testing.assert_array_equal(net.blobs["label"].data, labels[:BATCH])
        losses.append(float(net.blobs["loss"].data))
    assert solver.iter == ITERATIONS
    assert 1.8 < losses[0] < 2.8, losses[:3]           # chance level is ln(10) = 2.30
    assert np.mean(losses[-5:]) < 0.35 * losses[0], losses  # it learns (about 0.1x here)

    model = tmp_path / "lenet.caffemodel"
    net.save(str(model))
    saved = caffe_pb2.NetParameter.FromString(model.read_bytes())
    assert {layer.name for layer in saved.layer if layer.blobs} == {"conv1", "conv2", "fc1", "score"}

    probe, _ = lenet.probe_batch()
    deploy = tmp_path / "lenet_deploy.prototxt"
    deploy.write_text(str(deploy_lenet(caffe, len(probe))))
    test_net = caffe.Net(str(deploy), str(model), caffe.TEST)
    for name in net.params:
        for trained, loaded in zip(net.params[name], test_net.params[name]):
            np.testing.assert_array_equal(trained.data, loaded.data)
    test_net.blobs["data"].data[...] = probe
    ours = test_net.forward()["score"].copy()
    assert ours.shape == (len(probe), 10)

    cv_net = cv2.dnn.readNetFromCaffe(str(deploy), str(model))
    cv_net.setInput(probe)
    theirs = cv_net.forward("score")
    assert np.abs(theirs - ours).max() <= 1e-4, np.abs(theirs - ours).max()


def test_shared_initial_weights_give_the_reference_logits(caffe, tmp_path):
    probe, _ = lenet.probe_batch()
    deploy = tmp_path / "lenet_deploy.prototxt"
    deploy.write_text(str(deploy_lenet(caffe, len(probe))))
    net = caffe.Net(str(deploy), caffe.TEST)
    weights = lenet.initial_weights()
    for caffe_name, ours in (("conv1", "conv1"), ("conv2", "conv2"), ("fc1", "fc1"), ("score", "fc2")):
        weight, bias = net.params[caffe_name]
        weight.data[...] = weights[f"{ours}.weight"]   # the canonical layout is Caffe's
        bias.data[...] = weights[f"{ours}.bias"]
    net.blobs["data"].data[...] = probe
    logits = net.forward()["score"]
    assert lenet.check_logits(logits) <= lenet.LOGITS_ATOL


# --- labkit.caffe.real: the helpers the Caffe chapter uses to run the same files in real Caffe

def test_real_says_how_to_install_when_caffe_is_missing(monkeypatch):
    import sys
    from labkit.caffe import real
    monkeypatch.setitem(sys.modules, "caffe", None)      # `import caffe` now raises ImportError
    assert not real.available()
    assert "make caffe" in real.why_unavailable()
    with pytest.raises(ImportError, match="make caffe"):
        real.import_caffe()


def test_real_caffemodel_round_trip_and_forward(caffe, tmp_path):
    from labkit.caffe import real
    probe, _ = lenet.probe_batch()
    deploy = tmp_path / "lenet_deploy.prototxt"
    deploy.write_text(str(deploy_lenet(caffe, 1)))        # batch 1: forward() reshapes to 20
    weights = lenet.initial_weights()
    model = real.save_caffemodel(tmp_path / "init.caffemodel", deploy, weights)
    back = real.caffemodel_weights(model, deploy)
    assert sorted(back) == sorted(weights)
    for name in weights:
        np.testing.assert_array_equal(back[name], weights[name])
    logits = real.forward(real.load_net(deploy, model), probe)
    assert logits.shape == (20, 10)
    assert lenet.check_logits(logits) <= lenet.LOGITS_ATOL
    with pytest.raises(FileNotFoundError, match="caffemodel"):
        real.load_net(deploy, tmp_path / "missing.caffemodel")
    wrong = dict(weights, **{"fc1.weight": weights["fc1.weight"].T})
    with pytest.raises(ValueError, match="fc1"):
        real.set_weights(real.load_net(deploy), wrong)


def test_real_solver_losses_start_at_the_reference_loss(caffe, digits, tmp_path):
    from labkit.caffe import real
    images, labels = digits
    solver_file = figure1_solver(caffe, tmp_path, digits)
    weights = lenet.initial_weights()

    losses, trained = real.solver_losses(solver_file, 10, weights)
    assert len(losses) == 10
    assert sorted(trained) == sorted(weights)
    assert not np.allclose(trained["fc1.weight"], weights["fc1.weight"])
    first = lenet.softmax_cross_entropy(lenet.forward(weights, images[:BATCH, None] / 255.0), labels[:BATCH])
    assert abs(losses[0] - first) <= 1e-4, (losses[0], first)
    # The same files and weights again (the first solver is gone, so the LMDB reader starts over).
    again, trained_again = real.solver_losses(solver_file, 10, weights)
    np.testing.assert_allclose(again, losses, atol=1e-6)
    np.testing.assert_allclose(trained_again["fc1.weight"], trained["fc1.weight"], atol=1e-6)
    assert losses[-1] < losses[0]


def test_real_refuses_a_solver_file_real_caffe_would_abort_on(caffe, tmp_path):
    from labkit.caffe import real

    solver = tmp_path / "solver.prototxt"
    solver.write_text('net: "train.prototxt"\nbase_lr: 0.01\nweights: "start.caffemodel"\n')
    with pytest.raises(ValueError, match="weights"):
        real.check_solver_file(solver)
    solver.write_text('net: "train.prototxt"\nbase_lr: 0.01\nmax_iter: 10\n')
    real.check_solver_file(solver)  # a file this Caffe reads passes quietly


def test_real_needs_no_caffe_to_import_and_shadows_no_labkit_caffe_name():
    """labkit.caffe.real sits inside labkit.caffe: importing either must not import pycaffe,
    and no function of real may share a name with one of labkit.caffe's (which take other
    arguments: caffe.read_caffemodel gives a NetParameter, real's reader a weights dict)."""
    import importlib
    import inspect
    import pkgutil
    import subprocess
    import sys

    import labkit.caffe
    from labkit.caffe import real

    code = ("import sys, labkit.caffe, labkit.caffe.real; "
            "assert 'caffe' not in sys.modules and 'caffe._caffe' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

    ours = set(labkit.caffe.__all__)
    for info in pkgutil.iter_modules(labkit.caffe.__path__):
        if info.name != "real":
            module = importlib.import_module(f"labkit.caffe.{info.name}")
            ours |= {name for name in vars(module) if not name.startswith("_")}
    theirs = {name for name, fn in vars(real).items()
              if inspect.isfunction(fn) and fn.__module__ == real.__name__ and not name.startswith("_")}
    assert not theirs & ours, sorted(theirs & ours)
