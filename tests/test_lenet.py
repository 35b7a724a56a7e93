"""The reference LeNet: its arithmetic, its shared weights, and checks that catch bad conversions."""
import numpy as np
import pytest

from labkit import lenet


@pytest.fixture(scope="module")
def w():
    return lenet.initial_weights()


@pytest.fixture(scope="module")
def probe():
    return lenet.probe_batch()


def test_spec_matches_caffe_lenet():
    assert lenet.N_PARAMS == 431_080
    assert lenet.PARAM_SHAPES["conv1.weight"] == (20, 1, 5, 5)
    assert lenet.PARAM_SHAPES["fc1.weight"] == (500, 800)
    assert "431,080" in lenet.summary()
    flops = lenet.flops_per_image()
    assert 4.5e6 < flops["forward"] < 4.7e6 and 2.8 * flops["forward"] < flops["train_step"] < 3 * flops["forward"]


def test_shared_weights_are_seeded_float32_xavier(w):
    again = lenet.initial_weights()
    assert all(np.array_equal(w[k], again[k]) for k in w)
    assert not np.array_equal(w["fc1.weight"], lenet.initial_weights(seed=1)["fc1.weight"])
    for name, arr in w.items():
        assert arr.dtype == np.float32 and arr.shape == lenet.PARAM_SHAPES[name]
        if name.endswith(".bias"):
            assert not arr.any()
        else:
            bound = np.sqrt(3.0 / np.prod(arr.shape[1:]))
            assert np.abs(arr).max() <= bound and np.abs(arr).max() > 0.95 * bound
            assert abs(arr.std() - bound / np.sqrt(3)) < 0.1 * bound


def test_probe_batch_is_real_digits(probe):
    x, y = probe
    assert x.shape == (20, 1, 28, 28) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.mean() > 0.05
    assert sorted(y.tolist()) == sorted(list(range(10)) * 2)


def test_gradients_match_finite_differences(w, probe):
    x, y = probe[0][:4], probe[1][:4]
    _, g = lenet.loss_and_grads(w, x, y)
    p = {k: v.astype(np.float64) for k, v in w.items()}
    rng = np.random.default_rng(0)
    for name in lenet.PARAM_SHAPES:
        for _ in range(2):
            idx = tuple(int(rng.integers(0, s)) for s in p[name].shape)
            plus = {k: v.copy() for k, v in p.items()}
            minus = {k: v.copy() for k, v in p.items()}
            plus[name][idx] += 1e-5
            minus[name][idx] -= 1e-5
            fd = (lenet.softmax_cross_entropy(lenet.forward(plus, x), y)
                  - lenet.softmax_cross_entropy(lenet.forward(minus, x), y)) / 2e-5
            assert fd == pytest.approx(g[name][idx], rel=1e-4, abs=1e-7), name


def test_reference_agrees_with_pytorch(w, probe):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    t = {k: torch.tensor(v, requires_grad=True) for k, v in w.items()}
    x, y = probe
    h = F.max_pool2d(F.conv2d(torch.tensor(x), t["conv1.weight"], t["conv1.bias"]), 2)
    h = F.max_pool2d(F.conv2d(h, t["conv2.weight"], t["conv2.bias"]), 2)
    h = F.relu(F.linear(h.flatten(1), t["fc1.weight"], t["fc1.bias"]))
    logits = F.linear(h, t["fc2.weight"], t["fc2.bias"])
    assert lenet.check_logits(logits.detach().numpy()) < 1e-5
    F.cross_entropy(logits, torch.tensor(y)).backward()
    stepped = {k: (v - lenet.PROBE_LR * v.grad).detach().numpy() for k, v in t.items()}
    assert max(lenet.check_step(stepped).values()) < 1e-6


def test_check_logits_catches_a_transposed_kernel(w, probe):
    bad = dict(w, **{"conv1.weight": w["conv1.weight"].transpose(0, 1, 3, 2).copy()})
    with pytest.raises(AssertionError, match="differ from the NumPy reference"):
        lenet.check_logits(lenet.forward(bad, probe[0]))


def test_check_logits_catches_an_nhwc_flatten_order(w, probe):
    # fc1 rows read as if pool2 had been flattened in (row, column, channel) order
    fc1 = w["fc1.weight"].reshape(500, 50, 4, 4).transpose(0, 2, 3, 1).reshape(500, 800)
    with pytest.raises(AssertionError, match="flatten order"):
        lenet.check_logits(lenet.forward(dict(w, **{"fc1.weight": fc1}), probe[0]))


def test_check_step_catches_a_missed_bias_update(w, probe):
    stepped = {k: v.copy() for k, v in lenet.reference()["step"].items()}
    stepped["fc2.bias"] = w["fc2.bias"].astype(np.float64)
    with pytest.raises(AssertionError, match="fc2.bias"):
        lenet.check_step(stepped)


def test_bad_inputs_say_what_was_expected(w):
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        lenet.forward(w, np.zeros((2, 28, 28, 1)))
    with pytest.raises(ValueError, match="conv1.weight"):
        lenet.forward(dict(w, **{"conv1.weight": np.zeros((5, 5, 1, 20))}), np.zeros((1, 1, 28, 28)))
    with pytest.raises(KeyError, match="fc2.bias"):
        lenet.forward({k: v for k, v in w.items() if k != "fc2.bias"}, np.zeros((1, 1, 28, 28)))


def test_recipe_inv_policy_and_modes(monkeypatch):
    assert lenet.FULL.lr_at(0) == 0.01
    assert lenet.FULL.lr_at(10_000) == pytest.approx(0.01 * (1 + 1e-4 * 10_000) ** -0.75)
    monkeypatch.setenv("LABKIT_QUICK", "1")
    assert lenet.recipe() is lenet.QUICK
    monkeypatch.setenv("LABKIT_QUICK", "0")
    assert lenet.recipe() is lenet.FULL


def test_quick_dataset_is_a_seeded_subset(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path))
    ds, floor = lenet.dataset(quick=True)
    assert len(ds.train_images) == lenet.QUICK.n_train and len(ds.test_images) == lenet.QUICK.n_test
    assert 0.5 < floor < 1.0
    again, _ = lenet.dataset(quick=True)
    assert np.array_equal(ds.train_labels, again.train_labels)
