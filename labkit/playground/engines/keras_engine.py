"""The Playground's network trained by Keras 3: float64 ``Dense`` layers, ``train_on_batch``, SGD.

Backend. Keras picks its backend when first imported. If nothing has imported Keras yet,
this engine asks for the tensorflow backend (Keras' own default) unless ``KERAS_BACKEND``
says otherwise, because it is the backend on which Keras keeps float64: on the torch and
jax backends Keras 3 computes a float64 ``matmul`` in float32 (its type promotion turns
64-bit into 32-bit "to align with JAX"), so the curve then agrees with the NumPy engine
only to about 1e-6 rather than 1e-12. ``exact`` says which case you are in.

Keras builds its loss and its learning-rate variable in ``floatx()``; the engine sets
``floatx`` to float64 while it builds and trains, and puts it back after each call.

The loss is ``0.5 * (output - label)**2`` averaged over the batch (Keras' default
reduction), which gives the original's ``lr / count * sum``. L2 is a
``kernel_regularizer`` of ``reg_rate / 2 * sum(w**2)``, whose gradient is ``reg_rate * w_old``:
the original's L2 step (a small custom regularizer: Keras' own ``L2`` rounds its factor to
float32 on the way). The original's L1 stops a weight at zero, which no Keras regularizer
does, so L1 is applied after each step, on the kernels.
"""
from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from . import Engine

if "keras" not in sys.modules:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402


@contextlib.contextmanager
def _float64():
    before = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        yield
    finally:
        keras.config.set_floatx(before)


class _HalfSquared(keras.losses.Loss):
    def call(self, y_true, y_pred):
        return 0.5 * keras.ops.square(y_pred - y_true)


class _HalfL2(keras.regularizers.Regularizer):
    """``rate / 2 * sum(w**2)``, whose gradient is ``rate * w``. Keras' own ``L2`` casts its
    factor with ``ops.cast(python_float, dtype)``, which on tensorflow goes through float32;
    multiplying the float64 tensor by the Python float keeps the factor exact."""

    def __init__(self, rate):
        self.rate = float(rate)

    def __call__(self, x):
        return keras.ops.sum(keras.ops.square(x)) * (self.rate / 2)

    def get_config(self):
        return {"rate": self.rate}


class KerasEngine(Engine):
    name = "keras"

    def __init__(self, net, regularization="none", regularization_rate=0.0):
        super().__init__(net, regularization, regularization_rate)
        self.exact = keras.backend.backend() == "tensorflow"
        reg = _HalfL2(self.regularization_rate) if regularization == "L2" else None
        shape = net.shape
        with _float64():
            inputs = keras.Input((shape[0],))
            x, self.dense = inputs, []
            for i, n_out in enumerate(shape[1:]):
                last = i == len(shape) - 2
                layer = keras.layers.Dense(
                    n_out, kernel_regularizer=reg,
                    activation=net.output_activation if last else net.activation)
                x = layer(x)
                self.dense.append(layer)
            self.model = keras.Model(inputs, x)
            self.model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.03),
                               loss=_HalfSquared(), jit_compile=False)
        self.push()

    def push(self):
        for layer, W, b in zip(self.dense, self.net.weights, self.net.biases):
            layer.kernel.assign(W.T)
            layer.bias.assign(b)
        self.dead = [d.copy() for d in self.net.dead]

    def pull(self):
        for layer, W, b, d, dead in zip(self.dense, self.net.weights, self.net.biases,
                                        self.net.dead, self.dead):
            W[...] = keras.ops.convert_to_numpy(layer.kernel).T
            b[...] = keras.ops.convert_to_numpy(layer.bias)
            d[...] = dead

    def _step(self, F, y, learning_rate):
        with _float64():
            if float(self.model.optimizer.learning_rate) != learning_rate:
                self.model.optimizer.learning_rate = learning_rate
            l1 = self.regularization == "L1"
            if l1 or any(d.any() for d in self.dead):
                old = [keras.ops.convert_to_numpy(layer.kernel).T for layer in self.dense]
                self.model.train_on_batch(F, y[:, None])
                self._l1_and_dead(old, learning_rate, l1)
            else:
                self.model.train_on_batch(F, y[:, None])

    def _l1_and_dead(self, old, learning_rate, l1):
        for layer, w_old, dead in zip(self.dense, old, self.dead):
            moved = keras.ops.convert_to_numpy(layer.kernel).T
            new = moved
            if l1:
                new = moved - (learning_rate * self.regularization_rate) * np.sign(w_old)
                dead |= ~dead & (moved * new < 0)
            layer.kernel.assign(np.where(dead, 0.0, new).T)
