"""``Net``: a Caffe net built from a NetParameter for one phase, with pycaffe's interface.

    net = caffe.Net("lenet_deploy.prototxt", caffe.TEST, weights="lenet.caffemodel")
    out = net.forward(data=images)          # {"prob": ...}, numpy arrays
    net.params["conv1"][0].data             # weights, (20, 1, 5, 5), writable
    net.blobs["pool2"].data.shape           # (N, 50, 4, 4)
    net.save("lenet.caffemodel")

Caffe's rules hold: layers are filtered by the phase's include/exclude rules, bottoms must
already exist when a layer runs, a top named like its bottom overwrites it (in place),
layers are named uniquely, and the outputs are the blobs no later layer consumes, in name
order. Parameters are torch tensors; ``.data`` and ``.diff`` are numpy views of them.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from labkit.caffe import caffe_pb2, caffemodel, engine, fillers
from labkit.caffe.errors import CaffemodelError, ShapeError
from labkit.caffe.nets import filter_net
from labkit.caffe.prototxt import read_net


class Blob:
    """pycaffe's Blob: ``.data`` (and ``.diff`` for parameters) as numpy arrays."""

    def __init__(self, tensor: torch.Tensor | None = None, shape: tuple = ()):
        self._tensor, self._shape = tensor, tuple(shape)

    @property
    def data(self) -> np.ndarray:
        if self._tensor is None:
            self._tensor = torch.zeros(self._shape)
        return self._tensor.detach().numpy()

    @property
    def diff(self) -> np.ndarray:
        if self._tensor is None or self._tensor.grad is None:
            return np.zeros(self.shape, np.float32)
        return self._tensor.grad.numpy()

    @property
    def shape(self) -> tuple:
        return tuple(self._tensor.shape) if self._tensor is not None else self._shape

    @property
    def count(self) -> int:
        return int(np.prod(self.shape))

    def reshape(self, *shape) -> None:
        """Give an input blob a new shape (pycaffe's ``net.blobs['data'].reshape(...)``)."""
        self._shape, self._tensor = tuple(shape), torch.zeros(tuple(shape))

    def __repr__(self):
        return f"<Blob {self.shape}>"


