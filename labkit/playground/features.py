"""The seven input features the network can be fed, in the original's order.

Each feature is a function of the point (x1, x2). The keys are the names the original's
address uses (``x``, ``y``, ``xSquared`` ...), so a state string from the web page reads
here unchanged.
"""
from __future__ import annotations

import numpy as np

#: key -> (label shown next to the input, function of x1 and x2)
FEATURES = {
    "x": ("x\u2081", lambda a, b: a),
    "y": ("x\u2082", lambda a, b: b),
    "xSquared": ("x\u2081\u00b2", lambda a, b: a * a),
    "ySquared": ("x\u2082\u00b2", lambda a, b: b * b),
    "xTimesY": ("x\u2081x\u2082", lambda a, b: a * b),
    "sinX": ("sin(x\u2081)", lambda a, b: np.sin(a)),
    "sinY": ("sin(x\u2082)", lambda a, b: np.sin(b)),
}


class NoFeaturesError(ValueError):
    """Raised when every input feature is switched off."""


def label(name: str) -> str:
    return FEATURES[name][0]


def matrix(X: np.ndarray, names) -> np.ndarray:
    """The network's input: one column per switched-on feature, in the original's order.

    ``X`` is ``(n, 2)``; the result is ``(n, len(names))`` float64.
    """
    names = [k for k in FEATURES if k in set(names)]
    if not names:
        raise NoFeaturesError("every input feature is switched off: switch on at least one "
                              "(x\u2081 and x\u2082 are the usual start)")
    a, b = X[:, 0], X[:, 1]
    return np.stack([FEATURES[k][1](a, b) for k in names], axis=1).astype(np.float64)
