"""ONNX to PyTorch, ours: an ONNX graph as an ordinary ``torch.nn.Module``.

``onnx2torch``, the usual package for this, needs torchvision, which would replace the
workbook's pinned CPU build of PyTorch; so this module does the same for the operators the
LeNet exports here use. ``to_torch(path)`` reads the file and returns an ``OnnxModule``:
its initializers become ``nn.Parameter``s (so the module can be trained further, or saved
with ``torch.save``), and its ``forward`` walks the graph's nodes in order, computing each
with the PyTorch function that matches the ONNX operator's definition.

An operator outside ``OPERATORS`` raises ``UnsupportedOperator`` when the file is read, naming
the node, the operator and the file, so a network the importer cannot run fails at once, not
halfway through a forward pass.
"""
from __future__ import annotations

import os

OPERATORS = ("Conv", "MaxPool", "AveragePool", "Gemm", "MatMul", "Add", "Mul", "Relu", "Flatten", "Reshape",
             "Transpose", "Softmax", "Identity", "Constant", "Shape", "Gather", "Unsqueeze", "Squeeze",
             "Concat", "Cast", "Dropout", "Slice")


class UnsupportedOperator(ValueError):
    """The ONNX graph uses an operator this importer does not translate."""


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _pads(pads, ndim=2):
    """ONNX pads (begin_h, begin_w, end_h, end_w) -> F.pad's (left, right, top, bottom)."""
    begin, end = pads[:ndim], pads[ndim:]
    out = []
    for b, e in zip(reversed(begin), reversed(end)):
        out += [int(b), int(e)]
    return out


def _run(op, attrs, args):
    import torch
    import torch.nn.functional as F

    if op == "Conv":
        x, w, *b = args
        pads = attrs.get("pads", [0, 0, 0, 0])
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise UnsupportedOperator("Conv with auto_pad")
        if any(pads):
            x = F.pad(x, _pads(pads))
        return F.conv2d(x, w, b[0] if b else None, stride=tuple(attrs.get("strides", [1, 1])),
                        dilation=tuple(attrs.get("dilations", [1, 1])), groups=int(attrs.get("group", 1)))
    if op in ("MaxPool", "AveragePool"):
        x, = args
        pads = attrs.get("pads", [0, 0, 0, 0])
        pool = F.max_pool2d if op == "MaxPool" else F.avg_pool2d
        sym = pads[:2] == pads[2:]
        if not sym:                       # F's pooling pads symmetrically only
            x = F.pad(x, _pads(pads), value=float("-inf") if op == "MaxPool" else 0.0)
        kw = dict(kernel_size=tuple(attrs["kernel_shape"]), stride=tuple(attrs.get("strides", [1, 1])),
                  padding=tuple(pads[:2]) if sym else 0, ceil_mode=bool(attrs.get("ceil_mode", 0)))
        if op == "AveragePool":
            kw["count_include_pad"] = bool(attrs.get("count_include_pad", 0))
        return pool(x, **kw)
    if op == "Gemm":
        a, b, *c = args
        a = a.T if attrs.get("transA", 0) else a
        b = b.T if attrs.get("transB", 0) else b
        y = attrs.get("alpha", 1.0) * (a @ b)
        return y + attrs.get("beta", 1.0) * c[0] if c else y
    if op == "MatMul":
        return args[0] @ args[1]
    if op == "Add":
        return args[0] + args[1]
    if op == "Mul":
        return args[0] * args[1]
    if op == "Relu":
        return F.relu(args[0])
    if op == "Flatten":
        axis = int(attrs.get("axis", 1))
        return args[0].reshape(int(torch.tensor(args[0].shape[:axis]).prod()), -1)
    if op == "Reshape":
        x, shape = args
        shape = [int(s) for s in shape.tolist()]
        if not attrs.get("allowzero", 0):   # 0: keep that dimension of the input
            shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return x.reshape(shape)
    if op == "Transpose":
        perm = attrs.get("perm") or list(range(args[0].dim()))[::-1]
        return args[0].permute(*perm)
    if op == "Softmax":
        return F.softmax(args[0], dim=int(attrs.get("axis", -1)))
    if op in ("Identity", "Dropout"):
        return args[0]
    if op == "Shape":
        return torch.tensor(args[0].shape, dtype=torch.int64)
    if op == "Gather":
        x, idx = args
        axis = int(attrs.get("axis", 0)) % x.dim()
        picked = torch.index_select(x, axis, idx.reshape(-1).long() % x.shape[axis])
        return picked.reshape((*x.shape[:axis], *idx.shape, *x.shape[axis + 1:]))
    if op == "Slice":
        x, starts, ends, *rest = args
        axes = rest[0].tolist() if rest else list(range(len(starts)))
        steps = rest[1].tolist() if len(rest) > 1 else [1] * len(axes)
        index = [slice(None)] * x.dim()
        for a, b, e, st in zip(axes, starts.tolist(), ends.tolist(), steps):
            if st != 1:
                raise UnsupportedOperator("Slice with a step other than 1")
            index[int(a)] = slice(int(b), int(e))    # Python's slicing clamps as ONNX does
        return x[tuple(index)]
    if op == "Unsqueeze":
        x, *axes = args
        for a in sorted(int(v) for v in (axes[0].tolist() if axes else attrs["axes"])):
            x = x.unsqueeze(a)
        return x
    if op == "Squeeze":
        x, *axes = args
        dims = [int(v) for v in (axes[0].tolist() if axes else attrs.get("axes", []))]
        return x.squeeze(tuple(dims)) if dims else x.squeeze()
    if op == "Concat":
        return torch.cat(args, dim=int(attrs["axis"]))
    if op == "Cast":
        from onnx import helper

        return args[0].to(getattr(torch, str(helper.tensor_dtype_to_np_dtype(attrs["to"]))))
    raise UnsupportedOperator(op)