class Net:
    """A Caffe net for one phase. ``Net(net, phase)`` or pycaffe's ``Net(net, weights, phase)``;
    ``net`` is a prototxt path or a NetParameter, ``weights`` a .caffemodel path."""

    def __init__(self, network, *args, phase: int | None = None, weights=None, level: int = 0,
                 stages=(), seed: int | None = None, share_from: "Net | None" = None):
        if len(args) == 1:
            phase = args[0]
        elif len(args) == 2:
            weights, phase = args
        elif args:
            raise TypeError("Net(network, phase) or Net(network, weights, phase)")
        if phase not in (caffe_pb2.TRAIN, caffe_pb2.TEST):
            raise TypeError("give the phase: caffe.TRAIN or caffe.TEST")
        root = None
        if isinstance(network, (str, Path)):
            root = Path(network).parent
            network = read_net(network)
        self.phase = phase
        self.param = filter_net(network, phase, level, stages)
        self.name = network.name
        seed = fillers.DEFAULT_SEED[0] if seed is None else seed
        rng = np.random.default_rng(seed if seed is not None and seed >= 0 else None)
        self._build(rng, root, share_from)
        if weights is not None:
            self.copy_from(weights)

    # --- construction ----------------------------------------------------------------

    def _build(self, rng, root, share_from) -> None:
        shapes: dict[str, tuple] = {}
        self.layers: list[engine.Layer] = []
        self._layer_names: list[str] = []
        self.blobs: "OrderedDict[str, Blob]" = OrderedDict()
        self.params: "OrderedDict[str, list[Blob]]" = OrderedDict()
        self.inputs: list[str] = []
        available: set[str] = set()     # Caffe's outputs: blobs made and not consumed since
        for lp in self.param.layer:
            if not lp.name:
                raise ShapeError(f"a layer of type {lp.type!r} has no name; every layer needs one")
            if lp.name in self._layer_names:
                raise ShapeError(f"two layers are named {lp.name!r}; layer names must be unique in a phase")
            if not lp.HasField("phase"):
                lp.phase = self.phase
            missing = [b for b in lp.bottom if b not in shapes]
            if missing:
                raise ShapeError(f"layer {lp.name!r} ({lp.type}) needs bottom blob(s) {missing}, which no "
                                 f"earlier layer produces (blobs so far: {list(shapes)})")
            layer = engine.make_layer(lp, self.phase, rng)
            layer.root = root
            tops = layer.setup([shapes[b] for b in lp.bottom])
            if len(tops) != len(lp.top):
                raise ShapeError(f"layer {lp.name!r} ({lp.type}) makes {len(tops)} top(s), the prototxt names "
                                 f"{len(lp.top)}: {list(lp.top)}")
            for t, (name, shape) in enumerate(zip(lp.top, tops)):
                if name in lp.bottom and shapes[name] != tuple(shape):
                    raise layer._shape_error(f"in-place top {name!r} must keep its shape", shapes[name], shape)
                shapes[name] = tuple(shape)
                self.blobs.setdefault(name, Blob(shape=shape))
            available.difference_update(lp.bottom)
            available.update(lp.top)
            if lp.type == "Input":
                self.inputs.extend(lp.top)
            if share_from is not None and lp.name in share_from.params:
                self._share(layer, share_from)
            if layer.blobs:
                self.params[lp.name] = [Blob(b) for b in layer.blobs]
            self.layers.append(layer)
            self._layer_names.append(lp.name)
        self.outputs = sorted(available)
        self._loss_weights = {(i, t): w for i, layer in enumerate(self.layers)
                              for t, w in enumerate(layer.loss_weights()) if w}

    def _share(self, layer: engine.Layer, other: "Net") -> None:
        """Use ``other``'s parameter tensors (Caffe's ShareTrainedLayersWith, for test nets)."""
        theirs = [b._tensor for b in other.params[layer.name]]
        if [tuple(t.shape) for t in theirs] != [tuple(t.shape) for t in layer.blobs]:
            raise layer._shape_error("cannot share parameters with the train net; shapes",
                                     [tuple(t.shape) for t in theirs], [tuple(t.shape) for t in layer.blobs])
        layer.blobs = theirs

    @property
    def layer_dict(self) -> "OrderedDict[str, engine.Layer]":
        return OrderedDict(zip(self._layer_names, self.layers))

    # --- running ---------------------------------------------------------------------

    def forward(self, start: str | None = None, end: str | None = None, **inputs) -> dict[str, np.ndarray]:
        """Run the layers from ``start`` to ``end`` (names; default all). Keyword arguments
        set blobs first (``data=images``; any batch size), and a layer that would produce a
        fed blob (a Data layer, say) is skipped. Returns the net's outputs (or ``end``'s
        tops) as numpy arrays. In the TRAIN phase the pass is recorded for :meth:`backward`."""
        for name, value in inputs.items():
            if name not in self.blobs:
                raise KeyError(f"the net has no blob {name!r} to feed; its inputs are {self.inputs}")
            value = np.asarray(value)   # copied, so that writing to the blob never changes the caller's array
            self.blobs[name]._tensor = torch.tensor(value, dtype=torch.float32 if value.dtype.kind == "f" else None)
        i0 = self._layer_names.index(start) if start else 0
        i1 = self._layer_names.index(end) if end else len(self.layers) - 1
        grad = self.phase == caffe_pb2.TRAIN or self.param.force_backward
        with torch.set_grad_enabled(grad):
            loss = self._run(i0, i1, skip=set(inputs))
        self._loss = loss if grad else None
        names = self.param.layer[i1].top if end else self.outputs
        return {name: self.blobs[name].data.copy() for name in names}

    def _run(self, i0: int, i1: int, skip=()):
        loss = None
        for i in range(i0, i1 + 1):
            layer, lp = self.layers[i], self.param.layer[i]
            if skip and not lp.bottom and any(t in skip for t in lp.top):
                continue                           # its blobs were fed
            bottoms = [self.blobs[b]._tensor for b in lp.bottom]
            if any(b is None for b in bottoms):
                raise ValueError(f"layer {lp.name!r}: blob(s) {[n for n, b in zip(lp.bottom, bottoms) if b is None]} "
                                 "have no data; feed them: net.forward(name=array)")
            if isinstance(layer, engine.Input):
                continue
            try:
                tops = layer.forward(bottoms)
            except RuntimeError as e:
                shapes = [tuple(b.shape) for b in bottoms]
                raise ShapeError(f"layer {lp.name!r} ({lp.type}) failed on bottoms {list(lp.bottom)} of "
                                 f"shapes {shapes}: {e}") from None
            for t, (name, value) in enumerate(zip(lp.top, tops)):
                self.blobs[name]._tensor = value
                w = self._loss_weights.get((i, t))
                if w:
                    loss = w * value.sum() if loss is None else loss + w * value.sum()
        return loss

    def backward(self) -> None:
        """Add the gradient of the last forward pass's loss to every parameter's ``diff``
        (Caffe accumulates parameter diffs; :meth:`clear_param_diffs` zeroes them)."""
        if getattr(self, "_loss", None) is None:
            raise RuntimeError("backward() needs a forward() in the TRAIN phase (or force_backward: true) "
                               "that computed a loss")
        self._loss.backward()
        self._loss = None

    def clear_param_diffs(self) -> None:
        for blobs in self.params.values():
            for b in blobs:
                b._tensor.grad = None

    def learnable_params(self) -> list[tuple[str, int, torch.Tensor, "caffe_pb2.ParamSpec"]]:
        """(layer name, blob index, tensor, ParamSpec) for every parameter blob, in net order."""
        out = []
        for layer, lp in zip(self.layers, self.param.layer):
            for k, t in enumerate(layer.blobs):
                spec = lp.param[k] if k < len(lp.param) else caffe_pb2.ParamSpec()
                out.append((lp.name, k, t, spec))
        return out

    # --- weights ---------------------------------------------------------------------

    def to_proto(self, write_diff: bool = False) -> "caffe_pb2.NetParameter":
        """The net with its blobs, as Caffe's ``Net::ToProto`` writes it into a .caffemodel."""
        out = caffe_pb2.NetParameter(name=self.name) if self.name else caffe_pb2.NetParameter()
        for layer, lp in zip(self.layers, self.param.layer):
            new = out.layer.add()
            new.CopyFrom(lp)
            del new.blobs[:]
            for t in layer.blobs:
                diff = t.grad.numpy() if write_diff and t.grad is not None else None
                new.blobs.append(caffemodel.array_to_blob(t.detach().numpy(), diff))
        return out

    def save(self, path) -> Path:
        """Write the weights as a binary .caffemodel."""
        return caffemodel.write_caffemodel(path, self.to_proto())

    def copy_from(self, source) -> list[str]:
        """Load the blobs of the layers of a .caffemodel (path or NetParameter) whose names
        match this net's layers, as Caffe's ``CopyTrainedLayersFrom``; layers the net does
        not have are ignored. Returns the names of the layers loaded. A layer whose blobs
        do not fit raises :class:`CaffemodelError` naming the layer and both shapes."""
        src = caffemodel.read_caffemodel(source) if isinstance(source, (str, Path)) else source
        loaded = []
        mine = self.layer_dict
        for sl in src.layer:
            layer = mine.get(sl.name)
            if layer is None or (not sl.blobs and not layer.blobs):
                continue
            if len(sl.blobs) != len(layer.blobs):
                raise CaffemodelError(f"layer {sl.name!r}: the caffemodel has {len(sl.blobs)} blob(s), the net's "
                                      f"{layer.type} layer has {len(layer.blobs)}")
            arrays = [caffemodel.blob_to_array(b) for b in sl.blobs]
            for k, (arr, t) in enumerate(zip(arrays, layer.blobs)):
                if arr.shape != tuple(t.shape):
                    if not (sl.blobs[k].HasField("shape") is False and arr.size == t.numel()):
                        raise CaffemodelError(f"cannot copy blob {k} of layer {sl.name!r}: shape mismatch; the "
                                              f"caffemodel has {arr.shape}, the net wants {tuple(t.shape)}")
                    arr = arr.reshape(tuple(t.shape))   # an old 4-D blob, e.g. (1, 1, 500, 800)
                with torch.no_grad():
                    t.copy_(torch.from_numpy(arr))
            loaded.append(sl.name)
        return loaded

    def __repr__(self):
        kind = "TRAIN" if self.phase == caffe_pb2.TRAIN else "TEST"
        return f"<Net {self.name or '(unnamed)'} {kind}: {len(self.layers)} layers, outputs {self.outputs}>"
