"""Caffe's text files: net and solver prototxt, read and written.

The text is protobuf's text format, the same Caffe reads with ``TextFormat::Parse``, so the
protobuf runtime does the parsing; this module adds what a reader needs when a file is
wrong: the file, line and column, the offending line and a caret under the spot.
"""
from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format

from labkit.caffe import caffe_pb2
from labkit.caffe.errors import PrototxtError


def parse(text: str, message, path: str = "<string>"):
    """Parse prototxt ``text`` into ``message`` (a message instance, cleared first) and
    return it; :class:`PrototxtError` with line and column if the text is malformed."""
    try:
        return text_format.Parse(text, message)
    except text_format.ParseError as e:
        line, column = e.GetLine(), e.GetColumn()
        detail = str(e)
        if line is not None:                      # "3:9 : Expected ..." -> "Expected ..."
            detail = detail.split(" : ", 1)[-1]
        lines = text.splitlines()
        source = lines[line - 1] if line and 0 < line <= len(lines) else None
        raise PrototxtError(detail, path, line, column, source) from None


def to_text(message) -> str:
    """The prototxt of ``message``: what ``str(message)`` gives, as pycaffe scripts wrote
    their files (``f.write(str(net))``), in the layout Caffe prints (two-space indents)."""
    return str(message)


def _read(path, message):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no prototxt at {path}")
    return parse(path.read_text(), message, str(path))


def _write(message, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_text(message))
    return path


def read_net(path) -> "caffe_pb2.NetParameter":
    """A NetParameter from a net prototxt (train/test net or deploy net)."""
    return _read(path, caffe_pb2.NetParameter())


def read_solver(path) -> "caffe_pb2.SolverParameter":
    """A SolverParameter from a solver prototxt."""
    return _read(path, caffe_pb2.SolverParameter())


def parse_net(text: str, path: str = "<string>") -> "caffe_pb2.NetParameter":
    return parse(text, caffe_pb2.NetParameter(), path)


def parse_solver(text: str, path: str = "<string>") -> "caffe_pb2.SolverParameter":
    return parse(text, caffe_pb2.SolverParameter(), path)


def write_net(net, path) -> Path:
    """Write a NetParameter as prototxt; returns the path."""
    return _write(net, path)


def write_solver(solver, path) -> Path:
    """Write a SolverParameter as prototxt; returns the path."""
    return _write(solver, path)
