"""labkit.caffe's engine against references: the NumPy LeNet, Caffe's update rule written
out in NumPy, Caffe's learning-rate formulas, Caffe's pooling arithmetic."""
import math

import numpy as np
import pytest

from labkit import caffe, lenet as ref
from labkit.caffe import caffe_pb2, layers as L, params as P
from labkit.caffe.engine import pooled_size
from labkit.caffe.solver import learning_rate


def lenet_inputs(batch_size, lr_mult_bias=1.0, decay_mult_bias=1.0):
    """Figure 1's LeNet with Input layers in place of the Data layer (arrays fed from Python)."""
    n = caffe.NetSpec()
    n.data, n.label = L.Input(shape=[dict(dim=[batch_size, 1, 28, 28]), dict(dim=[batch_size])], ntop=2)
    p = [dict(lr_mult=1), dict(lr_mult=lr_mult_bias, decay_mult=decay_mult_bias)]
    n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=20, weight_filler=dict(type='xavier'), param=p)
    n.pool1 = L.Pooling(n.conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.conv2 = L.Convolution(n.pool1, kernel_size=5, num_output=50, weight_filler=dict(type='xavier'), param=p)
    n.pool2 = L.Pooling(n.conv2, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.fc1 = L.InnerProduct(n.pool2, num_output=500, weight_filler=dict(type='xavier'), param=p)
    n.relu1 = L.ReLU(n.fc1, in_place=True)
    n.score = L.InnerProduct(n.relu1, num_output=10, weight_filler=dict(type='xavier'), param=p)
    n.loss = L.SoftmaxWithLoss(n.score, n.label)
    return n.to_proto()


NAMES = {"conv1": "conv1", "conv2": "conv2", "fc1": "fc1", "score": "fc2"}


def canonical(net):
    return {f"{NAMES[k]}.{'weight' if i == 0 else 'bias'}": b.data.copy()
            for k, blobs in net.params.items() for i, b in enumerate(blobs)}


def load(net, params):
    for k, blobs in net.params.items():
        blobs[0].data[...] = params[f"{NAMES[k]}.weight"]
        blobs[1].data[...] = params[f"{NAMES[k]}.bias"]


def test_xavier_filler_with_seed_2017_is_the_shared_initial_weights():
    net = caffe.Net(lenet_inputs(20), caffe.TRAIN, seed=ref.SEED)
    want = ref.initial_weights()
    got = canonical(net)
    assert all(np.array_equal(got[k], want[k]) for k in want)


def test_probe_logits_and_one_sgd_step_match_the_numpy_reference(tmp_path):
    x, y = ref.probe_batch()
    net = caffe.Net(lenet_inputs(20), caffe.TRAIN, seed=0)
    load(net, ref.initial_weights())
    out = net.forward(data=x, label=y)
    assert ref.check_logits(net.blobs["score"].data) <= ref.LOGITS_ATOL
    assert abs(float(out["loss"]) - ref.softmax_cross_entropy(ref.reference()["logits"], y)) < 1e-5
    # one plain step by the solver: fixed rate 0.01, no momentum, no decay
    net_path = caffe.write_net(lenet_inputs(20), tmp_path / "net.prototxt")
    solver = caffe.SGDSolver(caffe_pb2.SolverParameter(train_net=str(net_path), base_lr=ref.PROBE_LR,
                                                       lr_policy="fixed", momentum=0, weight_decay=0, max_iter=1),
                             log=None)
    load(solver.net, ref.initial_weights())
    solver.net.forward(data=x, label=y)        # feed the Input blobs; the step re-runs the pass on them
    solver.net.clear_param_diffs()
    solver.step(1)
    ref.check_step(canonical(solver.net))


def test_momentum_weight_decay_and_mults_as_caffe_applies_them(tmp_path):
    """Two iterations against Caffe's rule written out in NumPy (lr_mult 2 and decay_mult 0 on biases)."""
    x, y = ref.probe_batch()
    proto = lenet_inputs(20, lr_mult_bias=2.0, decay_mult_bias=0.0)
    path = caffe.write_net(proto, tmp_path / "net.prototxt")
    sp = caffe_pb2.SolverParameter(train_net=str(path), base_lr=0.01, lr_policy="inv", gamma=0.1, power=0.75,
                                   momentum=0.9, weight_decay=0.0005, max_iter=2)
    solver = caffe.SGDSolver(sp, log=None)
    w = {k: v.astype(np.float64) for k, v in ref.initial_weights().items()}
    load(solver.net, ref.initial_weights())
    history = {k: np.zeros_like(v) for k, v in w.items()}
    for it in range(2):
        solver.net.forward(data=x, label=y)
        solver.net.clear_param_diffs()
        solver.step(1)
        _, grads = ref.loss_and_grads(w, x, y)
        rate = 0.01 * (1 + 0.1 * it) ** -0.75
        for k in w:
            bias = k.endswith("bias")
            diff = grads[k] + 0.0005 * (0.0 if bias else 1.0) * w[k]
            history[k] = 0.9 * history[k] + rate * (2.0 if bias else 1.0) * diff
            w[k] = w[k] - history[k]
    got = canonical(solver.net)
    for k in w:
        assert np.max(np.abs(got[k] - w[k])) < 1e-5, k
    assert solver.iter == 2


@pytest.mark.parametrize("policy,extra,formula", [
    ("fixed", {}, lambda i: 0.01),
    ("step", dict(gamma=0.1, stepsize=3), lambda i: 0.01 * 0.1 ** (i // 3)),
    ("exp", dict(gamma=0.9), lambda i: 0.01 * 0.9 ** i),
    ("inv", dict(gamma=1e-4, power=0.75), lambda i: 0.01 * (1 + 1e-4 * i) ** -0.75),
    ("multistep", dict(gamma=0.5, stepvalue=[2, 5]), lambda i: 0.01 * 0.5 ** ((i >= 2) + (i >= 5))),
    ("poly", dict(power=2.0, max_iter=10), lambda i: 0.01 * (1 - i / 10) ** 2),
])
def test_lr_policies(policy, extra, formula):
    sp = caffe_pb2.SolverParameter(base_lr=0.01, lr_policy=policy, **extra)
    for i in range(10):
        assert math.isclose(learning_rate(sp, i), formula(i), rel_tol=1e-5, abs_tol=1e-12), (policy, i)
    with pytest.raises(ValueError, match="unknown lr_policy 'cosine'"):
        learning_rate(caffe_pb2.SolverParameter(lr_policy="cosine"), 0)


def test_pooling_rounds_up_as_caffe_does():
    assert pooled_size(5, 2, 2, 0) == 3 and pooled_size(5, 2, 2, 0, ceil=False) == 2
    assert pooled_size(4, 3, 2, 1) == 3 and pooled_size(5, 2, 2, 1) == 3    # no window starts in the padding
    n = caffe.NetSpec()
    n.x = L.Input(shape=dict(dim=[1, 1, 5, 5]))
    n.p = L.Pooling(n.x, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.a = L.Pooling(n.x, kernel_size=2, stride=2, pool=P.Pooling.AVE)
    net = caffe.Net(n.to_proto(), caffe.TEST)
    x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    out = net.forward(x=x)
    assert out["p"].shape == (1, 1, 3, 3)
    assert out["p"][0, 0, 2, 2] == 24 and out["p"][0, 0, 0, 2] == 9     # the partial windows at the edge
    assert out["a"][0, 0, 0, 0] == np.mean([0, 1, 5, 6])


def test_accuracy_and_the_test_phase(tmp_path):
    n = caffe.NetSpec()
    n.s, n.y = L.Input(shape=[dict(dim=[4, 3]), dict(dim=[4])], ntop=2)
    n.acc = L.Accuracy(n.s, n.y, include=dict(phase=caffe.TEST))
    n.top2 = L.Accuracy(n.s, n.y, accuracy_param=dict(top_k=2))
    proto = n.to_proto()
    scores = np.array([[3, 2, 1], [1, 3, 2], [0, 1, 2], [2, 1, 0]], np.float32)
    labels = np.array([0, 2, 2, 2])
    test = caffe.Net(proto, caffe.TEST).forward(s=scores, y=labels)
    assert float(test["acc"]) == 0.5 and float(test["top2"]) == 0.75
    assert "acc" not in caffe.Net(proto, caffe.TRAIN).blobs


def test_errors_name_the_layer_and_the_shapes(tmp_path):
    n = caffe.NetSpec()
    n.data, n.label = L.Input(shape=[dict(dim=[8, 1, 28, 28]), dict(dim=[6])], ntop=2)
    n.ip = L.InnerProduct(n.data, num_output=10)
    n.loss = L.SoftmaxWithLoss(n.ip, n.label)
    with pytest.raises(caffe.ShapeError, match=r"layer 'loss'.*\(8, 10\) vs \(6,\)"):
        caffe.Net(n.to_proto(), caffe.TRAIN)
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 1, 4, 4]))
    n.conv = L.Convolution(n.data, kernel_size=5, num_output=2)
    with pytest.raises(caffe.ShapeError, match=r"layer 'conv'.*\(1, 1, 4, 4\) vs \(5, 5\)"):
        caffe.Net(n.to_proto(), caffe.TEST)
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 3]))
    n.lrn = L.LRN(n.data)
    with pytest.raises(caffe.UnknownLayerError, match="'LRN'.*supported types: Accuracy, Convolution, Data"):
        caffe.Net(n.to_proto(), caffe.TEST)


