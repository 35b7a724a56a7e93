"""Caffe's protobuf messages, built from ``caffe.proto`` next to this file.

The classes are the ones ``protoc`` would generate (``NetParameter``, ``LayerParameter``,
``SolverParameter``, ``BlobProto``, ``Datum`` ...), made at import time by the protobuf
runtime from labkit's own schema, so no generated code is committed and no ``protoc`` is
needed. Use it as pycaffe's ``caffe.proto.caffe_pb2``::

    from labkit.caffe import caffe_pb2
    net = caffe_pb2.NetParameter(name="LeNet")

The messages live in a private descriptor pool, so they never clash with another copy of
Caffe's schema loaded in the same process.
"""
from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pool, message_factory

from labkit.caffe._protoparse import parse_proto

PROTO_PATH = Path(__file__).with_name("caffe.proto")

_file = parse_proto(PROTO_PATH.read_text(), "labkit/caffe/caffe.proto")
POOL = descriptor_pool.DescriptorPool()
DESCRIPTOR = POOL.Add(_file) or POOL.FindFileByName(_file.name)

for _msg in _file.message_type:
    globals()[_msg.name] = message_factory.GetMessageClass(POOL.FindMessageTypeByName(f"caffe.{_msg.name}"))
for _enum in _file.enum_type:        # top-level enums: Phase, and its values TRAIN, TEST
    globals()[_enum.name] = POOL.FindEnumTypeByName(f"caffe.{_enum.name}")
    for _value in _enum.value:
        globals()[_value.name] = _value.number

MESSAGES = tuple(m.name for m in _file.message_type)
del _msg, _enum, _value
