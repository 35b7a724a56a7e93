"""Real BVLC Caffe (pycaffe) beside labkit.caffe: the same files and weights in both.

`make caffe` builds real Caffe into the workbook's environment (CPU-only, from the PyPI
source distribution brocolli-caffe 9.0.2; see tools/build_caffe.sh). This module holds the
few steps the Caffe chapter repeats when it runs a prototxt, a solver and the shared initial
weights in real Caffe, so that it can set the results side by side with labkit.caffe's::

    from labkit import lenet
    from labkit.caffe import real
    if real.available():
        losses, _ = real.solver_losses("lenet_solver.prototxt", 10, lenet.initial_weights())
        logits = real.forward(real.load_net("lenet_deploy.prototxt", "lenet.caffemodel"), images)

Here ``caffe`` is always pycaffe (the top-level package ``import caffe`` finds), never the
package ``labkit.caffe`` this module sits in. No name here is also a name in
``labkit.caffe`` with other arguments: real Caffe reads and writes caffemodels through a net
(``caffemodel_weights``, ``save_caffemodel``), where ``labkit.caffe.read_caffemodel`` and
``write_caffemodel`` work on the NetParameter message itself.

Weights travel as labkit.lenet's canonical dict (``conv1.weight`` ... ``fc2.bias``), whose
layout is Caffe's own: convolution kernels (out, in, h, w), inner products (out, in). The
four layers with parameters are matched in net order, whatever the prototxt names them.

Importing this module does not import Caffe; the functions do, when first called.
"""
from __future__ import annotations

import gc
import os
from pathlib import Path

import numpy as np

#: How to get real Caffe, for messages.
INSTALL_HINT = "run `make caffe` (tools/build_caffe.sh builds it into .venv, about 5 minutes on 2 cores)"
#: The canonical layers with parameters (labkit.lenet), in net order.
PARAM_LAYERS = ("conv1", "conv2", "fc1", "fc2")


def why_unavailable() -> str | None:
    """None when real Caffe imports; otherwise the reason and how to fix it."""
    try:
        _import()
    except ImportError as err:
        return str(err)
    return None


def available() -> bool:
    """True when real Caffe (pycaffe with its compiled library) imports."""
    return why_unavailable() is None


def _import():
    # Caffe logs every layer it builds through glog; keep warnings and errors only, unless
    # the caller chose a level. glog reads this once, when the library loads.
    os.environ.setdefault("GLOG_minloglevel", "1")
    try:
        import caffe
        import caffe._caffe  # noqa: F401
    except ImportError as err:
        raise ImportError(f"real Caffe is not installed here ({type(err).__name__}: {err}); "
                          f"{INSTALL_HINT}") from err
    return caffe


def import_caffe():
    """pycaffe, switched to the CPU. Raises ImportError saying how to install it."""
    caffe = _import()
    caffe.set_mode_cpu()
    return caffe


def _phase(caffe, phase: str):
    try:
        return {"train": caffe.TRAIN, "test": caffe.TEST}[phase.lower()]
    except KeyError:
        raise ValueError(f"phase must be 'train' or 'test', not {phase!r}") from None


def _param_layers(net) -> list[str]:
    names = [name for name, blobs in net.params.items() if len(blobs)]
    if len(names) != len(PARAM_LAYERS):
        raise ValueError(f"this net has {len(names)} layers with parameters ({', '.join(names)}); "
                         f"LeNet has {len(PARAM_LAYERS)} ({', '.join(PARAM_LAYERS)})")
    return names


def set_weights(net, weights: dict) -> None:
    """Copy labkit.lenet's canonical weights into a pycaffe Net (layers matched in order)."""
    for caffe_name, ours in zip(_param_layers(net), PARAM_LAYERS):
        blobs = net.params[caffe_name]
        for blob, kind in zip(blobs, ("weight", "bias")):
            value = np.asarray(weights[f"{ours}.{kind}"], dtype=np.float32)
            if value.shape != blob.data.shape:
                raise ValueError(f"layer {caffe_name!r} ({ours}.{kind}): Caffe's blob is "
                                 f"{blob.data.shape}, the weights are {value.shape}")
            blob.data[...] = value


def get_weights(net) -> dict[str, np.ndarray]:
    """A pycaffe Net's parameters as labkit.lenet's canonical dict (float32 copies)."""
    out = {}
    for caffe_name, ours in zip(_param_layers(net), PARAM_LAYERS):
        for blob, kind in zip(net.params[caffe_name], ("weight", "bias")):
            out[f"{ours}.{kind}"] = blob.data.astype(np.float32, copy=True)
    return out


