"""Engines: who trains the Playground's network.

``numpy`` (the default) is the exact re-implementation of the original's rule in
``labkit.playground.network``. ``torch``, ``keras`` and ``jax`` train the same network with
those toolkits, in float64, starting from the weights they are given; their loss curves
agree with the NumPy engine's (``tests/test_playground_engines.py`` checks it).

Every engine shares what is the same for all of them (this module): the batching, with
the original's carry-over of an epoch's leftover examples into the next epoch's first
batch. An engine answers three small questions: take a batch and move the weights
(``_step``), load weights from a ``Network`` (``push``), write its weights back (``pull``).
A toolkit is imported only when its engine is created.
"""
from __future__ import annotations

import importlib

import numpy as np

#: engine name -> "module:class", imported on demand.
ENGINES = {
    "numpy": "labkit.playground.engines.numpy_engine:NumpyEngine",
    "torch": "labkit.playground.engines.torch_engine:TorchEngine",
    "keras": "labkit.playground.engines.keras_engine:KerasEngine",
    "jax": "labkit.playground.engines.jax_engine:JaxEngine",
}


#: How far (absolute) an engine's loss curve may be from the NumPy engine's, from the same
#: start, in float64. Measured: at most 6e-16 over 100 epochs (torch, keras on tensorflow,
#: jax); what remains is the order of floating-point additions.
TOLERANCE = 1e-12
#: The same where a toolkit computes in float32 (Keras 3 on its torch or jax backend).
FLOAT32_TOLERANCE = 1e-5


class EngineError(RuntimeError):
    """An engine cannot start here (unknown name, toolkit missing or broken)."""


class Engine:
    """Base class: the batching rule. ``net`` is the ``Network`` the engine trains; after
    every epoch its weights are written back into ``net``, so drawing never needs to know
    which toolkit trained it."""

    name = "?"

    def __init__(self, net, regularization: str = "none", regularization_rate: float = 0.0):
        self.net = net
        self.regularization = regularization
        self.regularization_rate = float(regularization_rate)
        self._pending = (np.zeros((0, net.shape[0])), np.zeros(0))

    def train_epoch(self, F: np.ndarray, y: np.ndarray, batch_size: int,
                    learning_rate: float) -> None:
        """One pass over the training rows in their order: a move after every
        ``batch_size`` rows; leftover rows wait for the next epoch's first move."""
        pend_F, pend_y = self._pending
        start = 0
        for stop in range(batch_size, len(y) + 1, batch_size):
            Fb, yb = F[start:stop], y[start:stop]
            if len(pend_y):
                Fb, yb = np.concatenate([pend_F, Fb]), np.concatenate([pend_y, yb])
                pend_F, pend_y = pend_F[:0], pend_y[:0]
            self._step(Fb, yb, float(learning_rate))
            start = stop
        self._pending = (np.concatenate([pend_F, F[start:]]), np.concatenate([pend_y, y[start:]]))
        self.pull()

    def forget_pending(self) -> None:
        self._pending = (self._pending[0][:0], self._pending[1][:0])

    # What each toolkit answers.
    def _step(self, F, y, learning_rate):   # pragma: no cover - abstract
        raise NotImplementedError

    def push(self) -> None:
        """Load ``self.net``'s weights (after a reset or a weight set by hand)."""

    def pull(self) -> None:
        """Write the engine's weights into ``self.net``."""


def create(name: str, net, regularization: str = "none", regularization_rate: float = 0.0) -> Engine:
    """The engine called ``name`` for ``net``; ``EngineError`` with the reason if it cannot run."""
    if name not in ENGINES:
        raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    module, cls = ENGINES[name].split(":")
    try:
        engine_cls = getattr(importlib.import_module(module), cls)
        return engine_cls(net, regularization, regularization_rate)
    except ImportError as err:
        raise EngineError(f"the {name} engine needs a toolkit that does not import here: {err}. "
                          f"Use the numpy engine, or install the toolkit.") from err
