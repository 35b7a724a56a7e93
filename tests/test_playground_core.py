"""The Playground's pure core: datasets, features, network maths, training rule, state, drawing.

Nothing here imports a widget library or a toolkit. The training rule is checked against a
slow reference written in this file the way the original's ``nn.ts`` works: node by node,
one example at a time, with per-link accumulators.
"""
from __future__ import annotations

import struct
import sys
import zlib

import numpy as np
import pytest

from labkit.playground import Experiment, State, StateError, from_string, to_string
from labkit.playground import datasets, features, render
from labkit.playground.network import ACTIVATIONS, REGULARIZATIONS, Network


def rng(seed=0):
    return np.random.default_rng(seed)


# -- datasets -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(datasets.DATASETS))
def test_generators_share_one_signature_and_are_seeded(name):
    gen = datasets.DATASETS[name]
    X, y = gen(200, 0.1, rng(1))
    assert X.shape == (200, 2) and y.shape == (200,)
    assert np.isfinite(X).all() and np.isfinite(y).all()
    X2, y2 = gen(200, 0.1, rng(1))
    X3, _ = gen(200, 0.1, rng(2))
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(X, X3)
    if name in datasets.CLASSIFICATION:
        assert set(np.unique(y)) == {-1.0, 1.0}


def test_circle_radii_and_labels_without_noise():
    X, y = datasets.circle(500, 0.0, rng())
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.array_equal(y == 1, r < 2.5)
    assert r[y == 1].max() <= 2.5 and r[y == -1].min() >= 3.5 and r.max() <= 5
    assert (y == 1).sum() == 250


def test_noise_moves_labels_not_points_for_circle_and_xor():
    for gen in (datasets.circle, datasets.xor):
        X0, y0 = gen(500, 0.0, rng(3))
        X5, y5 = gen(500, 0.5, rng(3))
        assert np.abs(X5).max() <= 5.3 + 1e-12      # points stay in their square
        wrong = np.mean(y5 != (np.where(np.hypot(*X5.T) < 2.5, 1, -1) if gen is datasets.circle
                              else np.where(X5[:, 0] * X5[:, 1] >= 0, 1, -1)))
        assert 0.02 < wrong < 0.5, wrong


def test_xor_padding_and_labels():
    X, y = datasets.xor(1000, 0.0, rng())
    assert np.abs(X).min() >= 0.3 and np.abs(X).max() <= 5.3
    assert np.array_equal(y, np.where(X[:, 0] * X[:, 1] >= 0, 1.0, -1.0))


def test_gauss_centres_and_variance_grow_with_noise():
    X, y = datasets.gauss(2000, 0.0, rng())
    assert np.allclose(X[y == 1].mean(axis=0), [2, 2], atol=0.1)
    assert np.allclose(X[y == -1].mean(axis=0), [-2, -2], atol=0.1)
    assert X[y == 1].var(axis=0) == pytest.approx([0.5, 0.5], rel=0.15)
    Xn, yn = datasets.gauss(2000, 0.5, rng())
    assert Xn[yn == 1].var(axis=0) == pytest.approx([4.0, 4.0], rel=0.15)


def test_spiral_radius_grows_along_each_arm():
    X, y = datasets.spiral(500, 0.0, rng())
    r = np.hypot(*X.T)
    assert np.allclose(r[:250], np.arange(250) / 250 * 5)
    assert np.allclose(X[:250], -X[250:])          # the two arms are half a turn apart
    assert (y[:250] == 1).all() and (y[250:] == -1).all()


def test_regression_labels():
    X, y = datasets.reg_plane(300, 0.0, rng())
    assert np.allclose(y, X.sum(axis=1) / 10) and np.abs(X).max() <= 6
    X, y = datasets.reg_gauss(3000, 0.0, rng())
    assert np.abs(y).max() <= 1
    near = np.hypot(X[:, 0] - 4, X[:, 1] + 2.5) < 0.2      # the bump at (4, -2.5) is negative
    assert (y[near] < -0.85).all()
    far = (np.abs(X[:, 1]) < 0.3) & (np.abs(np.abs(X[:, 0]) - 2) < 0.2)
    assert np.allclose(y[far], 0.0)                      # more than 2 from every bump centre


