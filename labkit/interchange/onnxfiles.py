"""One ONNX file: checked, described, run in onnxruntime and OpenCV, timed.

    >>> from labkit.interchange import onnxfiles
    >>> info = onnxfiles.check("runs/onnx/pytorch.onnx")     # onnx.checker, full check; a dict
    >>> print(onnxfiles.summary("runs/onnx/pytorch.onnx"))  # the graph as text, no browser needed
    >>> session = onnxfiles.session("runs/onnx/pytorch.onnx", threads=2)
    >>> logits = onnxfiles.run(session, x_nchw)             # any batch, whatever layout the file wants

Exporters disagree on two things a caller must not have to know: the image layout (Keras
exports NHWC) and whether the batch dimension is free (some exporters fix it at the example's
size). ``run`` reads both from the graph's input and feeds the images accordingly.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from labkit.interchange import formats


def check(path: str | os.PathLike) -> dict:
    """``onnx.checker.check_model`` (with shape inference) on the file; what it holds, as a dict."""
    import onnx

    model = formats.read_onnx(path)
    onnx.checker.check_model(model, full_check=True)
    g = model.graph
    initialized = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in initialized]
    return {
        "path": str(path), "bytes": Path(path).stat().st_size, "ir_version": model.ir_version,
        "opsets": {o.domain or "ai.onnx": o.version for o in model.opset_import},
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "operators": [n.op_type for n in g.node],
        "inputs": {i.name: _dims(i) for i in inputs}, "outputs": {o.name: _dims(o) for o in g.output},
        "parameters": int(sum(np.prod(t.dims) for t in g.initializer if t.data_type == 1)),
        "initializers_as_inputs": len(g.input) - len(inputs),
    }


def _dims(value_info) -> list:
    return [d.dim_param or (d.dim_value if d.HasField("dim_value") else None)
            for d in value_info.type.tensor_type.shape.dim]


def summary(path: str | os.PathLike) -> str:
    """The graph as a text table, one line per node: what Netron would draw, when it cannot."""
    from onnx import helper

    info = check(path)
    model = formats.read_onnx(path)
    shapes = {t.name: list(t.dims) for t in model.graph.initializer}
    lines = [f"{Path(path).name}: IR {info['ir_version']}, opsets {info['opsets']}, "
             f"producer {info['producer'] or '?'}, {info['parameters']:,} parameters",
             f"inputs {info['inputs']} -> outputs {info['outputs']}"]
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name != "value"}
        params = [f"{shapes[i]}" for i in node.input if i in shapes]
        lines.append(f"  {node.op_type:12s} {','.join(i for i in node.input if i not in shapes):28.28s} -> "
                     f"{','.join(node.output):18.18s} {' '.join(params)} "
                     f"{' '.join(f'{k}={v}' for k, v in attrs.items() if not isinstance(v, bytes))}".rstrip())
    return "\n".join(lines)


def layout(path_or_session) -> tuple[str, int | None]:
    """(``"NCHW"`` or ``"NHWC"``, fixed batch size or None) of the model's image input."""
    shape = (_dims(formats.read_onnx(path_or_session).graph.input[0])
             if isinstance(path_or_session, (str, os.PathLike)) else path_or_session.get_inputs()[0].shape)
    fixed = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
    return ("NHWC" if list(shape[1:]) == [28, 28, 1] else "NCHW"), fixed


def session(path: str | os.PathLike, threads: int | None = None):
    """An onnxruntime CPU session for the file, ``threads`` threads (None: onnxruntime's default),
    errors only in its log (older exporters leave parameters as inputs, which it warns about)."""
    import onnxruntime as ort

    formats.read_onnx(path, "onnxruntime (onnx.load first)")   # a clear error for a file that is not ONNX
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return formats.opened(path, "onnx", "onnxruntime", lambda p: ort.InferenceSession(
        str(p), options, providers=["CPUExecutionProvider"]))


def run(sess, x_nchw, batch: int | None = None) -> np.ndarray:
    """Logits for float32 NCHW images from an onnxruntime session, in the layout and batch it takes."""
    order, fixed = layout(sess)
    x = np.ascontiguousarray(np.asarray(x_nchw, np.float32).transpose(0, 2, 3, 1) if order == "NHWC" else x_nchw,
                             np.float32)
    name = sess.get_inputs()[0].name
    step = fixed or batch or len(x)
    return np.concatenate([sess.run(None, {name: x[i:i + step]})[0] for i in range(0, len(x), step)])


def opencv_net(path: str | os.PathLike):
    """The file read by OpenCV's dnn module (its own ONNX parser), with a clear error if it cannot."""
    import cv2

    formats.read_onnx(path, "OpenCV's dnn module (onnx.load first)")
    return formats.opened(path, "onnx", "OpenCV's dnn module", lambda p: cv2.dnn.readNetFromONNX(str(p)))


def opencv_run(net, x_nchw, order: str = "NCHW", fixed: int | None = None) -> np.ndarray:
    """Logits from an OpenCV dnn net for float32 NCHW images."""
    x = np.asarray(x_nchw, np.float32)
    x = x.transpose(0, 2, 3, 1) if order == "NHWC" else x
    step = fixed or len(x)
    out = []
    for i in range(0, len(x), step):
        net.setInput(np.ascontiguousarray(x[i:i + step]))
        out.append(np.array(net.forward()).reshape(len(x[i:i + step]), -1))
    return np.concatenate(out)


def speed(sess, x_nchw, batches, **kw) -> dict:
    """Images/s of ``run`` at each batch size (``labkit.timing.throughput``: medians, warm-up excluded)."""
    from labkit.timing import throughput

    x = np.asarray(x_nchw, np.float32)
    out = {}
    for b in batches:
        xb = np.resize(x, (b, *x.shape[1:]))
        out[b] = throughput(lambda xb=xb: run(sess, xb), b, **kw).median
    return out
