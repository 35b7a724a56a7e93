"""The Playground's six datasets, generated as the original web page generates them.

Every generator has one signature, ``(n, noise, rng) -> (X, y)``: ``n`` points, ``noise``
as a fraction (the page's slider value / 100, so 0 to 0.5), a NumPy ``Generator``; it
returns ``X`` of shape ``(n, 2)`` and labels ``y`` of shape ``(n,)``. Classification labels
are +1 (blue) and -1 (orange); regression labels are numbers, mostly in [-1, 1].

How noise acts differs between datasets, as in the original: for circle, xor and the two
regression sets a random offset (uniform over the dataset's square, times ``noise``) is
added to a point before it is *labelled*, while the point itself stays where it was, so
noise shows up as wrongly coloured points near the boundary. For gauss the noise widens
the two clouds; for spiral it moves the points themselves.

The numbers are the original's (radius 5 circle split at 2.5 with a gap to 3.5, xor's
0.3 padding, gauss centres at (2, 2) and (-2, -2) with variance 0.5 to 4, spirals of
1.75 turns to radius 5, six regression bumps at x in {-4, 0, 4}, y = +-2.5). The random
numbers are NumPy's, so a seed gives the same data every time here, but not the same
points as the web page gives for that seed.
"""
from __future__ import annotations

import math

import numpy as np

#: How many points the original makes for each kind of problem.
CLASSIFY_SAMPLES = 500
REGRESS_SAMPLES = 1200


def _uniform(rng, lo, hi, size):
    return rng.uniform(lo, hi, size)


def circle(n: int, noise: float, rng: np.random.Generator):
    """Blue points in a disc of radius 2.5, orange ones in a ring from 3.5 to 5."""
    radius = 5.0
    half = math.ceil(n / 2)

    def ring(r_lo, r_hi):
        r = _uniform(rng, r_lo, r_hi, half)
        angle = _uniform(rng, 0, 2 * math.pi, half)
        pts = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
        shift = _uniform(rng, -radius, radius, (half, 2)) * noise
        inside = np.hypot(*(pts + shift).T) < radius * 0.5
        return pts, np.where(inside, 1.0, -1.0)

    (a, la), (b, lb) = ring(0, radius * 0.5), ring(radius * 0.7, radius)
    return np.concatenate([a, b])[:n], np.concatenate([la, lb])[:n]


def xor(n: int, noise: float, rng: np.random.Generator):
    """Four quadrants, blue where x1 and x2 have the same sign; a 0.3 gap along the axes."""
    pts = _uniform(rng, -5, 5, (n, 2))
    pts += np.where(pts > 0, 0.3, -0.3)
    shift = _uniform(rng, -5, 5, (n, 2)) * noise
    moved = pts + shift
    return pts, np.where(moved[:, 0] * moved[:, 1] >= 0, 1.0, -1.0)


def gauss(n: int, noise: float, rng: np.random.Generator):
    """Two Gaussian clouds: blue around (2, 2), orange around (-2, -2)."""
    variance = 0.5 + (4 - 0.5) * noise / 0.5
    half = math.ceil(n / 2)
    blue = rng.normal((2.0, 2.0), math.sqrt(variance), (half, 2))
    orange = rng.normal((-2.0, -2.0), math.sqrt(variance), (half, 2))
    X = np.concatenate([blue, orange])[:n]
    y = np.concatenate([np.ones(half), -np.ones(half)])[:n]
    return X, y


def spiral(n: int, noise: float, rng: np.random.Generator):
    """Two interleaved spirals of 1.75 turns each, from the centre out to radius 5."""
    per_arm = n / 2
    i = np.arange(math.ceil(per_arm))
    r = i / per_arm * 5
    parts, labels = [], []
    for delta, label in ((0.0, 1.0), (math.pi, -1.0)):
        t = 1.75 * i / per_arm * 2 * math.pi + delta
        jitter = _uniform(rng, -1, 1, (len(i), 2)) * noise
        parts.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + jitter)
        labels.append(np.full(len(i), label))
    return np.concatenate(parts)[:n], np.concatenate(labels)[:n]


def reg_plane(n: int, noise: float, rng: np.random.Generator):
    """Regression on a tilted plane: the label is (x1 + x2) / 10."""
    pts = _uniform(rng, -6, 6, (n, 2))
    shift = _uniform(rng, -6, 6, (n, 2)) * noise
    return pts, (pts + shift).sum(axis=1) / 10


_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1],
                   [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]], dtype=float)


def reg_gauss(n: int, noise: float, rng: np.random.Generator):
    """Regression on six bumps of alternating sign; each falls to 0 at distance 2."""
    pts = _uniform(rng, -6, 6, (n, 2))
    moved = pts + _uniform(rng, -6, 6, (n, 2)) * noise
    dist = np.hypot(moved[:, None, 0] - _BUMPS[:, 0], moved[:, None, 1] - _BUMPS[:, 1])
    values = _BUMPS[:, 2] * np.clip(1 - dist / 2, 0, 1)          # (n, 6)
    pick = np.argmax(np.abs(values), axis=1)                     # the strongest bump wins
    return pts, values[np.arange(n), pick]


#: Name (as in the original's address) -> generator.
CLASSIFICATION = {"circle": circle, "xor": xor, "gauss": gauss, "spiral": spiral}
REGRESSION = {"reg-plane": reg_plane, "reg-gauss": reg_gauss}
DATASETS = {**CLASSIFICATION, **REGRESSION}


def generate(name: str, noise_percent: float, percent_train: int, rng: np.random.Generator):
    """The original's data step: make the points, shuffle them, split into train and test.

    Returns ``(X_train, y_train, X_test, y_test)``. ``noise_percent`` is the slider value
    (0-50); ``percent_train`` the train share in percent (10-90).
    """
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    n = REGRESS_SAMPLES if name in REGRESSION else CLASSIFY_SAMPLES
    X, y = DATASETS[name](n, noise_percent / 100, rng)
    order = rng.permutation(len(y))
    X, y = X[order], y[order]
    cut = int(math.floor(len(y) * percent_train / 100))
    return X[:cut], y[:cut], X[cut:], y[cut:]