def test_generate_shuffles_and_splits():
    Xtr, ytr, Xte, yte = datasets.generate("circle", 0, 30, rng())
    assert len(ytr) == 150 and len(yte) == 350
    assert not (ytr[:75] == 1).all()                     # shuffled: not the generator's order
    assert len(datasets.generate("reg-gauss", 0, 50, rng())[1]) == 600
    with pytest.raises(KeyError, match="unknown dataset 'moon'"):
        datasets.generate("moon", 0, 50, rng())


# -- features -------------------------------------------------------------------------------
def test_feature_matrix_values_and_order():
    X = np.array([[2.0, -3.0]])
    F = features.matrix(X, ["sinY", "x", "xTimesY"])      # order follows the original's list
    assert F.tolist() == [[2.0, -6.0, np.sin(-3.0)]]
    all7 = features.matrix(X, list(features.FEATURES))
    assert all7.tolist() == [[2.0, -3.0, 4.0, 9.0, -6.0, np.sin(2.0), np.sin(-3.0)]]
    with pytest.raises(features.NoFeaturesError, match="switch on at least one"):
        features.matrix(X, [])


# -- network maths --------------------------------------------------------------------------
def test_build_initialises_as_the_original():
    net = Network.build([3, 5, 2, 1], rng=rng())
    assert net.shape == [3, 5, 2, 1]
    w = np.concatenate([W.ravel() for W in net.weights])
    assert w.min() >= -0.5 and w.max() < 0.5 and w.std() > 0.2
    assert all((b == 0.1).all() for b in net.biases)
    zero = Network.build([3, 5, 1], init_zero=True)
    assert all(not W.any() for W in zero.weights) and all(not b.any() for b in zero.biases)


@pytest.mark.parametrize("act", list(ACTIVATIONS))
@pytest.mark.parametrize("out", ["tanh", "linear"])
def test_gradients_match_finite_differences(act, out):
    net = Network.build([3, 4, 3, 1], act, out, rng(5))
    F, y = rng(6).normal(size=(9, 3)), np.sign(rng(7).normal(size=9))
    gw, gb = net.gradients(F, y)

    def summed(n):
        return 0.5 * np.sum((n.predict(F) - y) ** 2)

    h = 1e-6
    for layer in range(3):
        for idx in np.ndindex(net.weights[layer].shape):
            plus, minus = net.copy(), net.copy()
            plus.weights[layer][idx] += h
            minus.weights[layer][idx] -= h
            assert gw[layer][idx] == pytest.approx((summed(plus) - summed(minus)) / (2 * h), abs=1e-6)
        for j in range(len(net.biases[layer])):
            plus, minus = net.copy(), net.copy()
            plus.biases[layer][j] += h
            minus.biases[layer][j] -= h
            assert gb[layer][j] == pytest.approx((summed(plus) - summed(minus)) / (2 * h), abs=1e-6)


def test_regularisation_derivatives_match_their_penalties():
    w = np.array([-1.5, -0.2, 0.3, 2.0])
    for name in ("L1", "L2"):
        reg = REGULARIZATIONS[name]
        num = (reg.penalty(w + 1e-6) - reg.penalty(w - 1e-6)) / 2e-6
        assert np.allclose(reg.der(w), num, atol=1e-6)
    assert REGULARIZATIONS["L1"].der(np.array(0.0)) == 0      # the original's L1 at 0


def test_l2_update_takes_the_penalty_at_the_old_weight_and_not_divided_by_count():
    net = Network([np.array([[0.4, -0.2]])], [np.array([0.1])])
    gw, gb = [np.array([[0.6, 0.3]])], [np.array([0.9])]
    net.update(gw, gb, 3, learning_rate=0.1, regularization="L2", regularization_rate=0.5)
    assert np.allclose(net.weights[0], [[0.4 - 0.1 / 3 * 0.6 - 0.1 * 0.5 * 0.4,
                                         -0.2 - 0.1 / 3 * 0.3 - 0.1 * 0.5 * -0.2]])
    assert np.allclose(net.biases[0], [0.1 - 0.1 * 0.9 / 3])     # biases are not regularised


