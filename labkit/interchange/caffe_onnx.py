"""Caffe to ONNX, ours: a deploy prototxt and its caffemodel written as an ONNX graph.

There is no Caffe-to-ONNX converter in this environment (the old ones targeted Caffe's own
Python package and opsets of 2018), so this module writes one for the layer types a
classification net like LeNet uses, with ``onnx.helper``. Each Caffe layer becomes the ONNX
operator that computes the same thing:

==============  =====================================================================
Caffe layer     ONNX
==============  =====================================================================
Input           a graph input of the layer's shape, the batch dimension left free
Convolution     Conv (weights as they are: Caffe and ONNX both keep (out, in, h, w))
Pooling         MaxPool / AveragePool with ``ceil_mode=1``: Caffe rounds the output size
                up, ONNX rounds down unless told; GlobalMaxPool / GlobalAveragePool
InnerProduct    Flatten from ``axis`` then Gemm with ``transB=1`` (Caffe keeps (out, in))
ReLU            Relu, or LeakyRelu when ``negative_slope`` is set
Softmax         Softmax on the layer's axis
Dropout         nothing: at inference it passes its input through
==============  =====================================================================

Any other layer type raises ``UnsupportedLayer`` naming the layer and the types known.
``outputs`` picks which blobs the graph returns (by default the last layer's tops); asking
for ``["score"]`` drops what comes after (the deploy net's Softmax), so logits can be
compared with every other toolkit's.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

OPSET = 17
SUPPORTED = ("Input", "Convolution", "Pooling", "InnerProduct", "ReLU", "Softmax", "Dropout")


class UnsupportedLayer(ValueError):
    """The Caffe net has a layer type this converter does not translate."""


def _pair(values, single, default):
    """Caffe's repeated-or-single geometry fields (kernel_size / kernel_h, kernel_w) as (h, w)."""
    if single[0] or single[1]:
        return int(single[0]), int(single[1])
    values = list(values)
    if not values:
        return default, default
    return (int(values[0]), int(values[-1]))