def test_caffemodel_save_load_and_mismatch(tmp_path):
    net = caffe.Net(lenet_inputs(2), caffe.TRAIN, seed=1)
    path = net.save(tmp_path / "lenet.caffemodel")
    other = caffe.Net(lenet_inputs(2), caffe.TRAIN, seed=2)
    assert not np.array_equal(other.params["conv1"][0].data, net.params["conv1"][0].data)
    assert other.copy_from(path) == ["conv1", "conv2", "fc1", "score"]
    for k in net.params:
        for a, b in zip(net.params[k], other.params[k]):
            assert np.array_equal(a.data, b.data)
    saved = caffe.read_caffemodel(path)
    assert [l.phase for l in saved.layer] == [caffe.TRAIN] * len(saved.layer)   # as Caffe writes them
    wide = lenet_inputs(2)
    wide.layer[5].inner_product_param.num_output = 400
    with pytest.raises(caffe.CaffemodelError, match=r"layer 'fc1'.*\(500, 800\).*\(400, 800\)"):
        caffe.Net(wide, caffe.TRAIN, weights=str(path))


def test_snapshot_and_restore_continue_training_identically(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = ref.probe_batch()
    images = np.round(x[:, 0] * 255).astype(np.uint8)
    caffe.convert_mnist(images, y, "probe_lmdb")
    n = caffe.NetSpec()
    n.data, n.label = L.Data(batch_size=5, backend=P.Data.LMDB, source="probe_lmdb",
                             transform_param=dict(scale=1. / 255), ntop=2)
    n.ip = L.InnerProduct(n.data, num_output=10, weight_filler=dict(type="gaussian", std=0.01))
    n.loss = L.SoftmaxWithLoss(n.ip, n.label)
    caffe.write_net(n.to_proto(), "net.prototxt")
    sp = caffe_pb2.SolverParameter(net="net.prototxt", base_lr=0.1, lr_policy="step", gamma=0.5, stepsize=2,
                                   momentum=0.9, weight_decay=1e-3, max_iter=4, snapshot=2,
                                   snapshot_prefix="snap/tiny", random_seed=7)
    a = caffe.SGDSolver(sp, log=None)
    a.solve()
    assert sorted(p.name for p in (tmp_path / "snap").iterdir()) == [
        "tiny_iter_2.caffemodel", "tiny_iter_2.solverstate", "tiny_iter_4.caffemodel", "tiny_iter_4.solverstate"]
    b = caffe.SGDSolver(sp, log=None)
    b.restore("snap/tiny_iter_2.solverstate")
    b.net.layers[0].cursor = 10    # Caffe does not save the Data layer's position either: two batches of 5
    b.step(2)
    assert b.iter == 4
    assert np.allclose(a.net.params["ip"][0].data, b.net.params["ip"][0].data, atol=1e-7)


def test_solver_logs_like_caffe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = ref.probe_batch()
    caffe.convert_mnist(np.round(x[:, 0] * 255).astype(np.uint8), y, "probe_lmdb")
    n = caffe.NetSpec()
    n.data, n.label = L.Data(batch_size=10, backend=P.Data.LMDB, source="probe_lmdb",
                             transform_param=dict(scale=1. / 255), ntop=2)
    n.ip = L.InnerProduct(n.data, num_output=10, weight_filler=dict(type="xavier"))
    n.loss = L.SoftmaxWithLoss(n.ip, n.label)
    train = n.to_proto()
    n.accuracy = L.Accuracy(n.ip, n.label)
    net = caffe.merge_phases(train, n.to_proto())
    caffe.write_net(net, "net.prototxt")
    sp = caffe_pb2.SolverParameter(net="net.prototxt", test_iter=[2], test_interval=2, base_lr=0.01,
                                   lr_policy="fixed", display=2, max_iter=4, momentum=0.9,
                                   snapshot_after_train=False)
    lines = []
    solver = caffe.SGDSolver(sp, log=lines.append)
    solver.solve()
    text = "\n".join(lines)
    assert "Iteration 0, Testing net (#0)" in text
    assert "    Test net output #0: accuracy = " in text
    assert "    Test net output #1: loss = " in text and "(* 1 = " in text
    assert "Iteration 2 (" in text and "iter/s" in text and "Iteration 2, lr = 0.01" in text
    assert lines[-1] == "Optimization Done."
    assert [it for it, _ in solver.test_results] == [0, 2, 4]