def test_l1_sets_a_weight_that_crosses_zero_to_zero_and_keeps_it_dead():
    net = Network([np.array([[0.004, 0.5]])], [np.array([0.0])])
    net.update([np.zeros((1, 2))], [np.zeros(1)], 1, learning_rate=1.0,
               regularization="L1", regularization_rate=0.01)
    assert net.weights[0].tolist() == [[0.0, 0.49]]
    assert net.dead[0].tolist() == [[True, False]]
    net.update([np.array([[5.0, 0.0]])], [np.zeros(1)], 1, learning_rate=1.0,
               regularization="L1", regularization_rate=0.01)
    assert net.weights[0][0, 0] == 0.0                           # dead: no longer trained
    gw, _ = net.gradients(np.ones((2, 2)), np.zeros(2))
    assert gw[0][0, 0] == 0.0


class ReferenceNet:
    """The original's algorithm, node by node and example by example (nn.ts, playground.ts)."""

    def __init__(self, net: Network, reg: str, rate: float):
        self.W = [W.tolist() for W in net.weights]
        self.b = [b.tolist() for b in net.biases]
        self.dead = [d.tolist() for d in net.dead]
        self.act = [ACTIVATIONS[net.activation]] * (len(self.W) - 1) + [ACTIVATIONS[net.output_activation]]
        self.reg, self.rate = reg, rate
        self.accW = [[[0.0] * len(row) for row in W] for W in self.W]
        self.accB = [[0.0] * len(b) for b in self.b]
        self.n = 0

    def _f(self, layer, z):
        return float(self.act[layer].f(np.array(z)))

    def _d(self, layer, z):
        return float(self.act[layer].der(np.array(z)))

    def example(self, x, target):
        outs, tots = [list(x)], []
        for layer, (W, b) in enumerate(zip(self.W, self.b)):
            t = [b[i] + sum(W[i][j] * outs[-1][j] for j in range(len(outs[-1]))) for i in range(len(b))]
            tots.append(t)
            outs.append([self._f(layer, z) for z in t])
        out_der = [outs[-1][0] - target]
        for layer in range(len(self.W) - 1, -1, -1):
            in_der = [out_der[i] * self._d(layer, tots[layer][i]) for i in range(len(out_der))]
            for i, d in enumerate(in_der):
                self.accB[layer][i] += d
                for j in range(len(outs[layer])):
                    if not self.dead[layer][i][j]:
                        self.accW[layer][i][j] += d * outs[layer][j]
            out_der = [sum(self.W[layer][i][j] * in_der[i] for i in range(len(in_der)))
                       for j in range(len(outs[layer]))]
        self.n += 1

    def update(self, lr):
        for layer in range(len(self.W)):
            for i in range(len(self.b[layer])):
                self.b[layer][i] -= lr * self.accB[layer][i] / self.n
                self.accB[layer][i] = 0.0
                for j in range(len(self.W[layer][i])):
                    if self.dead[layer][i][j]:
                        continue
                    w = self.W[layer][i][j]
                    der = {"none": 0.0, "L2": w, "L1": float(np.sign(w))}[self.reg]
                    w = w - (lr / self.n) * self.accW[layer][i][j]
                    new = w - lr * self.rate * der
                    if self.reg == "L1" and w * new < 0:
                        self.W[layer][i][j], self.dead[layer][i][j] = 0.0, True
                    else:
                        self.W[layer][i][j] = new
                    self.accW[layer][i][j] = 0.0
        self.n = 0

    def epoch(self, F, y, batch, lr):
        for i in range(len(y)):
            self.example(F[i], y[i])
            if (i + 1) % batch == 0:
                self.update(lr)


