"""The Playground's network trained by JAX: ``jax.grad`` of the summed error, and the
original's update (L1's stop-at-zero included) written with ``jax.numpy``, in one jitted step.

JAX computes in float32 unless 64-bit mode is on; the engine turns it on only around its
own calls (``jax.experimental.enable_x64`` in the workbook's JAX 0.7; newer JAX, as on Colab,
has only ``jax.enable_x64(True)``), so it changes nothing for other code.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import Engine

try:                                    # JAX 0.7, the workbook's pin
    from jax.experimental import enable_x64
except ImportError:                     # newer JAX removed it; its config state is the context manager
    def enable_x64():
        return jax.enable_x64(True)

_ACT = {
    "relu": lambda z: jnp.where(z > 0, z, 0.0),      # derivative 0 at 0, as in the original
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "linear": lambda z: z,
}


class JaxEngine(Engine):
    name = "jax"

    def __init__(self, net, regularization="none", regularization_rate=0.0):
        super().__init__(net, regularization, regularization_rate)
        acts = [_ACT[net.activation]] * (len(net.weights) - 1) + [_ACT[net.output_activation]]
        rate = self.regularization_rate

        def summed_error(params, F, y):
            a = F
            for (W, b), act in zip(params, acts):
                a = act(a @ W.T + b)
            return 0.5 * jnp.sum((a[:, 0] - y) ** 2)

        def step(params, dead, F, y, lr):
            grads = jax.grad(summed_error)(params, F, y)
            n = y.shape[0]
            new_params, new_dead = [], []
            for (W, b), (gW, gb), d in zip(params, grads, dead):
                moved = W - (lr / n) * gW
                if regularization == "L1":
                    new = moved - (lr * rate) * jnp.sign(W)
                    crossed = ~d & (moved * new < 0)
                    new = jnp.where(crossed, 0.0, new)
                    d_next = d | crossed
                elif regularization == "L2":
                    new, d_next = moved - (lr * rate) * W, d
                else:
                    new, d_next = moved, d
                new_params.append((jnp.where(d, W, new), b - lr * gb / n))
                new_dead.append(d_next)
            return new_params, new_dead

        with enable_x64():
            self._step_fn = jax.jit(step)
        self.push()

    def push(self):
        with enable_x64():
            self.params = [(jnp.asarray(W), jnp.asarray(b))
                           for W, b in zip(self.net.weights, self.net.biases)]
            self.dead = [jnp.asarray(d) for d in self.net.dead]

    def pull(self):
        for (W, b), dead, tW, tb, td in zip(self.params, self.dead, self.net.weights,
                                            self.net.biases, self.net.dead):
            tW[...], tb[...], td[...] = np.asarray(W), np.asarray(b), np.asarray(dead)

    def _step(self, F, y, learning_rate):
        with enable_x64():
            self.params, self.dead = self._step_fn(self.params, self.dead, jnp.asarray(F),
                                                   jnp.asarray(y), jnp.float64(learning_rate))
