"""Every engine trains the Playground's network to the NumPy engine's numbers.

Each engine starts from the NumPy engine's initial weights and trains the same epochs on
the same rows; the loss curves must agree within ``engines.TOLERANCE`` (1e-12, float64),
and so must the final weights and the L1-dead links. Keras keeps float64 only on its
tensorflow backend; if another test already imported Keras on torch or jax, the engine
says so (``exact`` is False) and the float32 tolerance applies. A toolkit that is not
installed is skipped with its name, never imitated.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from labkit.playground import Experiment, engines

SETUPS = [
    "dataset=xor&networkShape=4,4&batchSize=7&seed=0.2",                       # a remainder each epoch
    "dataset=circle&activation=relu&regularization=L1&regularizationRate=0.03&batchSize=10"
    "&learningRate=0.1&xSquared=true&seed=0.2",                                # links die
    "dataset=gauss&activation=sigmoid&regularization=L2&regularizationRate=0.01&learningRate=0.3"
    "&batchSize=25&seed=0.2",
    "problem=regression&regDataset=reg-gauss&networkShape=6,3&learningRate=0.01&batchSize=30"
    "&percTrainData=30&seed=0.2",                                              # linear output
]
EPOCHS = 6


def _need(toolkit):
    if importlib.util.find_spec(toolkit) is None:
        pytest.skip(f"{toolkit} is not installed")


def _run(name, base, net):
    s = base.state
    engine = engines.create(name, net, s.regularization, s.regularization_rate)
    curve = [net.loss(base.F_train, base.y_train)]
    for _ in range(EPOCHS):
        engine.train_epoch(base.F_train, base.y_train, s.batch_size, s.learning_rate)
        curve.append(net.loss(base.F_train, base.y_train))
    return engine, np.array(curve)


@pytest.fixture(scope="module")
def reference():
    out = {}
    for setup in SETUPS:
        base = Experiment(setup)
        start = base.net.copy()
        _, curve = _run("numpy", base, base.net)
        out[setup] = (base, start, curve)
    return out


@pytest.mark.parametrize("setup", SETUPS)
@pytest.mark.parametrize("name, toolkit", [("torch", "torch"), ("keras", "keras"), ("jax", "jax")])
def test_engine_agrees_with_numpy(reference, setup, name, toolkit):
    _need(toolkit)
    base, start, want = reference[setup]
    net = start.copy()
    engine, got = _run(name, base, net)
    tol = engines.TOLERANCE if getattr(engine, "exact", True) else engines.FLOAT32_TOLERANCE
    diff = np.abs(got - want).max()
    print(f"{name} {setup[:40]}: max |loss difference| {diff:.1e} (tolerance {tol:.0e})")
    assert diff <= tol
    assert want[-1] < want[0], "the reference run should learn something"
    for layer in range(len(net.weights)):
        assert np.allclose(net.weights[layer], base.net.weights[layer], rtol=0, atol=tol * 100)
        assert np.allclose(net.biases[layer], base.net.biases[layer], rtol=0, atol=tol * 100)
        assert np.array_equal(net.dead[layer], base.net.dead[layer])
    if base.state.regularization == "L1":
        assert any(d.any() for d in net.dead)


def test_switching_engine_mid_run_carries_on_from_the_same_weights():
    _need("torch")
    setup = "dataset=xor&batchSize=7&seed=0.9"
    a, b = Experiment(setup), Experiment(setup)
    a.step(6)
    b.step(3)
    b.change(engine="torch")          # the leftover rows of epoch 3 go along
    b.step(3)
    assert b.engine.name == "torch" and b.state.engine == "torch"
    assert np.allclose(np.array(a.history), np.array(b.history), rtol=0, atol=engines.TOLERANCE)


def test_a_weight_set_by_hand_reaches_the_engine():
    _need("torch")
    exp = Experiment("engine=torch&networkShape=2&seed=0.9")
    exp.set_weight(0, 1, 0, 3.0)
    assert float(exp.engine.linears[0].weight.detach()[1, 0]) == 3.0


def test_unknown_engine_is_refused_clearly():
    exp = Experiment()
    with pytest.raises(engines.EngineError, match="unknown engine 'caffe'; choose one of numpy"):
        engines.create("caffe", exp.net)
