"""The model files this workbook writes, and a clear error for one that is broken.

Loaders say unhelpful things about a damaged file: Keras calls a truncated ``.keras`` file
"not found", MXNet says "Invalid NDArray file format" without naming the file, PyTorch
blames its ``weights_only`` safety rules for a file of garbage. ``opened(path, kind, reader,
load)`` runs a loader and, when the file is missing, empty, not of the kind expected (a quick
look at its first bytes and, for zip archives, their table of contents) or rejected by the
loader, raises ``ModelFileError`` naming the file, what was expected there, what the loader
said, and what to do::

    >>> formats.opened("lenet.keras", "keras", "keras.models.load_model", keras.models.load_model)
    ModelFileError: lenet.keras is not a readable Keras archive (.keras): ...

``FORMATS`` lists the kinds: what each file is, and who writes it.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path


class ModelFileError(ValueError):
    """A model file is missing, damaged or of another kind; the message names it and says what was expected."""


@dataclass(frozen=True)
class Format:
    name: str
    expected: str        # what the file should hold, for the message
    magic: str = ""      # "zip", "json", "protobuf", "mxnet", "pickle" or ""


FORMATS: dict[str, Format] = {
    "onnx": Format("ONNX model (.onnx)", "an onnx.ModelProto in protobuf's binary form, as torch.onnx.export, "
                   "paddle2onnx or mx.onnx.export_model write it", "protobuf"),
    "caffemodel": Format("Caffe weights (.caffemodel)", "a binary caffe.NetParameter whose layers carry their blobs, "
                         "as a Caffe solver's snapshot or Net.save write it", "protobuf"),
    "prototxt": Format("Caffe net (.prototxt)", "a caffe.NetParameter in protobuf's text form"),
    "keras": Format("Keras archive (.keras)", "a zip archive holding config.json and model.weights.h5, as "
                    "model.save('....keras') writes it", "zip"),
    "pt": Format("PyTorch file (.pt)", "a zip archive written by torch.save (a state dict)", "zip"),
    "pt2": Format("PyTorch ExportedProgram (.pt2)", "a zip archive written by torch.export.save", "zip"),
    "mxnet-params": Format("MXNet parameters (.params)", "MXNet's NDArray list (magic number 0x112 first), as "
                           "HybridBlock.export or save_parameters write it", "mxnet"),
    "mxnet-symbol": Format("MXNet graph (-symbol.json)", "a JSON object with the graph's 'nodes', as "
                           "HybridBlock.export writes it", "json"),
    "paddle-program": Format("Paddle program (.json)", "a JSON PIR program, as paddle.jit.save writes it", "json"),
    "paddle-params": Format("Paddle parameters (.pdiparams)", "the parameters of a program saved by paddle.jit.save"),
    "paddle-state": Format("Paddle state dict (.pdparams)", "a pickle of named arrays, as paddle.save writes it",
                           "pickle"),
}

_MXNET_MAGIC = 0x112


def _fix(kind: str) -> str:
    return (f"Write the file again (a copy that stopped early, or a download that failed, leaves a file like "
            f"this one), or pass the {FORMATS[kind].name} you meant.")


def sniff(path: str | os.PathLike, kind: str) -> Path:
    """``path`` if it exists, is not empty, and starts like a file of ``kind``; ModelFileError otherwise."""
    if kind not in FORMATS:
        raise ValueError(f"unknown kind of model file {kind!r}; labkit knows {', '.join(FORMATS)}")
    fmt, path = FORMATS[kind], Path(path)
    if not path.is_file():
        raise ModelFileError(f"no {fmt.name} at {path}: " + ("it is a folder" if path.is_dir() else "no such file")
                             + f". Expected {fmt.expected}.")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"{path} is empty (0 bytes); expected {fmt.name}: {fmt.expected}. {_fix(kind)}")
    with open(path, "rb") as f:
        head = f.read(64)
    problem = None
    if fmt.magic == "zip":
        if not head.startswith(b"PK"):
            problem = "it does not start like a zip archive"
        else:
            try:
                with zipfile.ZipFile(path) as z:
                    bad = z.testzip()
                    if bad:
                        problem = f"the archive's member {bad} is damaged"
            except zipfile.BadZipFile as err:
                problem = f"its zip table of contents is missing or damaged ({err}), as in a truncated or overwritten file"
    elif fmt.magic == "json":
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(obj, dict):
                problem = "it holds JSON, but not an object"
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            problem = f"it is not valid JSON ({err})"
    elif fmt.magic == "mxnet":
        if int.from_bytes(head[:8], "little") != _MXNET_MAGIC:
            problem = f"it does not start with MXNet's magic number 0x112 (it starts with {head[:8].hex()})"
        else:
            problem = _mxnet_params_problem(path.read_bytes())
    elif fmt.magic == "pickle" and not head.startswith(b"\x80"):
        problem = "it does not start like a Python pickle"
    elif fmt.magic == "protobuf" and head[:1] in (b"{", b"<", b"P") and kind != "prototxt":
        problem = "it starts like text, JSON or a zip archive, not a binary protobuf"
    if problem:
        raise ModelFileError(f"{path} ({size:,} bytes) is not a readable {fmt.name}: {problem}. "
                             f"Expected {fmt.expected}. {_fix(kind)}")
    return path


def _mxnet_params_problem(data: bytes) -> str | None:
    """Walk MXNet's NDArray list format (header, arrays, names) to the end; what is wrong, or None."""
    import struct

    import numpy as np

    sizes = {0: 4, 1: 8, 2: 2, 3: 1, 4: 4, 5: 1, 6: 8, 7: 1, 12: 2}      # MXNet's type flags -> bytes
    pos = 16
    try:
        (count,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        for k in range(count):
            magic, = struct.unpack_from("<I", data, pos)
            if magic != 0xF993FAC9:
                return f"array {k} does not start with MXNet's array marker"
            pos += 8                                    # marker, storage type
            (ndim,) = struct.unpack_from("<I", data, pos)
            dims = struct.unpack_from(f"<{ndim}q", data, pos + 4)
            pos += 4 + 8 * ndim
            if ndim == 0:
                continue
            _, _, flag = struct.unpack_from("<iii", data, pos)
            pos += 12 + int(np.prod(dims)) * sizes.get(flag, 4)
            if pos > len(data):
                return (f"array {k} of {count} would end at byte {pos:,}, past the end of the file ({len(data):,} bytes): "
                        "the file is truncated, or its array headers are damaged")
        (names,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        for _ in range(names):
            (n,) = struct.unpack_from("<Q", data, pos)
            pos += 8 + n
    except struct.error:
        return f"it ends at byte {len(data):,}, inside the part that lists the arrays: it is truncated"
    if pos > len(data):
        return f"its names end at byte {pos:,}, past the end of the file ({len(data):,} bytes): it is truncated"
    return None


def opened(path: str | os.PathLike, kind: str, reader: str, load):
    """``load(path)`` after ``sniff``; any failure of the loader becomes a ModelFileError that names
    the file, the kind expected and what ``reader`` said (the original error is chained)."""
    path = sniff(path, kind)
    try:
        return load(path)
    except Exception as err:
        said = " ".join(str(err).split())[:400] or type(err).__name__
        fmt = FORMATS[kind]
        raise ModelFileError(f"{reader} could not read {path} ({path.stat().st_size:,} bytes) as {fmt.name}: "
                             f"{type(err).__name__}: {said}. Expected {fmt.expected}. {_fix(kind)}") from err


def read_onnx(path: str | os.PathLike, reader: str = "onnx.load"):
    """``onnx.load`` with a clear error; also rejects a file that parses but holds no graph.
    ``reader``: who is asking, for the message (onnxruntime and OpenCV look with onnx.load first)."""
    import onnx

    model = opened(path, "onnx", reader, lambda p: onnx.load(str(p)))
    if not model.graph.node:
        raise ModelFileError(f"{path} parses as protobuf but holds no ONNX graph (no nodes, IR version "
                             f"{model.ir_version}). Expected {FORMATS['onnx'].expected}. {_fix('onnx')}")
    return model
