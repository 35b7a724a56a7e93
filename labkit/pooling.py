"""Max-pooling and float32: which element of a tied window gets the gradient, and what a near tie costs.

A max-pooling window passes its largest value forward and the gradient back to it. With an
exact tie (a window over blank background holds four equal values) a toolkit must choose:
Caffe routes it to the first maximum in row-major order; others could take the last, split it
evenly, or give every maximum all of it (``TIES``). ``pool_routing`` finds out which, from one
SGD step of a chapter's own network on crafted weights and images (``routing_case``).

A near tie is two values closer than float32 can resolve after the sums that made them: a
float32 toolkit may pick the runner-up where the float64 reference picks the winner, and that
window's gradient lands elsewhere. ``window_gaps`` finds them in the float64 reference;
``flip_cost`` says how far one such flip moves conv2's weights after one SGD step.
"""
from __future__ import annotations

import numpy as np

from labkit import lenet

#: The tie patterns ``pool_routing`` builds, as positions in a 2x2 window in row-major order
#: (0: top left, 1: top right, 2: bottom left, 3: bottom right).
TIE_PATTERNS = ((0, 1), (0, 2), (1, 2), (0, 1, 2, 3))
#: The ways to route a tied window's gradient (``lenet.loss_and_grads(..., ties=...)``).
TIES = ("first", "last", "split", "all")
#: What ``pool_routing`` can tell apart: ``TIES``, and the first maximum in column-major order
#: (a toolkit that scans a window column by column, as ConvNetJS's loops over x then y do).
#: In LeNet they all give the same step (tied windows see identical patches) except "all".
RULES = ("first", "first by column", "last", "split", "all")
_COLUMN_ORDER = (0, 2, 1, 3)

#: Where each pattern's tied pool1 window sits: its pool2 window, one per pattern, far apart.
_POOL2_WINDOWS = ((0, 0), (0, 2), (2, 0), (2, 2))