@pytest.mark.parametrize("setup", [
    "batchSize=7",                                                         # a remainder each epoch
    "activation=relu&regularization=L1&regularizationRate=0.03&batchSize=4&learningRate=0.1",
    "activation=sigmoid&regularization=L2&regularizationRate=0.1&batchSize=30&learningRate=0.3",
    "problem=regression&regDataset=reg-gauss&percTrainData=10&networkShape=3&batchSize=11",
    "networkShape=&x=false&xSquared=true&ySquared=true&batchSize=1",       # no hidden layer
])
def test_numpy_engine_follows_the_original_rule_exactly(setup):
    exp = Experiment(setup + "&seed=0.4")
    s = exp.state
    ref = ReferenceNet(exp.net, s.regularization, s.regularization_rate)
    for _ in range(3):
        exp.step()
        ref.epoch(exp.F_train, exp.y_train, s.batch_size, s.learning_rate)
        for layer in range(len(ref.W)):
            assert np.allclose(exp.net.weights[layer], ref.W[layer], rtol=0, atol=1e-12)
            assert np.allclose(exp.net.biases[layer], ref.b[layer], rtol=0, atol=1e-12)
            assert exp.net.dead[layer].tolist() == ref.dead[layer]
    if s.regularization == "L1":
        assert any(d.any() for d in exp.net.dead), "this L1 setup should kill some links"


# -- state and its string -------------------------------------------------------------------
def test_default_state_is_the_original_default():
    s = State()
    assert (s.dataset, s.activation, s.learning_rate, s.batch_size, s.hidden, s.features,
            s.percent_train, s.noise, s.regularization) == (
        "circle", "tanh", 0.03, 10, (4, 2), ("x", "y"), 50, 0, "none")
    assert to_string(s) == "seed=0.10000"


def _random_state(r) -> State:
    from labkit.playground.state import LEARNING_RATES, REGULARIZATION_RATES
    feats = tuple(k for k in features.FEATURES if r.random() < 0.5) or ("x",)
    return State(
        dataset=str(r.choice(list(datasets.CLASSIFICATION))),
        reg_dataset=str(r.choice(list(datasets.REGRESSION))),
        problem=str(r.choice(["classification", "regression"])),
        activation=str(r.choice(list(ACTIVATIONS))), regularization=str(r.choice(["none", "L1", "L2"])),
        regularization_rate=float(r.choice(REGULARIZATION_RATES)),
        learning_rate=float(r.choice(LEARNING_RATES)), batch_size=int(r.integers(1, 31)),
        noise=int(r.integers(0, 51)), percent_train=int(r.integers(1, 10)) * 10,
        hidden=tuple(int(n) for n in r.integers(1, 9, size=r.integers(0, 7))), features=feats,
        seed=f"{r.random():.5f}", show_test_data=bool(r.random() < 0.5),
        discretize=bool(r.random() < 0.5), init_zero=bool(r.random() < 0.5),
        engine=str(r.choice(["numpy", "torch", "keras", "jax"])))


def test_every_state_round_trips_through_its_string():
    r = rng(11)
    for _ in range(300):
        s = _random_state(r).validate()
        assert from_string(to_string(s)) == s
        assert from_string(to_string(s, full=True)) == s
        assert from_string("#" + to_string(s)) == s
    assert len(to_string(State(dataset="xor", hidden=(4, 4, 2)))) < 50


def test_reads_an_address_from_the_original_page():
    url = ("https://playground.tensorflow.org/#activation=relu&batchSize=12&dataset=spiral"
           "&regDataset=reg-plane&learningRate=0.01&regularizationRate=0.003&noise=15"
           "&networkShape=6,5,2&seed=0.61483&showTestData=true&discretize=false"
           "&percTrainData=60&x=true&y=true&xTimesY=false&xSquared=true&ySquared=false"
           "&cosX=false&sinX=true&cosY=false&sinY=false&collectStats=false"
           "&problem=classification&initZero=false&hideText=false&batchSize_hide=true")
    s = from_string(url)
    assert (s.activation, s.batch_size, s.dataset, s.learning_rate, s.noise, s.hidden, s.seed,
            s.show_test_data, s.percent_train) == (
        "relu", 12, "spiral", 0.01, 15, (6, 5, 2), "0.61483", True, 60)
    assert s.features == ("x", "y", "xSquared", "sinX")