def to_torch(path: str | os.PathLike):
    """The ONNX model at ``path`` as an ``OnnxModule`` (a ``torch.nn.Module``)."""
    import torch
    from onnx import numpy_helper

    from labkit.interchange import formats

    model = formats.read_onnx(path, "labkit's ONNX importer (onnx.load first)")
    graph = model.graph
    domains = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    unknown = [(n.name or f"node {i}", n.op_type) for i, n in enumerate(graph.node)
               if n.op_type not in OPERATORS or n.domain not in ("", "ai.onnx")]
    if unknown:
        raise UnsupportedOperator(
            f"{path}: labkit's ONNX importer does not translate {', '.join(f'{op} ({name})' for name, op in unknown)}; "
            f"it knows {', '.join(OPERATORS)}. Add the operator to labkit.interchange.torch_import, or run "
            "the file in onnxruntime.")

    class OnnxModule(torch.nn.Module):
        """An ONNX graph run by PyTorch: initializers as parameters, nodes in graph order."""

        def __init__(self):
            super().__init__()
            self.names = {}
            self.consts = {}
            for init in graph.initializer:
                arr = numpy_helper.to_array(init).copy()
                if arr.dtype.kind == "f":        # weights: trainable, saved in state_dict()
                    key = f"p{len(self.names)}"
                    self.names[init.name] = key
                    self.register_parameter(key, torch.nn.Parameter(torch.from_numpy(arr)))
                else:                            # shapes and indices
                    self.consts[init.name] = torch.from_numpy(arr)
            initialized = {i.name for i in graph.initializer}
            self.inputs = [i.name for i in graph.input if i.name not in initialized]
            self.outputs = [o.name for o in graph.output]
            self.nodes = [(n.op_type, _attrs(n), list(n.input), list(n.output)) for n in graph.node]
            self.opsets = domains

        def forward(self, *xs):
            env = {name: getattr(self, key) for name, key in self.names.items()}
            env.update(self.consts)
            env.update(zip(self.inputs, xs))
            for op, attrs, ins, outs in self.nodes:
                if op == "Constant":
                    env[outs[0]] = torch.from_numpy(numpy_helper.to_array(attrs["value"]).copy())
                    continue
                env[outs[0]] = _run(op, attrs, [env[i] for i in ins if i])
            got = [env[o] for o in self.outputs]
            return got[0] if len(got) == 1 else tuple(got)

    return OnnxModule()


def predict(module, x, layout: str = "NCHW"):
    """Logits from an ``OnnxModule`` for float32 NCHW images ``x``, transposed to ``layout`` first."""
    import numpy as np
    import torch

    x = np.asarray(x, np.float32)
    if layout == "NHWC":
        x = x.transpose(0, 2, 3, 1)
    with torch.inference_mode():
        return module(torch.from_numpy(np.ascontiguousarray(x))).numpy()