def routing_case(seed: int = 0):
    """Weights and one image that put each of ``TIE_PATTERNS`` in a chain of its own: conv1
    filter f and conv2 filter f copy their input (a 1 at the kernel's centre) and fc1 reads one
    pool2 output of channel f, so filter f of conv1's gradient comes from pattern f's window
    alone. The image is random in [0, 0.5) except pattern f's pool1 window, the strongest in its
    pool2 window, whose positions ``TIE_PATTERNS[f]`` hold the same value, 0.9.
    Returns ``(weights, x, y, windows)``, ``windows[f]`` the tied window's top-left in conv1's output."""
    rng = np.random.default_rng(seed)
    w = {k: np.zeros(s, np.float32) for k, s in lenet.PARAM_SHAPES.items()}
    x = rng.uniform(0.0, 0.5, size=(1, 1, 28, 28)).astype(np.float32)
    windows = []
    for f, (tied, (r, c)) in enumerate(zip(TIE_PATTERNS, _POOL2_WINDOWS)):
        w["conv1.weight"][f, 0, 2, 2] = 1.0
        w["conv2.weight"][f, f, 2, 2] = 1.0
        w["fc1.weight"][0, f * 16 + r * 4 + c] = 1.0      # flattened (channel, row, column)
        window = (4 * r + 6, 4 * c + 6)                   # pool2 (r, c) <- conv2 (2r+1, 2c+1) <- pool1 (2r+3, 2c+3)
        for pos in tied:
            x[0, 0, window[0] + pos // 2 + 2, window[1] + pos % 2 + 2] = 0.9     # +2: the centre tap
        windows.append(window)
    w["fc1.bias"][0] = 0.5
    w["fc2.weight"][:, 0] = np.linspace(-1.0, 1.0, 10, dtype=np.float32)
    return w, x, np.array([3]), windows


def routing_weights(w: dict, x: np.ndarray, y: np.ndarray, f: int, window, grad_conv1) -> np.ndarray:
    """How much of pattern ``f``'s tied window's gradient went to each of its four positions,
    read off ``grad_conv1`` (conv1.weight's gradient, (20, 1, 5, 5)) by least squares:
    (1, 0, 0, 0) is "all to the top-left", (0.5, 0.5, 0, 0) an even split of a two-way tie."""
    got = np.asarray(grad_conv1, np.float64)[f, 0].ravel()
    _, g = lenet.loss_and_grads(w, x, y, ties="first")
    logits = lenet.forward(w, x)[0]
    prob = np.exp(logits - logits.max())
    prob /= prob.sum()
    upstream = float((prob - np.eye(10)[y[0]]) @ np.asarray(w["fc2.weight"][:, 0], np.float64))
    xx = np.asarray(x[0, 0], np.float64)
    (r, c), k = window, 5
    patches = np.stack([xx[r + p // 2:r + p // 2 + k, c + p % 2:c + p % 2 + k].ravel() for p in range(4)], axis=1)
    first = int(np.argmax([xx[r + p // 2 + 2, c + p % 2 + 2] for p in range(4)]))
    base = g["conv1.weight"][f, 0].ravel() - upstream * patches[:, first]
    share, *_ = np.linalg.lstsq(patches, (got - base) / upstream, rcond=None)
    return share


def expected_share(tied: tuple[int, ...], ties: str) -> np.ndarray:
    """The share of each position under a routing rule, for the positions ``tied``."""
    if ties not in RULES:
        raise ValueError(f"ties={ties!r}: choose one of {', '.join(RULES)}")
    share = np.zeros(4)
    if ties in ("first", "last"):
        share[min(tied) if ties == "first" else max(tied)] = 1.0
    elif ties == "first by column":
        share[min(tied, key=_COLUMN_ORDER.index)] = 1.0
    else:
        share[list(tied)] = 1.0 / len(tied) if ties == "split" else 1.0
    return share


def pool_routing(namespace: dict, lr: float = lenet.PROBE_LR) -> dict:
    """For each of ``TIE_PATTERNS``: the share of the tied window's gradient each position got
    in one call of the chapter's own ``sgd_step``, and the ``RULES`` it is consistent with
    (a pattern can fit several; ``rule_of`` names the one that fits them all)."""
    w, x, y, windows = routing_case()
    model = namespace["build_lenet"]()
    namespace["load_canonical"](model, w)
    namespace["sgd_step"](model, x, y, lr)
    after = np.asarray(namespace["export_canonical"](model)["conv1.weight"], np.float64)
    grad = (w["conv1.weight"].astype(np.float64) - after) / lr
    out = {}
    for f, (tied, window) in enumerate(zip(TIE_PATTERNS, windows)):
        share = routing_weights(w, x, y, f, window, grad)
        fits = [t for t in RULES if np.allclose(share, expected_share(tied, t), atol=1e-3)]
        out["".join(map(str, tied))] = {"share": [round(float(v), 6) for v in share], "rules": fits}
    return out


def rule_of(routing: dict) -> str:
    """The one rule of ``RULES`` every pattern of a ``pool_routing`` result fits, or "none"."""
    fits = [t for t in RULES if all(t in r["rules"] for r in routing.values())]
    return fits[0] if fits else "none"


def _windows(a: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, C, H/2, W/2, 4): each 2x2 pooling window in row-major order."""
    n, c, h, w = a.shape
    return a.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)


def _conv(x, w, b):
    win = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))
    return np.einsum("nchwij,ocij->nohw", win, w, optimize=True) + b[:, None, None]


def pool_inputs(params: dict, x: np.ndarray) -> dict[str, np.ndarray]:
    """The float64 inputs of both pooling layers (``conv1`` and ``conv2`` outputs) and pool1's output."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    a1 = _conv(np.asarray(x, np.float64), p["conv1.weight"], p["conv1.bias"])
    p1 = _windows(a1).max(axis=-1)
    return {"pool1": a1, "pool2": _conv(p1, p["conv2.weight"], p["conv2.bias"]), "pool1_out": p1}


def window_gaps(params: dict, x: np.ndarray, layer: str = "pool2") -> np.ndarray:
    """For every window of ``layer`` ('pool1' or 'pool2'): its largest value minus its runner-up
    (0 for an exact tie), shape (N, C, H/2, W/2)."""
    if layer not in ("pool1", "pool2"):
        raise ValueError(f"layer={layer!r}: choose 'pool1' or 'pool2'")
    top = np.sort(_windows(pool_inputs(params, x)[layer]), axis=-1)
    return top[..., 3] - top[..., 2]


def flip_cost(params: dict, x: np.ndarray, y: np.ndarray, window: tuple, lr: float = lenet.PROBE_LR) -> float:
    """How far conv2's weights move, after one SGD step at ``lr``, when pool2 ``window``
    (n, c, row, col) sends its gradient to its runner-up instead of its maximum (the largest
    change of any conv2 weight; conv1 moves too, less)."""
    n, c, i, j = window
    acts = pool_inputs(params, x)
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    p2 = _windows(acts["pool2"]).max(axis=-1)
    h = p2.reshape(len(x), -1) @ p["fc1.weight"].T + p["fc1.bias"]
    logits = np.maximum(h, 0) @ p["fc2.weight"].T + p["fc2.bias"]
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    d = (prob - np.eye(10)[np.asarray(y)]) / len(x)
    dp2 = (((d @ p["fc2.weight"]) * (h > 0)) @ p["fc1.weight"]).reshape(p2.shape)
    order = np.argsort(-_windows(acts["pool2"])[n, c, i, j], kind="stable")
    (r0, c0), (r1, c1) = [(2 * i + k // 2, 2 * j + k % 2) for k in order[:2]]
    k = p["conv2.weight"].shape[2]
    patch = acts["pool1_out"][n]
    change = lr * dp2[n, c, i, j] * (patch[:, r1:r1 + k, c1:c1 + k] - patch[:, r0:r0 + k, c0:c0 + k])
    return float(np.abs(change).max())
