"""A reader for the small part of the .proto language that ``caffe.proto`` uses.

It turns a proto2 file of messages, enums (top level or nested), scalar/enum/message fields
with ``optional``/``repeated`` labels and the ``default`` and ``packed`` options into a
``FileDescriptorProto``, from which the protobuf runtime builds message classes. That
keeps the .proto file the one source of truth without needing ``protoc`` on the machine.
Anything else in the language (imports, oneofs, services, maps, extensions) is rejected
with the line it is on.
"""
from __future__ import annotations

import re

from google.protobuf import descriptor_pb2

_FD = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "double": _FD.TYPE_DOUBLE, "float": _FD.TYPE_FLOAT, "int64": _FD.TYPE_INT64,
    "uint64": _FD.TYPE_UINT64, "int32": _FD.TYPE_INT32, "uint32": _FD.TYPE_UINT32,
    "bool": _FD.TYPE_BOOL, "string": _FD.TYPE_STRING, "bytes": _FD.TYPE_BYTES,
    "sint32": _FD.TYPE_SINT32, "sint64": _FD.TYPE_SINT64,
}
_LABELS = {"optional": _FD.LABEL_OPTIONAL, "repeated": _FD.LABEL_REPEATED, "required": _FD.LABEL_REQUIRED}
_TOKEN = re.compile(r'\s+|//[^\n]*|/\*.*?\*/|(?P<tok>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''
                    r'|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])|[-+]?[\w.]+|[{}\[\]=;,<>()])', re.S)


class ProtoSyntaxError(ValueError):
    """The .proto text uses something this reader does not understand."""


def _tokens(text: str):
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ProtoSyntaxError(f"line {line}: unexpected character {text[pos]!r}")
        if m.group("tok"):
            yield m.group("tok"), line
        line += text.count("\n", pos, m.end())
        pos = m.end()


class _Parser:
    def __init__(self, text: str, name: str):
        self.toks = list(_tokens(text))
        self.i = 0
        self.file = descriptor_pb2.FileDescriptorProto(name=name, syntax="proto2")
        self.kinds: dict[str, str] = {}   # full name (".pkg.Msg.Enum") -> "message" | "enum"
        self.fields = []                  # (field proto, scope, type name) to resolve at the end

    def peek(self):
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self, want: str | None = None) -> str:
        if self.i >= len(self.toks):
            raise ProtoSyntaxError(f"unexpected end of file{f', expected {want!r}' if want else ''}")
        tok, line = self.toks[self.i]
        if want is not None and tok != want:
            raise ProtoSyntaxError(f"line {line}: expected {want!r}, found {tok!r}")
        self.i += 1
        return tok

    def line(self) -> int:
        return self.toks[min(self.i, len(self.toks) - 1)][1]

    def parse(self) -> descriptor_pb2.FileDescriptorProto:
        while self.peek() is not None:
            tok = self.take()
            if tok == "syntax":
                self.take("=")
                if self.take().strip("\"'") != "proto2":
                    raise ProtoSyntaxError("only proto2 files are supported")
                self.take(";")
            elif tok == "package":
                self.file.package = self.take()
                self.take(";")
            elif tok == "message":
                self.message(self.file.message_type.add(), "")
            elif tok == "enum":
                self.enum(self.file.enum_type.add(), "")
            else:
                raise ProtoSyntaxError(f"line {self.line()}: {tok!r} is not supported here")
        self.resolve()
        return self.file

    def scope_name(self, scope: str, name: str) -> str:
        return f"{scope or '.' + self.file.package}.{name}"

    def message(self, msg, scope: str) -> None:
        msg.name = self.take()
        full = self.scope_name(scope, msg.name)
        self.kinds[full] = "message"
        self.take("{")
        while self.peek() != "}":
            tok = self.peek()
            if tok == "message":
                self.take()
                self.message(msg.nested_type.add(), full)
            elif tok == "enum":
                self.take()
                self.enum(msg.enum_type.add(), full)
            elif tok in _LABELS:
                self.field(msg, full)
            else:
                raise ProtoSyntaxError(f"line {self.line()}: {tok!r} is not supported in a message "
                                       "(only optional/repeated fields, nested messages and enums)")
        self.take("}")

    def enum(self, enum, scope: str) -> None:
        enum.name = self.take()
        self.kinds[self.scope_name(scope, enum.name)] = "enum"
        self.take("{")
        while self.peek() != "}":
            value = enum.value.add(name=self.take())
            self.take("=")
            value.number = int(self.take())
            self.take(";")
        self.take("}")

    def field(self, msg, scope: str) -> None:
        label, type_name, name = self.take(), self.take(), self.take()
        self.take("=")
        field = msg.field.add(name=name, number=int(self.take()), label=_LABELS[label])
        if self.peek() == "[":
            self.take()
            while True:
                key = self.take()
                self.take("=")
                value = self.take()
                if key == "default":
                    field.default_value = value[1:-1] if value[:1] in "\"'" else value
                elif key == "packed":
                    field.options.packed = value == "true"
                else:
                    raise ProtoSyntaxError(f"line {self.line()}: field option {key!r} is not supported")
                if self.take() == "]":
                    break
        self.take(";")
        if type_name in _SCALARS:
            field.type = _SCALARS[type_name]
        else:
            self.fields.append((field, scope, type_name))

    def resolve(self) -> None:
        """Resolve message and enum type names as protoc does: innermost scope first."""
        for field, scope, type_name in self.fields:
            candidates, parts = [], scope.split(".")
            for k in range(len(parts), 0, -1):
                candidates.append(".".join(parts[:k]) + "." + type_name)
            for full in candidates:
                if full in self.kinds:
                    field.type_name = full
                    field.type = _FD.TYPE_MESSAGE if self.kinds[full] == "message" else _FD.TYPE_ENUM
                    break
            else:
                raise ProtoSyntaxError(f"field {scope[1:]}.{field.name}: unknown type {type_name!r}")


def parse_proto(text: str, name: str = "caffe.proto") -> descriptor_pb2.FileDescriptorProto:
    """The ``FileDescriptorProto`` of a proto2 source text (the subset described above)."""
    return _Parser(text, name).parse()
