"""The Playground's whole configuration, and the short string that carries it.

The string is the original's address fragment: ``key=value`` pairs joined by ``&``, with
the original's key names, so ``#activation=relu&dataset=xor&networkShape=4,4,2&...``
copied from playground.tensorflow.org reads here too (keys for features this version
lacks, such as ``cosX`` or ``tutorial``, are accepted and ignored). ``to_string`` writes
only what differs from the defaults, plus the seed, so strings stay short;
``from_string(to_string(s)) == s`` for every valid state. One key is ours: ``engine``.

Anything wrong in a string raises ``StateError`` saying what was wrong and what would be
right; the widget shows that message instead of a traceback.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from .datasets import CLASSIFICATION, REGRESSION
from .engines import ENGINES
from .features import FEATURES
from .network import ACTIVATIONS, REGULARIZATIONS

#: The original's drop-down steps.
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REGULARIZATION_RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
PROBLEMS = ("classification", "regression")
MAX_LAYERS, MAX_NEURONS = 6, 8

#: Keys of the original's address that this version reads and ignores.
IGNORED_KEYS = ("cosX", "cosY", "collectStats", "tutorial", "hideText")


class StateError(ValueError):
    """A state (or state string) that the Playground cannot use; the message says why."""


@dataclass(frozen=True)
class State:
    dataset: str = "circle"
    reg_dataset: str = "reg-plane"
    problem: str = "classification"
    activation: str = "tanh"
    regularization: str = "none"
    regularization_rate: float = 0.0
    learning_rate: float = 0.03
    batch_size: int = 10
    noise: int = 0
    percent_train: int = 50
    hidden: tuple = (4, 2)
    features: tuple = ("x", "y")
    seed: str = "0.10000"
    show_test_data: bool = False
    discretize: bool = False
    init_zero: bool = False
    engine: str = "numpy"

    def __post_init__(self):
        # Normalise containers so equal states compare equal.
        object.__setattr__(self, "hidden", tuple(int(n) for n in self.hidden))
        object.__setattr__(self, "features", tuple(k for k in FEATURES if k in set(self.features)))

    @property
    def data_name(self) -> str:
        """The dataset in use: ``dataset`` or ``reg_dataset``, by problem type."""
        return self.reg_dataset if self.problem == "regression" else self.dataset

    def seed_int(self) -> int:
        """The seed string as a number for NumPy (the same string gives the same data)."""
        return int.from_bytes(hashlib.sha256(self.seed.encode()).digest()[:8], "little")

    def replace(self, **changes) -> "State":
        new = dataclasses.replace(self, **changes)
        new.validate()
        return new

    def validate(self) -> "State":
        """Raise ``StateError`` if any value is out of the Playground's range."""
        def one_of(what, value, allowed, hint=""):
            if value not in allowed:
                raise StateError(f"unknown {what} {value!r}; choose one of "
                                 f"{', '.join(map(str, allowed))}{hint}")

        hint = (f" ({self.dataset!r} is a regression dataset: use regDataset={self.dataset}"
                "&problem=regression)" if self.dataset in REGRESSION else "")
        one_of("dataset", self.dataset, CLASSIFICATION, hint)
        one_of("regression dataset", self.reg_dataset, REGRESSION)
        one_of("problem type", self.problem, PROBLEMS)
        one_of("activation", self.activation, ACTIVATIONS)
        one_of("regularization", self.regularization, REGULARIZATIONS)
        one_of("engine", self.engine, ENGINES)
        _step("learning rate", self.learning_rate, LEARNING_RATES)
        _step("regularization rate", self.regularization_rate, REGULARIZATION_RATES)
        _whole("batch size", self.batch_size, 1, 30)
        _whole("noise", self.noise, 0, 50)
        _whole("ratio of training data (percent)", self.percent_train, 10, 90)
        if len(self.hidden) > MAX_LAYERS:
            raise StateError(f"{len(self.hidden)} hidden layers; the Playground allows 0 to {MAX_LAYERS}")
        for n in self.hidden:
            _whole("neurons in a hidden layer", n, 1, MAX_NEURONS)
        if not self.seed or any(c in self.seed for c in "&=#"):
            raise StateError(f"seed {self.seed!r} must be a non-empty string without & = #")
        return self


