"""A Caffe-style layer: Caffe's file formats and semantics, PyTorch as the engine.

Caffe (2014) described a network as a text file (a *prototxt*: a ``NetParameter`` message in
protobuf's text format), trained it from a second text file (a *solver*), and saved the
weights as a binary ``NetParameter`` (a *.caffemodel*). This package reads and writes those
formats exactly, so what you write here opens in real Caffe and in OpenCV's dnn module, and
runs them with Caffe's semantics on PyTorch::

    from labkit import caffe
    from labkit.caffe import layers as L, params as P   # pycaffe's NetSpec names

    n = caffe.NetSpec()
    ...                                # the review's Figure 1, unchanged
    caffe.write_net(n.to_proto(), "lenet_train.prototxt")
    solver = caffe.SGDSolver("lenet_solver.prototxt")
    solver.solve()

Modules: ``caffe.proto`` + ``caffe_pb2`` (the schema and its classes), ``prototxt`` (text
files), ``netspec`` (NetSpec, ``layers``, ``params``), ``nets`` (phase filtering, deploy
nets), ``db`` (LMDB of Datum records, MNIST conversion), ``caffemodel`` (binary weights),
``engine`` (the layers on PyTorch), ``net`` (Net) and ``solver`` (SGDSolver). Importing this
package does not import PyTorch; ``Net`` and ``SGDSolver`` do, when first used. Real BVLC
Caffe (pycaffe, built by ``make caffe``) runs the same files through ``labkit.caffe.real``,
which this package does not import.
"""
from labkit.caffe import caffe_pb2
from labkit.caffe.caffe_pb2 import TEST, TRAIN
from labkit.caffe.caffemodel import read_caffemodel, write_caffemodel
from labkit.caffe.errors import CaffeError, CaffemodelError, PrototxtError, ShapeError, UnknownLayerError
from labkit.caffe.nets import deploy, filter_net, merge_phases, with_inputs
from labkit.caffe.netspec import NetSpec, layers, params, to_proto
from labkit.caffe.prototxt import (parse_net, parse_solver, read_net, read_solver, to_text, write_net,
                                   write_solver)

_LAZY = {"Net": "labkit.caffe.net", "Blob": "labkit.caffe.net", "SUPPORTED_LAYERS": "labkit.caffe.engine",
         "SGDSolver": "labkit.caffe.solver", "get_solver": "labkit.caffe.solver",
         "learning_rate": "labkit.caffe.solver", "convert_mnist": "labkit.caffe.db",
         "read_lmdb": "labkit.caffe.db", "write_lmdb": "labkit.caffe.db"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'labkit.caffe' has no attribute {name!r}")


def set_mode_cpu() -> None:
    """pycaffe's switch to the CPU; this engine always runs on the CPU, so it does nothing."""


def set_random_seed(seed: int) -> None:
    """Seed the fillers of nets built afterwards without a solver (pycaffe's ``caffe.set_random_seed``)."""
    from labkit.caffe import fillers

    fillers.DEFAULT_SEED[0] = int(seed)


__all__ = ["NetSpec", "layers", "params", "to_proto", "TRAIN", "TEST", "caffe_pb2", "Net", "SGDSolver",
           "get_solver", "read_net", "write_net", "read_solver", "write_solver", "parse_net", "parse_solver",
           "to_text", "read_caffemodel", "write_caffemodel", "filter_net", "merge_phases", "with_inputs",
           "deploy", "convert_mnist", "read_lmdb", "write_lmdb", "CaffeError", "PrototxtError",
           "ShapeError", "UnknownLayerError", "CaffemodelError", "set_mode_cpu", "set_random_seed"]