@pytest.mark.parametrize("text, message", [
    ("dataset=moon", "unknown dataset 'moon'; choose one of circle, xor, gauss, spiral"),
    ("dataset=reg-plane", "regression dataset: use regDataset=reg-plane&problem=regression"),
    ("activation=softmax", "unknown activation 'softmax'"),
    ("learningRate=fast", "learningRate='fast' is not a number"),
    ("learningRate=0.05", "learning rate 0.05 is not one of the Playground's steps"),
    ("noise=70", "noise must be a whole number from 0 to 50"),
    ("batchSize=0", "batch size must be a whole number from 1 to 30"),
    ("percTrainData=95", "from 10 to 90"),
    ("networkShape=4,9", "neurons in a hidden layer must be a whole number from 1 to 8"),
    ("networkShape=1,1,1,1,1,1,1", "7 hidden layers; the Playground allows 0 to 6"),
    ("networkShape=4,,2", "networkShape='' is not a number"),
    ("x=maybe", "x='maybe': write true or false"),
    ("colour=blue", "unknown key 'colour'"),
    ("dataset", "'dataset' is not of the form key=value"),
    ("dataset=xor=circle", "is not of the form key=value"),
    ("noise=5&noise=10", "noise is given twice"),
    ("engine=caffe", "unknown engine 'caffe'"),
    ("seed=", "seed '' must be a non-empty string"),
])
def test_malformed_state_strings_say_what_is_wrong(text, message):
    with pytest.raises(StateError) as err:
        from_string(text)
    assert message in str(err.value)


def test_keys_not_given_keep_the_base_state():
    base = State(dataset="xor", hidden=(3,))
    s = from_string("noise=20", base=base)
    assert (s.dataset, s.hidden, s.noise) == ("xor", (3,), 20)


# -- the experiment ---------------------------------------------------------------------------
def test_same_string_same_data_and_weights_and_training_lowers_the_loss():
    a, b = Experiment("dataset=gauss&seed=s1"), Experiment("dataset=gauss&seed=s1")
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.net.weights[0], b.net.weights[0])
    assert not np.array_equal(a.X_train, Experiment("dataset=gauss&seed=s2").X_train)
    start = a.history[-1][0]
    a.step(30)
    assert a.epoch == 30 and len(a.history) == 31
    assert a.history[-1][0] < 0.1 < start              # an untrained net sits near 0.5
    pred = np.sign(a.net.predict(a.F_test))
    assert np.mean(pred == a.y_test) > 0.95


def test_circle_with_squares_and_no_hidden_layer_needs_the_right_start():
    setup = "networkShape=&x=false&y=false&xSquared=true&ySquared=true&learningRate=0.03&seed=1"
    stuck, fixed = Experiment(setup), Experiment(setup)
    assert (stuck.net.weights[0] > 0).all()       # this seed starts saturated at +1 everywhere
    fixed.set_weight(0, 0, 0, -0.1)               # by hand, as the Weight box does
    fixed.set_weight(0, 0, 1, -0.1)
    stuck.step(60)
    fixed.step(60)
    accuracy = [np.mean(np.sign(e.net.predict(e.F_test)) == e.y_test) for e in (stuck, fixed)]
    assert accuracy[0] == 0.5 and accuracy[1] > 0.95


def test_controls_act_as_on_the_page():
    exp = Experiment("seed=0.3")
    exp.step(3)
    w = exp.net.weights[0].copy()
    exp.change(learning_rate=0.1)                       # no new network
    assert exp.epoch == 3 and np.array_equal(exp.net.weights[0], w)
    exp.change(activation="relu")                       # new network
    assert exp.epoch == 0 and not np.array_equal(exp.net.weights[0], w)
    seed, X = exp.state.seed, exp.X_train.copy()
    exp.change(dataset="xor")                           # new data, new seed
    assert exp.state.seed != seed and not np.array_equal(exp.X_train, X)
    exp.step(2)
    w = exp.net.weights[0].copy()
    exp.regenerate()                                    # new data, same network
    assert exp.epoch == 2 and np.array_equal(exp.net.weights[0], w)
    exp.change(hidden=(3, 3, 3), features=("x", "y", "xTimesY"))
    assert exp.net.shape == [3, 3, 3, 3, 1]


