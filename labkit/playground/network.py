"""The Playground's network and training rule, in NumPy, as the original's ``nn.ts`` has them.

The network is fully connected: the switched-on input features, 0 to 6 hidden layers of
1 to 8 neurons with one activation, and one output neuron (tanh for classification,
linear for regression). The error is the squared error ``0.5 * (output - label)**2``.

Training, exactly as the original does it (what ``update`` and the engines reproduce):

* Initial weights are uniform in [-0.5, 0.5), every bias starts at 0.1 ("init zero" makes
  both 0). Weights are drawn destination neuron by destination neuron.
* Each example's derivatives are *added up*; after ``batch_size`` examples the weights
  move by ``learning_rate / count * sum``, where ``count`` is the number of examples
  added since the last move. An epoch's leftover examples carry over into the first
  batch of the next epoch (the original never flushes them).
* Regularisation acts on weights, never on biases, with its derivative taken at the
  weight *before* the move and *not* divided by ``count``:
  ``w <- w - lr / count * sum - lr * reg_rate * reg'(w_old)``. With L1, a weight that the
  penalty pushes across zero is set to 0 and is "dead" from then on: it stays 0 and is
  no longer trained (the original's ``isDead``).

Here the examples of a batch go through the network together, as matrices; the original
goes one example at a time. Because the weights do not change inside a batch, the
numbers are the same up to the order of floating-point additions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np


class Activation(NamedTuple):
    f: Callable[[np.ndarray], np.ndarray]
    der: Callable[[np.ndarray], np.ndarray]   # derivative, as a function of the neuron's input


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


ACTIVATIONS = {
    "relu": Activation(lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64)),
    "tanh": Activation(np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": Activation(_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "linear": Activation(lambda z: z, np.ones_like),
}


class Regularization(NamedTuple):
    penalty: Callable[[np.ndarray], np.ndarray]
    der: Callable[[np.ndarray], np.ndarray]


REGULARIZATIONS = {
    "none": None,
    "L1": Regularization(np.abs, np.sign),          # sign(0) = 0, as the original's L1 has it
    "L2": Regularization(lambda w: 0.5 * w * w, lambda w: w),
}


def output_activation(problem: str) -> str:
    return "linear" if problem == "regression" else "tanh"


@dataclass
class Network:
    """Weights ``weights[l]`` of shape ``(n_out, n_in)`` (as ``torch.nn.Linear`` keeps them),
    biases ``biases[l]`` of shape ``(n_out,)``, and ``dead[l]``, the L1-killed links."""

    weights: list
    biases: list
    activation: str = "tanh"
    output_activation: str = "tanh"
    dead: list = field(default=None)

    def __post_init__(self):
        if self.dead is None:
            self.dead = [np.zeros(w.shape, bool) for w in self.weights]

    @classmethod
    def build(cls, shape, activation="tanh", output_activation="tanh", rng=None,
              init_zero=False) -> "Network":
        """A fresh network of layer sizes ``shape`` (inputs, hidden..., 1)."""
        rng = np.random.default_rng() if rng is None else rng
        weights, biases = [], []
        for n_in, n_out in zip(shape[:-1], shape[1:]):
            if init_zero:
                weights.append(np.zeros((n_out, n_in)))
                biases.append(np.zeros(n_out))
            else:
                weights.append(rng.random((n_out, n_in)) - 0.5)
                biases.append(np.full(n_out, 0.1))
        return cls(weights, biases, activation, output_activation)

    @property
    def shape(self) -> list:
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

    def copy(self) -> "Network":
        return Network([w.copy() for w in self.weights], [b.copy() for b in self.biases],
                       self.activation, self.output_activation, [d.copy() for d in self.dead])

    def _act(self, layer: int) -> Activation:
        last = layer == len(self.weights) - 1
        return ACTIVATIONS[self.output_activation if last else self.activation]

    def forward(self, F: np.ndarray) -> list:
        """Every layer's ``(inputs_to_neurons, outputs)`` for the rows of ``F``."""
        out, a = [], F
        for layer, (W, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ W.T + b
            a = self._act(layer).f(z)
            out.append((z, a))
        return out

    def predict(self, F: np.ndarray) -> np.ndarray:
        return self.forward(F)[-1][1][:, 0]

    def loss(self, F: np.ndarray, y: np.ndarray) -> float:
        """The mean of ``0.5 * (output - label)**2``: the number the original displays."""
        if len(y) == 0:
            return 0.0
        return float(np.mean(0.5 * (self.predict(F) - y) ** 2))

    def gradients(self, F: np.ndarray, y: np.ndarray):
        """Derivatives of the *summed* error over the rows, for every weight and bias."""
        layers = self.forward(F)
        inputs = [F] + [a for _, a in layers[:-1]]
        delta = (layers[-1][1][:, 0] - y)[:, None] * self._act(len(layers) - 1).der(layers[-1][0])
        gw, gb = [None] * len(layers), [None] * len(layers)
        for layer in range(len(layers) - 1, -1, -1):
            gw[layer] = np.where(self.dead[layer], 0.0, delta.T @ inputs[layer])
            gb[layer] = delta.sum(axis=0)
            if layer:
                delta = (delta @ self.weights[layer]) * self._act(layer - 1).der(layers[layer - 1][0])
        return gw, gb

    def update(self, gw, gb, count: int, learning_rate: float, regularization: str = "none",
               regularization_rate: float = 0.0) -> None:
        """One move of the weights with ``count`` examples' summed derivatives (see the module)."""
        reg = REGULARIZATIONS[regularization]
        for layer, (W, b) in enumerate(zip(self.weights, self.biases)):
            b -= learning_rate * gb[layer] / count
            live = ~self.dead[layer]
            reg_der = reg.der(W) if reg else 0.0
            moved = W - (learning_rate / count) * gw[layer]
            new = moved - (learning_rate * regularization_rate) * reg_der
            if regularization == "L1":
                crossed = live & (moved * new < 0)
                new[crossed] = 0.0
                self.dead[layer] |= crossed
            W[live] = new[live]

    def penalty(self, regularization: str) -> float:
        """The regularisation term, summed over live weights (shown, never trained on here)."""
        reg = REGULARIZATIONS[regularization]
        return 0.0 if reg is None else float(sum(reg.penalty(W).sum() for W in self.weights))
