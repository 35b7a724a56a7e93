"""The IDX file format of MNIST and Fashion-MNIST: read and check it, write it (for tests).

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the values
in C order. The magic number is two zero bytes, a type code (0x08 = unsigned byte) and the
number of dimensions: 0x00000803 for a stack of images, 0x00000801 for a label vector.
"""
from __future__ import annotations

import struct

import numpy as np

_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {dtype: code for code, dtype in _TYPES.items()}


class IDXError(ValueError):
    """The bytes are not a well-formed IDX file (bad magic number, wrong length)."""


def parse_idx(buf: bytes, name: str = "IDX data") -> np.ndarray:
    """The array stored in ``buf``; :class:`IDXError` naming ``name`` if it is malformed.

    The result is a read-only view of ``buf``: copy it if you need to write to it.
    """
    if len(buf) < 4:
        raise IDXError(f"{name}: only {len(buf)} bytes, too short for an IDX header")
    code, ndim = buf[2], buf[3]
    if buf[:2] != b"\0\0" or code not in _TYPES or ndim == 0:
        raise IDXError(f"{name}: bad IDX magic number 0x{buf[:4].hex()} "
                       "(expected 0x00000803 for images or 0x00000801 for labels)")
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise IDXError(f"{name}: truncated IDX header ({len(buf)} bytes, {ndim} dimensions)")
    dims = struct.unpack(f">{ndim}I", buf[4:header])
    dtype = _TYPES[code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(buf) != expected:
        raise IDXError(f"{name}: {len(buf):,} bytes, but its header promises shape {dims} "
                       f"= {expected:,} bytes ({'truncated' if len(buf) < expected else 'extra data'})")
    return np.frombuffer(buf, dtype=dtype, offset=header).reshape(dims)


def write_idx(array: np.ndarray) -> bytes:
    """``array`` as IDX bytes (the inverse of :func:`parse_idx`)."""
    array = np.asarray(array)
    dtype = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if dtype not in _CODES:
        raise IDXError(f"IDX cannot store dtype {array.dtype}")
    head = bytes([0, 0, _CODES[dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return head + np.ascontiguousarray(array, dtype=dtype).tobytes()