def test_a_refused_change_changes_nothing():
    exp = Experiment("seed=0.3")
    before = (exp.state, exp.net)
    with pytest.raises(features.NoFeaturesError):
        exp.change(features=())
    with pytest.raises(StateError, match="unknown dataset"):
        exp.apply("dataset=moon")
    assert (exp.state, exp.net) == before


def test_read_and_set_a_single_weight():
    exp = Experiment("networkShape=2&seed=0.3")
    labels = [label for label, _ in exp.links()]
    assert labels[:3] == ["x\u2081 \u2192 h1.1", "x\u2082 \u2192 h1.1", "bias of h1.1"]
    assert len(labels) == 2 * 2 + 2 + 2 + 1                # weights and biases of 2-2-1
    key = dict(exp.links())["h1.2 \u2192 out"]
    exp.set_weight(*key, 1.25)
    assert exp.weight(*key) == 1.25 and exp.net.weights[1][0, 1] == 1.25
    assert exp.history[-1] == exp.losses()
    with pytest.raises(StateError):
        exp.set_weight(5, 0, 0, 1.0)


def test_importing_the_core_imports_no_widget_library_or_toolkit():
    import subprocess
    code = ("import sys, labkit.playground as p; p.Experiment().step(); "
            "print([m for m in ('ipywidgets', 'torch', 'keras', 'jax', 'tensorflow', 'matplotlib') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- drawing ----------------------------------------------------------------------------------
def _decode_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        idat += body if kind == b"IDAT" else b""
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, w * 3 + 1)
    assert not raw[:, 0].any()                                # filter type 0 on every row
    return raw[:, 1:].reshape(h, w, 3)


def test_png_round_trips():
    img = rng().integers(0, 256, size=(17, 23, 3), dtype=np.uint8)
    assert np.array_equal(_decode_png(render.png(img)), img)


def test_heatmap_colours_are_the_originals():
    img = render.heatmap(np.array([[-1.0, 0.0], [1.0, 0.4]]), 4)
    assert img.shape == (4, 4, 3)
    orange, blue = render.PALETTE[0], render.PALETTE[-1]
    assert img[0, 0].tolist() == orange.tolist() and img[3, 0].tolist() == blue.tolist()
    assert render.PALETTE[15].tolist() == np.round(np.array(render.GREY) * 160 / 255 + 95).tolist()
    disc = render.heatmap(np.array([[0.4, -0.01]]).repeat(2, 0), 2, discretize=True)
    assert disc[0, 0].tolist() == blue.tolist() and disc[0, 1].tolist() == orange.tolist()
    assert render.shade_index(np.array([-1, -0.99, 0.999, 1, 5])).tolist() == [0, 0, 30, 30, 30]


def test_points_are_stamped_where_they_are():
    img = render.heatmap(np.zeros((100, 100)), 300)
    render.draw_points(img, np.array([[0.0, 0.0], [6.0, 6.0]]), np.array([1.0, -1.0]))
    assert img[150, 150].tolist() == render.POINT_PALETTE[-1].tolist()   # centre, blue
    assert img[0, 299].tolist() == render.POINT_PALETTE[0].tolist()      # top right, orange
    assert img[150, 154].tolist() == [255, 255, 255]                    # the white ring


def test_network_svg_draws_every_weight_by_sign_and_size():
    exp = Experiment("networkShape=3&seed=0.3")
    exp.net.weights[0][0, 0], exp.net.weights[0][1, 0] = 4.0, -0.1
    svg = render.network_svg(list(features.FEATURES), list(features.FEATURES), exp.state.features,
                             {k: "data:," for k in features.FEATURES},
                             [["data:,"] * 3, ["data:,"]], exp.net, exp.node_names())
    assert svg.count("<path") == 2 * 3 + 3 * 1
    assert 'stroke="#0877bd" stroke-width="8.20"' in svg
    assert "weight -0.100" in svg and render.hex_color(-0.1) in svg