def load_net(prototxt: str | os.PathLike, weights=None, phase: str = "test"):
    """A pycaffe Net from a prototxt file, with ``weights``: None (the prototxt's fillers),
    a caffemodel path, or a canonical weights dict."""
    caffe = import_caffe()
    prototxt = _existing(prototxt, "prototxt")
    if weights is None or isinstance(weights, dict):
        net = caffe.Net(prototxt, _phase(caffe, phase))
        if weights is not None:
            set_weights(net, weights)
        return net
    return caffe.Net(prototxt, _phase(caffe, phase), weights=_existing(weights, "caffemodel"))


def _existing(path, what: str) -> str:
    # Caffe aborts the whole process (glog FATAL) on a missing file; check first.
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} file at {path}")
    return str(path)


def forward(net, images: np.ndarray, output: str | None = None) -> np.ndarray:
    """Run ``images`` (N, C, H, W) through a deploy net; a copy of blob ``output`` (default:
    the net's last output; an inner blob such as the logits before a Softmax works too). The
    input blob is reshaped to N when needed."""
    images = np.asarray(images, dtype=np.float32)
    name = net.inputs[0]
    if net.blobs[name].data.shape != images.shape:
        net.blobs[name].reshape(*images.shape)
        net.reshape()
    net.blobs[name].data[...] = images
    output = output or net.outputs[-1]
    if output not in net.blobs:
        raise KeyError(f"no blob {output!r} in this net; its blobs are {list(net.blobs)}")
    net.forward()
    return net.blobs[output].data.copy()       # any blob, not only the net's outputs


def solver_losses(solver_file: str | os.PathLike, iterations: int, weights: dict | None = None,
                  loss: str | None = None) -> tuple[list[float], dict[str, np.ndarray]]:
    """Run ``iterations`` steps of the solver in ``solver_file``, starting from ``weights``
    (canonical dict; None keeps the fillers' values). Returns the loss of each iteration (the
    value before that iteration's update, as Caffe computes it) and the weights at the end.

    The solver file's paths (net, LMDB source, snapshot prefix) are read as Caffe reads them:
    relative to the current directory. Use absolute paths to be safe.

    The solver is gone when this returns, on purpose: Caffe shares one LMDB reader among all
    live Data layers with the same name and source (for multi-GPU training), so a second
    solver on the same files, built while the first lives, gets every other batch or waits
    forever."""
    caffe = import_caffe()
    # An earlier solver on the same LMDB that is unreachable but not yet collected (pycaffe
    # objects sit in reference cycles) still holds the shared reader: free it first.
    gc.collect()
    solver_file = _existing(solver_file, "solver")
    check_solver_file(solver_file)
    solver = caffe.get_solver(solver_file)
    try:
        net = solver.net
        if weights is not None:
            set_weights(net, weights)
        name = loss or next((o for o in net.outputs if "loss" in o.lower()), None)
        if name is None:
            raise ValueError(f"no loss among the net's outputs {list(net.outputs)}; name it with loss=")
        losses = []
        for _ in range(int(iterations)):
            solver.step(1)
            losses.append(float(net.blobs[name].data))
        return losses, get_weights(net)
    finally:
        del net, solver
        gc.collect()


def check_solver_file(solver_file: str | os.PathLike) -> None:
    """Parse a solver file with this Caffe's own schema; ValueError naming the field when it
    does not parse (Caffe itself aborts the whole process on such a file). This build's
    caffe.proto has no solver ``weights:`` field (BVLC added it in February 2018, after 1.0): pass the starting weights to ``solver_losses``
    instead, as ``caffe train --weights=`` does."""
    from google.protobuf import text_format
    import_caffe()
    from caffe.proto import caffe_pb2
    try:
        text_format.Parse(Path(solver_file).read_text(), caffe_pb2.SolverParameter())
    except text_format.ParseError as err:
        hint = (" (this Caffe's schema has no solver `weights:` field: drop it and pass the "
                "weights to solver_losses instead)" if "weights" in str(err) else "")
        raise ValueError(f"real Caffe cannot read the solver file {solver_file}: {err}{hint}") from None


def caffemodel_weights(path: str | os.PathLike, prototxt: str | os.PathLike) -> dict[str, np.ndarray]:
    """Canonical weights from a caffemodel, as real Caffe reads it into the net of ``prototxt``
    (``labkit.caffe.read_caffemodel`` gives the file's NetParameter instead)."""
    return get_weights(load_net(prototxt, path))


def save_caffemodel(path: str | os.PathLike, prototxt: str | os.PathLike, weights: dict) -> Path:
    """Write canonical ``weights`` as a caffemodel with real Caffe's ``Net.save``, through the
    net of ``prototxt`` (``labkit.caffe.write_caffemodel`` writes a NetParameter it is given)."""
    net = load_net(prototxt, weights)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net.save(str(path))
    return path
