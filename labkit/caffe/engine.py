"""Caffe's layers, computed with PyTorch.

Each class reads its LayerParameter the way Caffe's layer of the same type does, works out
its top shapes at set-up (so shape errors appear when the net is built, naming the layer),
fills its parameter blobs with Caffe's fillers, and computes the forward pass with torch;
autograd gives the backward pass. Blob layouts are Caffe's: NCHW activations, convolution
weights (out, in/group, kh, kw), InnerProduct weights (out, in).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from labkit.caffe import caffe_pb2
from labkit.caffe.errors import ShapeError, UnknownLayerError
from labkit.caffe.layer import Layer, pair_param

class Input(Layer):
    type, n_bottom = "Input", (0, 0)

    def setup(self, shapes):
        p, n = self.param.input_param, len(self.param.top)
        if len(p.shape) not in (1, n):
            raise ShapeError(f"layer {self.name!r} (Input): {len(p.shape)} shapes for {n} tops; give 1 or {n}")
        return [tuple(p.shape[i if len(p.shape) > 1 else 0].dim) for i in range(n)]


class Data(Layer):
    """Reads a database of Datum records in order, batch after batch, starting over at the
    end, as Caffe's Data layer does (no shuffling: the database order is the order)."""

    type, n_bottom = "Data", (0, 0)
    root = None   # the prototxt's directory: tried for a relative source after the working directory

    def setup(self, shapes):
        from labkit.caffe import db

        p, t = self.param.data_param, self.param.transform_param
        if p.backend != caffe_pb2.DataParameter.LMDB:
            raise ValueError(f"layer {self.name!r}: backend LEVELDB is not supported; use backend: LMDB "
                             "(P.Data.LMDB); labkit.caffe.convert_mnist writes an LMDB")
        if t.crop_size or t.mirror or t.mean_file or p.crop_size or p.mirror or p.mean_file:
            raise ValueError(f"layer {self.name!r}: crop_size, mirror and mean_file are not supported; "
                             "scale and mean_value are")
        if not p.batch_size:
            raise ValueError(f"layer {self.name!r}: data_param.batch_size is not set")
        self.images, self.labels = db.read_lmdb(db.resolve_source(p.source, self.root), cached=True)
        c = self.images.shape[1]
        mean = np.zeros(c, np.float32) if not t.mean_value else np.broadcast_to(
            np.asarray(t.mean_value, np.float32), (c,))
        self.mean = torch.from_numpy(np.ascontiguousarray(mean)).view(1, c, 1, 1)
        self.scale = float(np.float32(t.scale) * np.float32(p.scale))
        self.cursor = 0
        self.batch = int(p.batch_size)
        tops = [(self.batch,) + self.images.shape[1:], (self.batch,)]
        if not 1 <= len(self.param.top) <= 2:
            raise ShapeError(f"layer {self.name!r} (Data) has tops data and (optionally) label; got {list(self.param.top)}")
        return tops[: len(self.param.top)]

    def forward(self, bottoms):
        n = len(self.images)
        idx = (self.cursor + np.arange(self.batch)) % n
        self.cursor = (self.cursor + self.batch) % n
        x = torch.from_numpy(self.images[idx]).float()
        x = (x - self.mean) * self.scale
        return [x, torch.from_numpy(self.labels[idx])][: len(self.param.top)]


