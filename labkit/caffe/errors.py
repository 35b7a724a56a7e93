"""The errors labkit's Caffe layer raises; each says what was wrong and where."""
from __future__ import annotations


class CaffeError(Exception):
    """Base class of every error from ``labkit.caffe``."""


class PrototxtError(CaffeError, ValueError):
    """A prototxt file does not parse: ``path``, ``line`` and ``column`` (1-based) say where."""

    def __init__(self, message: str, path: str = "<string>", line: int | None = None,
                 column: int | None = None, source_line: str | None = None):
        self.path, self.line, self.column = path, line, column
        where = f"{path}:{line}:{column}" if line else path
        text = f"{where}: {message}"
        if source_line is not None and column:
            text += f"\n    {source_line.rstrip()}\n    {' ' * (column - 1)}^"
        super().__init__(text)


class UnknownLayerError(CaffeError, ValueError):
    """A layer type this engine does not implement."""


class ShapeError(CaffeError, ValueError):
    """Blob shapes that do not fit: the message names the layer and both shapes."""


class CaffemodelError(CaffeError, ValueError):
    """A .caffemodel whose layers or blobs do not fit the net it is loaded into."""
