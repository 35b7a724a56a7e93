"""The default engine: the original's training rule in NumPy (``labkit.playground.network``)."""
from __future__ import annotations

from . import Engine


class NumpyEngine(Engine):
    """Trains ``net`` in place: nothing to copy in or out.

    One difference in bookkeeping, none in the numbers: the original adds up an epoch's
    leftover examples' derivatives as it meets them, while the engines keep those rows and
    differentiate them at the next move. No move happens in between, so the weights are
    the same and so are the derivatives (unless you set a weight by hand in between: then
    the hand-set weight is used).
    """

    name = "numpy"

    def _step(self, F, y, learning_rate):
        gw, gb = self.net.gradients(F, y)
        self.net.update(gw, gb, len(y), learning_rate, self.regularization,
                        self.regularization_rate)