class Convolution(Layer):
    type = "Convolution"

    def setup(self, shapes):
        p, (shape,) = self.param.convolution_param, shapes
        if len(shape) != 4:
            raise ShapeError(f"layer {self.name!r} (Convolution) needs a 4-D bottom (N, C, H, W), got {shape}")
        self.k = pair_param(p.kernel_size, p.kernel_h, p.kernel_w, p.HasField("kernel_h"), 0, "kernel_size", self.name)
        self.s = pair_param(p.stride, p.stride_h, p.stride_w, p.HasField("stride_h"), 1, "stride", self.name)
        self.p = pair_param(p.pad, p.pad_h, p.pad_w, p.HasField("pad_h"), 0, "pad", self.name)
        self.d = pair_param(p.dilation, 0, 0, False, 1, "dilation", self.name)
        self.group = int(p.group)
        n, c, h, w = shape
        if not p.num_output or min(self.k) < 1:
            raise ShapeError(f"layer {self.name!r} (Convolution): set num_output and kernel_size")
        if c % self.group or p.num_output % self.group:
            raise ShapeError(f"layer {self.name!r}: channels {c} and num_output {p.num_output} must be "
                             f"multiples of group {self.group}")
        out = [(size + 2 * pad - (dil * (k - 1) + 1)) // s + 1
               for size, pad, dil, k, s in zip((h, w), self.p, self.d, self.k, self.s)]
        if min(out) < 1:
            raise self._shape_error(f"kernel {self.k} (pad {self.p}) larger than the input; bottom shape and kernel",
                                    shape, self.k)
        self.blobs = [self._blob((p.num_output, c // self.group) + self.k, p.weight_filler)]
        if p.bias_term:
            self.blobs.append(self._blob((p.num_output,), p.bias_filler))
        return [(n, p.num_output, *out)]

    def forward(self, bottoms):
        bias = self.blobs[1] if len(self.blobs) > 1 else None
        return [F.conv2d(bottoms[0], self.blobs[0], bias, self.s, self.p, self.d, self.group)]


def pooled_size(size: int, kernel: int, stride: int, pad: int, ceil: bool = True) -> int:
    """Caffe's pooled output size: rounded up (the default), and a window that would start
    in the padding past the end is dropped."""
    span = size + 2 * pad - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if pad and (out - 1) * stride >= size + pad:
        out -= 1
    return out


class Pooling(Layer):
    type = "Pooling"

    def setup(self, shapes):
        p, (shape,) = self.param.pooling_param, shapes
        if len(shape) != 4:
            raise ShapeError(f"layer {self.name!r} (Pooling) needs a 4-D bottom (N, C, H, W), got {shape}")
        n, c, h, w = shape
        if p.pool == caffe_pb2.PoolingParameter.STOCHASTIC:
            raise NotImplementedError(f"layer {self.name!r}: STOCHASTIC pooling is not supported (MAX, AVE are)")
        if p.global_pooling:
            self.k, self.s, self.p = (h, w), (1, 1), (0, 0)
        else:
            kh, kw = (p.kernel_h, p.kernel_w) if p.HasField("kernel_h") else (p.kernel_size, p.kernel_size)
            if not kh:
                raise ShapeError(f"layer {self.name!r} (Pooling): set kernel_size (or global_pooling)")
            self.k = (int(kh), int(kw))
            self.s = (int(p.stride_h), int(p.stride_w)) if p.HasField("stride_h") else (int(p.stride),) * 2
            self.p = (int(p.pad_h), int(p.pad_w)) if p.HasField("pad_h") else (int(p.pad),) * 2
        if any(pad >= k for pad, k in zip(self.p, self.k)):
            raise ShapeError(f"layer {self.name!r} (Pooling): pad {self.p} must be smaller than kernel {self.k}")
        if h + 2 * self.p[0] < self.k[0] or w + 2 * self.p[1] < self.k[1]:
            raise self._shape_error("kernel larger than the input; bottom shape and kernel", shape, self.k)
        self.ceil = p.round_mode == caffe_pb2.PoolingParameter.CEIL
        self.max = p.pool == caffe_pb2.PoolingParameter.MAX
        out = [pooled_size(*a, ceil=self.ceil) for a in zip((h, w), self.k, self.s, self.p)]
        return [(n, c, *out)]

    def forward(self, bottoms):
        x = bottoms[0]
        if self.max:
            return [F.max_pool2d(x, self.k, self.s, self.p, ceil_mode=self.ceil)]
        return [F.avg_pool2d(x, self.k, self.s, self.p, ceil_mode=self.ceil, count_include_pad=True)]


class InnerProduct(Layer):
    type = "InnerProduct"

    def setup(self, shapes):
        p, (shape,) = self.param.inner_product_param, shapes
        self.axis = p.axis % len(shape)
        k = int(np.prod(shape[self.axis:]))
        if not p.num_output:
            raise ShapeError(f"layer {self.name!r} (InnerProduct): set num_output")
        self.transpose = p.transpose
        wshape = (k, p.num_output) if p.transpose else (p.num_output, k)
        self.blobs = [self._blob(wshape, p.weight_filler)]
        if p.bias_term:
            self.blobs.append(self._blob((p.num_output,), p.bias_filler))
        return [tuple(shape[: self.axis]) + (p.num_output,)]

    def forward(self, bottoms):
        x = bottoms[0].flatten(self.axis)
        w = self.blobs[0].t() if self.transpose else self.blobs[0]
        return [F.linear(x, w, self.blobs[1] if len(self.blobs) > 1 else None)]


class _Elementwise(Layer):
    def setup(self, shapes):
        return [shapes[0]]


class ReLU(_Elementwise):
    type = "ReLU"

    def forward(self, bottoms):
        slope = self.param.relu_param.negative_slope
        return [F.leaky_relu(bottoms[0], slope) if slope else F.relu(bottoms[0])]


class Sigmoid(_Elementwise):
    type = "Sigmoid"

    def forward(self, bottoms):
        return [torch.sigmoid(bottoms[0])]


class TanH(_Elementwise):
    type = "TanH"

    def forward(self, bottoms):
        return [torch.tanh(bottoms[0])]


class Dropout(_Elementwise):
    """Caffe's dropout: at training, zero with probability r and scale the rest by 1/(1-r)."""
    type = "Dropout"

    def forward(self, bottoms):
        r = self.param.dropout_param.dropout_ratio
        return [F.dropout(bottoms[0], r, training=self.phase == caffe_pb2.TRAIN)]


class Flatten(Layer):
    type = "Flatten"

    def setup(self, shapes):
        p, shape = self.param.flatten_param, shapes[0]
        self.start, self.end = p.axis % len(shape), p.end_axis % len(shape)
        return [shape[: self.start] + (int(np.prod(shape[self.start: self.end + 1])),) + shape[self.end + 1:]]

    def forward(self, bottoms):
        return [bottoms[0].flatten(self.start, self.end)]


class Softmax(_Elementwise):
    type = "Softmax"

    def forward(self, bottoms):
        return [torch.softmax(bottoms[0], dim=self.param.softmax_param.axis)]


def _label_check(layer: Layer, shapes, axis: int) -> None:
    pred, label = shapes
    outer_inner = int(np.prod(pred)) // pred[axis]
    if int(np.prod(label)) != outer_inner:
        raise layer._shape_error(
            f"the labels must number one per prediction (bottom {layer.param.bottom[0]!r} over axis {axis}); "
            f"bottom {layer.param.bottom[0]!r} and bottom {layer.param.bottom[1]!r} shapes", pred, label)


class SoftmaxWithLoss(Layer):
    """Softmax and multinomial logistic loss in one layer, averaged as ``loss_param``
    says: VALID (default) divides by the number of labels that are not ``ignore_label``."""
    type, n_bottom, loss = "SoftmaxWithLoss", (2, 2), True

    def setup(self, shapes):
        self.axis = self.param.softmax_param.axis % len(shapes[0])
        _label_check(self, shapes, self.axis)
        lp = self.param.loss_param
        self.ignore = lp.ignore_label if lp.HasField("ignore_label") else None
        norm = lp.normalization
        if not lp.HasField("normalization") and lp.HasField("normalize"):
            norm = lp.VALID if lp.normalize else lp.BATCH_SIZE
        self.norm = norm
        self.outer = shapes[0][0] if self.axis == 1 else int(np.prod(shapes[0][: self.axis]))
        return [()] + ([shapes[0]] if len(self.param.top) > 1 else [])

    def forward(self, bottoms):
        logits, label = bottoms
        c = logits.shape[self.axis]
        z = logits.movedim(self.axis, -1).reshape(-1, c)
        y = label.reshape(-1).long()
        logp = torch.log_softmax(z, dim=1)
        valid = torch.ones_like(y, dtype=torch.bool) if self.ignore is None else y != self.ignore
        nll = -logp.gather(1, y.clamp(0, c - 1)[:, None])[:, 0] * valid
        lp = caffe_pb2.LossParameter
        denom = {lp.FULL: y.numel(), lp.VALID: max(int(valid.sum()), 1), lp.BATCH_SIZE: self.outer,
                 lp.NONE: 1}[self.norm]
        loss = nll.sum() / denom
        return [loss] + ([torch.softmax(logits, dim=self.axis)] if len(self.param.top) > 1 else [])


class Accuracy(Layer):
    type, n_bottom = "Accuracy", (2, 2)

    def setup(self, shapes):
        p = self.param.accuracy_param
        self.axis, self.top_k = p.axis % len(shapes[0]), int(p.top_k)
        self.ignore = p.ignore_label if p.HasField("ignore_label") else None
        _label_check(self, shapes, self.axis)
        if len(self.param.top) > 1:
            raise ShapeError(f"layer {self.name!r} (Accuracy): the per-class second top is not supported")
        return [()]

    def forward(self, bottoms):
        scores, label = bottoms
        with torch.no_grad():
            c = scores.shape[self.axis]
            z = scores.movedim(self.axis, -1).reshape(-1, c)
            y = label.reshape(-1).long()
            topk = z.topk(self.top_k, dim=1).indices
            hit = (topk == y[:, None]).any(dim=1)
            if self.ignore is not None:
                keep = y != self.ignore
                return [hit[keep].float().sum() / max(int(keep.sum()), 1)]
            return [hit.float().mean()]


LAYER_TYPES: dict[str, type[Layer]] = {cls.type: cls for cls in (
    Input, Data, Convolution, Pooling, InnerProduct, ReLU, Sigmoid, TanH, Dropout, Flatten, Softmax,
    SoftmaxWithLoss, Accuracy)}
SUPPORTED_LAYERS = tuple(sorted(LAYER_TYPES))


def make_layer(param, phase: int, rng: np.random.Generator) -> Layer:
    """The engine's layer for a LayerParameter; :class:`UnknownLayerError` lists the supported types."""
    cls = LAYER_TYPES.get(param.type)
    if cls is None:
        raise UnknownLayerError(f"layer {param.name!r} has type {param.type!r}, which this engine does not "
                                f"implement; supported types: {', '.join(SUPPORTED_LAYERS)}")
    return cls(param, phase, rng)
