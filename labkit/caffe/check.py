"""A net prototxt checked as a compiler checks a source file: every problem as
``name.prototxt:LINE:COLUMN: message``, pointing at the spot to fix.

Three kinds of problem, found in this order (a later kind is looked for only when the
earlier ones found nothing, since a file that does not parse has no layers to check):

1. **syntax**: the text is not a ``NetParameter`` (protobuf's parser gives line and column);
2. **meaning**: a layer type ``labkit.caffe`` does not implement, a parameter message the
   layer's type does not read (``pooling_param`` on a Convolution), a bottom blob that no
   earlier layer of that phase produces, two layers of one phase with the same name;
3. **building**: the net built in each phase, as Caffe builds it (shapes worked out, the
   Data layer's LMDB opened), and an error there placed on the layer that raised it.

Protobuf's Python parser keeps no positions once it has parsed, so :func:`locate` scans the
text once more, only to find where each layer and each of its fields starts.

    checked = check(text, "lenet_train_test.prototxt")
    print(checked)          # the problems, or a one-line summary of each phase
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from labkit.caffe import caffe_pb2
from labkit.caffe.errors import CaffeError, PrototxtError
from labkit.caffe.nets import layer_included
from labkit.caffe.prototxt import parse_net

#: The parameter messages each layer type of ``labkit.caffe.engine`` reads; any other
#: ``*_param`` on a layer is a mistake (Caffe would ignore it silently).
LAYER_PARAMS: dict[str, frozenset] = {k: frozenset(v) for k, v in {
    "Input": {"input_param"}, "Data": {"data_param", "transform_param"},
    "Convolution": {"convolution_param"}, "Pooling": {"pooling_param"},
    "InnerProduct": {"inner_product_param"}, "ReLU": {"relu_param"}, "Sigmoid": {"sigmoid_param"},
    "TanH": {"tanh_param"}, "Dropout": {"dropout_param"}, "Flatten": {"flatten_param"},
    "Softmax": {"softmax_param"}, "SoftmaxWithLoss": {"softmax_param", "loss_param"},
    "Accuracy": {"accuracy_param"}}.items()}

PHASES = {caffe_pb2.TRAIN: "TRAIN", caffe_pb2.TEST: "TEST"}

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*|[\w.+-]+|[{}\[\]<>:,;]|\s+|.')


class CheckError(CaffeError, ValueError):
    """A prototxt with problems, raised where a net that works is needed; ``checked`` holds them."""

    def __init__(self, checked: "Checked"):
        self.checked = checked
        super().__init__(f"{len(checked.problems)} problem(s); fix them and try again:\n{checked}")


@dataclass(frozen=True)
class Problem:
    """One problem of a prototxt: where (1-based line and column) and what."""
    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


@dataclass
class Where:
    """Where one top-level ``layer { ... }`` block and its fields start in the text."""
    at: tuple[int, int]
    fields: dict[str, list[tuple[int, int]]] = field(default_factory=dict)      # field -> each occurrence
    values: dict[str, list[tuple[str, tuple[int, int]]]] = field(default_factory=dict)  # string values

    def of(self, name: str, k: int = 0) -> tuple[int, int]:
        spots = self.fields.get(name, [])
        return spots[k] if k < len(spots) else self.at

    def value(self, name: str, value: str) -> tuple[int, int]:
        """Where the string ``value`` of field ``name`` is (``bottom: "pool2"``), else the field."""
        for v, spot in self.values.get(name, []):
            if v == value:
                return spot
        return self.of(name)


def locate(text: str) -> list[Where]:
    """The positions of the top-level ``layer`` blocks of a net prototxt, in order (the
    order of ``NetParameter.layer``), with the positions of the fields and string values
    inside each (its own and those of its parameter messages, in text order). Only meant
    for text that parses."""
    tokens, line, col = [], 1, 1
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if not (tok.isspace() or tok.startswith("#")):
            tokens.append((tok, (line, col)))
        newlines = tok.count("\n")
        line, col = (line + newlines, len(tok) - tok.rfind("\n")) if newlines else (line, col + len(tok))
    out: list[Where] = []
    depth, current, last_field = 0, None, None
    for i, (tok, spot) in enumerate(tokens):
        before = [t for t, _ in tokens[max(0, i - 2):i]]
        if tok in ("{", "<"):
            if depth == 0 and (before[-1:] == ["layer"] or before == ["layer", ":"]):
                current = Where(tokens[i - len(before) + before.index("layer")][1])
                out.append(current)
            depth += 1
        elif tok in ("}", ">"):
            depth -= 1
            current = current if depth else None
        elif current is not None:
            after = tokens[i + 1][0] if i + 1 < len(tokens) else ""
            if tok[0] in "\"'" and last_field is not None:
                current.values.setdefault(last_field, []).append((_unquote(tok), spot))
            elif (tok[0].isalpha() or tok[0] == "_") and after in (":", "{", "<"):
                current.fields.setdefault(tok, []).append(spot)
                last_field = tok
    return out


def _unquote(tok: str) -> str:
    return tok[1:-1].encode().decode("unicode_escape")


@dataclass
class Checked:
    """What :func:`check` found: the problems (empty when the file is fine), the parsed net,
    and, per phase it built, the shape of every blob."""
    path: str
    problems: list[Problem]
    net: "caffe_pb2.NetParameter | None" = None
    shapes: dict[int, dict[str, tuple]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.problems:
            return "\n".join(map(str, self.problems))
        lines = [f"{self.path}: no problems"]
        for phase, shapes in self.shapes.items():
            n = sum(1 for layer in self.net.layer if _in_phase(layer, self.net, phase))
            first, last = next(iter(shapes.items())), list(shapes.items())[-1]
            lines.append(f"  the {PHASES[phase]} net builds: {n} layers, {len(shapes)} blobs, "
                         f"from {first[0]} {first[1]} to {last[0]} {last[1]}")
        return "\n".join(lines if self.shapes else lines + ["  (not built)"])

    def raise_problems(self) -> "Checked":
        """Raise :class:`CheckError` when there are problems; return ``self`` otherwise."""
        if self.problems:
            raise CheckError(self)
        return self

    __repr__ = __str__


def _in_phase(layer, net, phase: int) -> bool:
    state = caffe_pb2.NetState(phase=phase)
    if net.HasField("state"):
        state.MergeFrom(net.state)
        state.phase = phase
    return layer_included(layer, state)


def meaning_problems(net, spots: list[Where], path: str) -> list[Problem]:
    """Unknown types, parameters a type does not read, duplicate names and dangling bottoms."""
    found: dict[tuple, Problem] = {}

    def add(spot, message, key=None):
        found.setdefault(key or (spot, message), Problem(path, spot[0], spot[1], message))

    for layer, where in zip(net.layer, spots):
        label = f"layer {layer.name!r}" if layer.name else "a layer with no name"
        if not layer.type:
            add(where.at, f"{label} has no type; give one, e.g. type: \"Convolution\"")
        elif layer.type not in LAYER_PARAMS:
            close = difflib.get_close_matches(layer.type, LAYER_PARAMS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            add(where.value("type", layer.type),
                f"{label} has type {layer.type!r}, which labkit.caffe does not implement; {hint}"
                f"its types are {', '.join(sorted(LAYER_PARAMS))}")
        else:
            wanted = LAYER_PARAMS[layer.type]
            for fd, _ in layer.ListFields():
                if fd.name.endswith("_param") and fd.name not in wanted:
                    reads = " and ".join(sorted(wanted)) or "no parameter message"
                    add(where.of(fd.name), f"{label} ({layer.type}) has {fd.name}, which layers of type "
                                           f"{layer.type} do not read (they read {reads})")
    for phase, phase_name in PHASES.items():
        made: list[str] = []
        names: set[str] = set()
        for layer, where in zip(net.layer, spots):
            if not _in_phase(layer, net, phase):
                continue
            if layer.name in names:
                add(where.of("name"), f"two layers of the {phase_name} phase are named {layer.name!r}; "
                                      "names must be unique in a phase", key=(id(where), "name"))
            names.add(layer.name)
            for bottom in layer.bottom:
                if bottom not in made:
                    so_far = ", ".join(dict.fromkeys(made)) or "none"
                    add(where.value("bottom", bottom),
                        f"layer {layer.name!r} ({layer.type}) needs bottom {bottom!r}, which no earlier layer "
                        f"of the {phase_name} phase produces (blobs so far: {so_far})", key=(layer.name, bottom))
            made.extend(layer.top)
    return sorted(found.values(), key=lambda p: (p.line, p.column))


def build_problems(net, spots: list[Where], path: str, phases=tuple(PHASES)
                   ) -> tuple[list[Problem], dict[int, dict[str, tuple]]]:
    """Build the net in each phase with labkit.caffe's engine; an error becomes a problem on
    the line of the layer it names (or whose data source it names)."""
    from labkit.caffe.net import Net

    problems, shapes = [], {}
    for phase in phases:
        if not any(_in_phase(layer, net, phase) for layer in net.layer):
            continue
        try:
            built = Net(net, phase)
        except (CaffeError, ValueError, NotImplementedError, FileNotFoundError, KeyError) as e:
            message = str(e).strip("'\"")
            spot = _blame(message, net, spots)
            problem = Problem(path, spot[0], spot[1], f"building the {PHASES[phase]} net: {message}")
            if all((p.line, p.column) != spot for p in problems):     # once per spot, not per phase
                problems.append(problem)
            continue
        shapes[phase] = {name: blob.shape for name, blob in built.blobs.items()}
    return problems, shapes


def _blame(message: str, net, spots: list[Where]) -> tuple[int, int]:
    """The spot an engine error is about: the field it names in the layer it names, else that
    layer, else the Data layer whose source it names, else the first layer."""
    named = re.findall(r"layer '([^']+)'", message)
    words = set(re.findall(r"\w+", message)) - {"name", "type", "bottom", "top", "layer"}
    for layer, where in zip(net.layer, spots):
        if layer.name in named:
            mentioned = [spot for name, spots_ in where.fields.items()
                         if name in words or name.split("_")[0] in words for spot in spots_[:1]]
            return min(mentioned) if mentioned else where.at
    for layer, where in zip(net.layer, spots):
        source = layer.data_param.source
        if source and source in message:
            return where.value("source", source)
    return spots[0].at if spots else (1, 1)


def check(text: str, path: str = "net.prototxt", build: bool = True) -> Checked:
    """All the problems of a net prototxt ``text`` (named ``path`` in the messages); with
    ``build``, and when nothing else is wrong, the net is built in each phase and the
    shapes of its blobs kept (this imports PyTorch, and opens the Data layers' LMDBs)."""
    try:
        net = parse_net(text, path)
    except PrototxtError as e:
        line, column = e.line or 1, e.column or 1
        message = str(e).split("\n", 1)[0].split(": ", 1)[1]
        message = re.sub(r"^'.*?': ", "", message)       # protobuf repeats the line; the caret is ours
        return Checked(path, [Problem(path, line, column, message)])
    spots = locate(text)
    if len(spots) != len(net.layer):         # cannot happen for text that parsed; say so if it does
        raise RuntimeError(f"{path}: found {len(spots)} layer blocks for {len(net.layer)} layers")
    problems = meaning_problems(net, spots, path)
    shapes = {}
    if build and not problems:
        problems, shapes = build_problems(net, spots, path)
    return Checked(path, problems, net, shapes)
