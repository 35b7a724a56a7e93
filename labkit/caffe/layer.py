"""The base of every layer of the Caffe-style engine: bottoms, tops, blobs, loss weights."""
from __future__ import annotations

import numpy as np
import torch

from labkit.caffe.errors import ShapeError
from labkit.caffe.fillers import fill


def pair_param(repeated, single_h, single_w, has_h: bool, default: int, what: str, name: str) -> tuple[int, int]:
    """A 2-D size from Caffe's fields: ``kernel_h``/``kernel_w`` when set, else the repeated
    ``kernel_size`` (one value for both, or two), else ``default``."""
    if has_h:
        return int(single_h), int(single_w)
    values = list(repeated)
    if not values:
        return default, default
    if len(values) == 1:
        return int(values[0]), int(values[0])
    if len(values) == 2:
        return int(values[0]), int(values[1])
    raise ShapeError(f"layer {name!r}: {what} has {len(values)} values; only 2-D layers are supported")


class Layer:
    """A Caffe layer: ``setup`` (bottom shapes -> top shapes, blobs filled), ``forward``."""

    type = ""
    n_bottom: tuple[int, int] = (1, 1)   # (min, max) number of bottoms
    loss = False

    def __init__(self, param, phase: int, rng: np.random.Generator):
        self.param, self.phase, self.rng = param, phase, rng
        self.name = param.name
        self.blobs: list[torch.Tensor] = []
        lo, hi = self.n_bottom
        if not lo <= len(param.bottom) <= hi:
            want = lo if lo == hi else f"{lo} to {hi}"
            raise ShapeError(f"layer {self.name!r} ({self.type}) takes {want} bottom blob(s), got "
                             f"{len(param.bottom)}: {list(param.bottom)}")

    def setup(self, shapes: list[tuple]) -> list[tuple]:
        raise NotImplementedError

    def forward(self, bottoms: list[torch.Tensor]) -> list[torch.Tensor]:
        raise NotImplementedError

    def loss_weights(self) -> list[float]:
        """Weight of each top in the net's objective: ``loss_weight`` if given, else 1 for
        a loss layer's first top and 0 otherwise (Caffe's defaults)."""
        n = len(self.param.top)
        if self.param.loss_weight:
            return list(self.param.loss_weight) + [0.0] * (n - len(self.param.loss_weight))
        return [1.0 if (self.loss and i == 0) else 0.0 for i in range(n)]

    def _blob(self, shape: tuple, filler) -> torch.Tensor:
        return torch.from_numpy(fill(shape, filler, self.rng)).requires_grad_(True)

    def _shape_error(self, what: str, a, b) -> ShapeError:
        return ShapeError(f"layer {self.name!r} ({self.type}): {what}: {tuple(a)} vs {tuple(b)}")