def _step(what, value, steps):
    if not any(math.isclose(value, s, rel_tol=1e-9, abs_tol=1e-12) for s in steps):
        raise StateError(f"{what} {value!r} is not one of the Playground's steps: "
                         f"{', '.join(_num(s) for s in steps)}")


def _whole(what, value, lo, hi):
    if isinstance(value, bool) or not float(value).is_integer() or not lo <= value <= hi:
        raise StateError(f"{what} must be a whole number from {lo} to {hi}, not {value!r}")


def _num(v) -> str:
    return np.format_float_positional(float(v), trim="-")


# Serialisation: (key in the string, State field, how to write, how to read).
def _bool_in(key, text):
    if text not in ("true", "false"):
        raise StateError(f"{key}={text!r}: write true or false")
    return text == "true"


def _float_in(key, text):
    try:
        return float(text)
    except ValueError:
        raise StateError(f"{key}={text!r} is not a number") from None


def _int_in(key, text):
    value = _float_in(key, text)
    if not value.is_integer():
        raise StateError(f"{key}={text!r} must be a whole number")
    return int(value)


def _shape_in(key, text):
    if text.strip() == "":
        return ()
    return tuple(_int_in(key, part) for part in text.split(","))


_FIELDS = [  # the original's order
    ("activation", "activation", str, lambda k, t: t),
    ("regularization", "regularization", str, lambda k, t: t),
    ("batchSize", "batch_size", str, _int_in),
    ("dataset", "dataset", str, lambda k, t: t),
    ("regDataset", "reg_dataset", str, lambda k, t: t),
    ("learningRate", "learning_rate", _num, _float_in),
    ("regularizationRate", "regularization_rate", _num, _float_in),
    ("noise", "noise", str, _int_in),
    ("networkShape", "hidden", lambda v: ",".join(map(str, v)), _shape_in),
    ("seed", "seed", str, lambda k, t: t),
    ("showTestData", "show_test_data", lambda v: str(v).lower(), _bool_in),
    ("discretize", "discretize", lambda v: str(v).lower(), _bool_in),
    ("percTrainData", "percent_train", str, _int_in),
    ("problem", "problem", str, lambda k, t: t),
    ("initZero", "init_zero", lambda v: str(v).lower(), _bool_in),
    ("engine", "engine", str, lambda k, t: t),
]
_BY_KEY = {key: (name, read) for key, name, _, read in _FIELDS}


def to_string(state: State, full: bool = False) -> str:
    """The state as ``key=value&...``; only non-default values and the seed unless ``full``."""
    default = State()
    parts = []
    for key, name, write, _ in _FIELDS:
        value = getattr(state, name)
        if full or name == "seed" or value != getattr(default, name):
            parts.append(f"{key}={write(value)}")
    for key in FEATURES:
        on = key in state.features
        if full or on != (key in default.features):
            parts.append(f"{key}={str(on).lower()}")
    return "&".join(parts)


def from_string(text: str, base: State | None = None) -> State:
    """Read a state string (or a whole address with ``#...``); keys not given keep ``base``'s
    value (the defaults if no base). Raises ``StateError`` on anything malformed."""
    if not isinstance(text, str):
        raise StateError(f"a state string is text, not {type(text).__name__}")
    text = text.strip()
    if "#" in text:
        text = text.split("#", 1)[1]
    text = text.lstrip("?")
    values, features, seen = {}, set((base or State()).features), set()
    for part in filter(None, text.split("&")):
        if part.count("=") != 1:
            raise StateError(f"{part!r} is not of the form key=value (pairs are joined by &)")
        key, value = (s.strip() for s in part.split("="))
        if key in seen:
            raise StateError(f"{key} is given twice")
        seen.add(key)
        if key in _BY_KEY:
            name, read = _BY_KEY[key]
            values[name] = read(key, value)
        elif key in FEATURES:
            (features.add if _bool_in(key, value) else features.discard)(key)
        elif key in IGNORED_KEYS or key.endswith("_hide"):
            continue
        else:
            known = ", ".join([k for k, *_ in _FIELDS] + list(FEATURES))
            raise StateError(f"unknown key {key!r}; the keys are {known}")
    try:
        return dataclasses.replace(base or State(), features=tuple(features), **values).validate()
    except TypeError as err:  # pragma: no cover - a field type the readers did not catch
        raise StateError(str(err)) from None