def caffe_to_onnx(prototxt: str | os.PathLike, caffemodel: str | os.PathLike, *, outputs=None,
                  name: str | None = None):
    """An ``onnx.ModelProto`` computing the deploy net ``prototxt`` with the weights of ``caffemodel``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from labkit import caffe
    from labkit.caffe.caffemodel import blobs_by_layer

    net = caffe.read_net(prototxt)
    weights = blobs_by_layer(caffe.read_caffemodel(caffemodel))
    nodes, inits, inputs, produced = [], [], [], {}
    pool_kinds = {caffe.caffe_pb2.PoolingParameter.MAX: "Max", caffe.caffe_pb2.PoolingParameter.AVE: "Average"}
    for layer in net.layer:
        kind, bottom, top = layer.type, list(layer.bottom), list(layer.top)
        if kind not in SUPPORTED:
            raise UnsupportedLayer(
                f"{prototxt}: layer {layer.name!r} is of type {kind!r}, which this converter does not "
                f"translate (it knows {', '.join(SUPPORTED)}). Extend labkit.interchange.caffe_onnx, or "
                "convert the net with the toolkit that trained it.")
        blobs = weights.get(layer.name, [])
        if kind in ("Convolution", "InnerProduct") and not blobs:
            raise ValueError(f"{caffemodel} holds no weights for layer {layer.name!r} of {prototxt}; "
                             "is it the caffemodel of this net?")
        for i, blob in enumerate(blobs):
            inits.append(numpy_helper.from_array(np.asarray(blob, np.float32), f"{layer.name}.blob{i}"))
        params = [f"{layer.name}.blob{i}" for i in range(len(blobs))]
        if kind == "Input":
            for t, shape in zip(top, layer.input_param.shape):
                dims = ["batch", *[int(d) for d in shape.dim[1:]]]
                inputs.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, dims))
                produced[t] = layer.name
            continue
        if kind == "Convolution":
            p = layer.convolution_param
            kh, kw = _pair(p.kernel_size, (p.kernel_h, p.kernel_w), 1)
            sh, sw = _pair(p.stride, (p.stride_h, p.stride_w), 1)
            ph, pw = _pair(p.pad, (p.pad_h, p.pad_w), 0)
            dil = list(p.dilation) or [1]
            nodes.append(helper.make_node(
                "Conv", bottom + params[:2 if p.bias_term else 1], top, name=layer.name,
                kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw],
                dilations=[int(dil[0]), int(dil[-1])], group=int(p.group)))
        elif kind == "Pooling":
            p = layer.pooling_param
            op = pool_kinds.get(p.pool)
            if op is None:
                raise UnsupportedLayer(f"{prototxt}: layer {layer.name!r} pools with method {p.pool} "
                                       "(STOCHASTIC); only MAX and AVE translate")
            if p.global_pooling:
                nodes.append(helper.make_node(f"Global{op}Pool", bottom, top, name=layer.name))
            else:
                kh, kw = _pair([p.kernel_size] if p.HasField("kernel_size") else [], (p.kernel_h, p.kernel_w), 1)
                sh, sw = _pair([p.stride] if p.HasField("stride") else [], (p.stride_h, p.stride_w), 1)
                ph, pw = _pair([p.pad] if p.HasField("pad") else [], (p.pad_h, p.pad_w), 0)
                extra = {"count_include_pad": 1} if op == "Average" else {}
                nodes.append(helper.make_node(f"{op}Pool", bottom, top, name=layer.name, kernel_shape=[kh, kw],
                                              strides=[sh, sw], pads=[ph, pw, ph, pw], ceil_mode=1, **extra))
        elif kind == "InnerProduct":
            p = layer.inner_product_param
            flat = f"{layer.name}.flat"
            nodes.append(helper.make_node("Flatten", bottom, [flat], name=f"{layer.name}_flatten", axis=int(p.axis)))
            nodes.append(helper.make_node("Gemm", [flat] + params[:2 if p.bias_term else 1], top, name=layer.name,
                                          transB=0 if p.transpose else 1))
        elif kind == "ReLU":
            slope = layer.relu_param.negative_slope
            nodes.append(helper.make_node("LeakyRelu", bottom, top, name=layer.name, alpha=slope) if slope
                         else helper.make_node("Relu", bottom, top, name=layer.name))
        elif kind == "Softmax":
            nodes.append(helper.make_node("Softmax", bottom, top, name=layer.name, axis=int(layer.softmax_param.axis)))
        elif kind == "Dropout":
            nodes.append(helper.make_node("Identity", bottom, top, name=layer.name))
        for t in top:
            produced[t] = layer.name
    if not inputs:
        raise ValueError(f"{prototxt} has no Input layer: convert its deploy net (labkit.caffe.deploy)")
    nodes = _renamed_in_place(nodes, inputs)
    wanted = list(outputs) if outputs else list(net.layer[-1].top)
    missing = [o for o in wanted if o not in produced]
    if missing:
        raise ValueError(f"{prototxt} makes no blob named {missing}; its blobs are {sorted(produced)}")
    nodes = _needed(nodes, wanted)
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in wanted]
    used = {i for n in nodes for i in n.input}
    graph = helper.make_graph(nodes, name or net.name or Path(prototxt).stem, inputs, outs,
                              [t for t in inits if t.name in used])
    model = helper.make_model(graph, producer_name="labkit.interchange.caffe_onnx",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = min(model.ir_version, 8)       # readable by onnxruntime and OpenCV alike
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)   # the outputs' shapes, filled in
    onnx.checker.check_model(model, full_check=True)
    return model


def _renamed_in_place(nodes, inputs):
    """Caffe computes some layers in place (ReLU's top is its bottom); ONNX names every value once.
    The last write of a blob keeps the blob's name, earlier ones get ``name/0``, ``name/1``, ...,
    and each reader reads the version written last before it."""
    writes = {}
    for v in inputs:
        writes[v.name] = writes.get(v.name, 0) + 1
    for node in nodes:
        for o in node.output:
            writes[o] = writes.get(o, 0) + 1
    done, current = {}, {}

    def write(blob):
        k = done.get(blob, 0)
        done[blob] = k + 1
        current[blob] = blob if k + 1 == writes[blob] else f"{blob}/{k}"
        return current[blob]

    for v in inputs:
        v.name = write(v.name)
    for node in nodes:
        ins = [current.get(i, i) for i in node.input]
        outs = [write(o) for o in node.output]
        del node.input[:], node.output[:]
        node.input.extend(ins)
        node.output.extend(outs)
    return nodes


def _needed(nodes, outputs):
    """The nodes the ``outputs`` depend on, in order."""
    want, keep = set(outputs), []
    for node in reversed(nodes):
        if want & set(node.output):
            keep.append(node)
            want |= set(node.input)
    return keep[::-1]
