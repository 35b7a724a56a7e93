"""Caffe's fillers: how a parameter blob gets its first values (``FillerParameter``)."""
from __future__ import annotations

import math

import numpy as np

from labkit.caffe import caffe_pb2

#: Filler seed of nets built without a solver (``caffe.set_random_seed`` changes it).
DEFAULT_SEED = [-1]


def fill(shape: tuple, filler, rng: np.random.Generator) -> np.ndarray:
    """An array of ``shape`` filled as Caffe's filler ``filler`` (a FillerParameter) fills it.

    xavier: uniform on [-s, s] with s = sqrt(3 / n); msra: gaussian with std sqrt(2 / n);
    n is the fan-in (count / shape[0]), the fan-out (count / shape[1]) or their mean, as
    ``variance_norm`` says. constant, uniform and gaussian take value, min/max, mean/std.
    """
    count = int(np.prod(shape))
    kind = filler.type
    if kind == "constant":
        return np.full(shape, filler.value, np.float32)
    if kind == "uniform":
        return rng.uniform(filler.min, filler.max, size=shape).astype(np.float32)
    if kind == "gaussian":
        if filler.sparse >= 0:
            raise NotImplementedError("the sparse gaussian filler is not supported; drop `sparse`")
        return rng.normal(filler.mean, filler.std, size=shape).astype(np.float32)
    if kind in ("xavier", "msra"):
        fan_in = count / shape[0]
        fan_out = count / shape[1] if len(shape) > 1 else count
        n = {caffe_pb2.FillerParameter.FAN_IN: fan_in, caffe_pb2.FillerParameter.FAN_OUT: fan_out,
             caffe_pb2.FillerParameter.AVERAGE: (fan_in + fan_out) / 2}[filler.variance_norm]
        if kind == "xavier":
            scale = math.sqrt(3.0 / n)
            return rng.uniform(-scale, scale, size=shape).astype(np.float32)
        return rng.normal(0.0, math.sqrt(2.0 / n), size=shape).astype(np.float32)
    raise ValueError(f"unknown filler type {kind!r}; supported: constant, uniform, gaussian, xavier, msra")
