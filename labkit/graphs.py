"""Drawings of a network's graph: Graphviz ``dot`` source shown as a picture in a notebook
where Graphviz is installed, and as text where it is not.

Every chapter that draws a graph (Theano's ``pydotprint``, Chainer's computational graph,
PyTorch's autograd graph, a Caffe prototxt) hands its ``dot`` source and a plain-text
rendering to :func:`show`; the text is what a reader without Graphviz sees, under a line
that says why there is no picture.

The rest is for graphs a toolkit does not draw itself: :func:`walk` follows any graph given
a function that lists a node's children, :func:`tree_text` and :func:`dot_source` write it
out, and :func:`autograd` does all three for PyTorch's autograd graph (the ``grad_fn`` of
a tensor and the ``next_functions`` of each node), by duck typing: nothing here imports a
toolkit.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Callable, Hashable, Iterable, Mapping

#: How long one ``dot`` run may take before it counts as failed (seconds).
DOT_TIMEOUT_S = 30

#: The line a drawing starts with where Graphviz is absent.
NO_GRAPHVIZ = ("[no picture: Graphviz's 'dot' is not on PATH, so the graph is shown as text; "
               "install Graphviz (`make system-deps`, or apt-get install graphviz) to see it drawn]")


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` program is not installed."""


def dot_program() -> str | None:
    """The path of Graphviz's ``dot``, or None where Graphviz is absent."""
    return shutil.which("dot")


def render(dot_source: str, fmt: str = "svg") -> bytes:
    """``dot_source`` drawn by Graphviz as ``fmt`` (svg, png, pdf).

    Raises :class:`GraphvizMissing` without Graphviz, and ValueError naming the line
    Graphviz complained about when the source is not valid ``dot``."""
    dot = dot_program()
    if dot is None:
        raise GraphvizMissing("Graphviz's 'dot' is not on PATH: install Graphviz "
                              "(Debian/Ubuntu: `make system-deps`, or apt-get install graphviz)")
    done = subprocess.run([dot, f"-T{fmt}"], input=dot_source.encode(), capture_output=True,
                          timeout=DOT_TIMEOUT_S)
    if done.returncode != 0:
        raise ValueError(f"Graphviz could not draw this graph: {done.stderr.decode().strip()}")
    return done.stdout


class Drawing:
    """A graph for a notebook: SVG where Graphviz is installed, the text otherwise."""

    def __init__(self, dot_source: str, text: str, svg: str | None = None):
        self.dot_source, self.text, self._svg = dot_source, text, svg

    @property
    def drawn(self) -> bool:
        """Whether a notebook shows this as a picture (Graphviz is installed)."""
        return self._svg is not None or dot_program() is not None

    def svg(self) -> str:
        if self._svg is None:
            self._svg = render(self.dot_source, "svg").decode()
        return self._svg

    def _repr_svg_(self):
        return self.svg() if self.drawn else None

    def __repr__(self) -> str:
        return self.text if self.drawn else f"{NO_GRAPHVIZ}\n{self.text}"


def show(dot_source: str, text: str) -> Drawing:
    """The object a cell returns to show a graph (an SVG picture, or ``text`` without
    Graphviz). With Graphviz installed the picture is drawn at once, so a graph Graphviz
    cannot draw fails in the cell that made it."""
    for name, value in (("dot_source", dot_source), ("text", text)):
        if not isinstance(value, str):
            raise TypeError(f"show() takes the graph's {name} as a str, not {type(value).__name__}"
                            + (" (decode bytes first)" if isinstance(value, bytes) else ""))
    if "graph" not in dot_source:
        raise ValueError("show() wants Graphviz dot source ('digraph name { a -> b; }'); "
                         f"this has no graph in it: {dot_source[:80]!r}")
    drawing = Drawing(dot_source, text)
    if drawing.drawn:
        drawing.svg()
    return drawing


# --- graphs a toolkit does not draw itself ------------------------------------------------

def walk(roots: Iterable, children: Callable[[object], Iterable], key: Callable[[object], Hashable] = id):
    """Every node reachable from ``roots`` through ``children``, each once (nodes with the same
    ``key`` are one node), in the order first met, and the edges ``(parent, child)`` as pairs
    of positions in that list, one per ``children`` entry (so a node used twice by the same
    parent gives two edges)."""
    nodes, where, edges = [], {}, []

    def visit(node) -> int:
        k = key(node)
        if k not in where:
            where[k] = len(nodes)
            nodes.append(node)
            pending.append(node)
        return where[k]

    pending: list = []
    for root in roots:
        visit(root)
    done = 0
    while done < len(pending):      # breadth first, without recursion (graphs can be deep)
        node = pending[done]
        done += 1
        parent = where[key(node)]
        for child in children(node):
            edges.append((parent, visit(child)))
    return nodes, edges


def tree_text(root, children: Callable[[object], Iterable], label: Callable[[object], str],
              key: Callable[[object], Hashable] = id, max_lines: int = 200) -> str:
    """The graph under ``root`` as an indented tree, one node a line: a node's children are
    indented under it, except a sole child, which follows in the same column (so a chain
    stays one column). A node reached a second time (a value used twice) is not expanded
    again: its line ends in "(as above)"."""
    lines, seen = [], set()
    stack = [(root, "", "")]   # (node, prefix of its line, prefix of its children's lines)
    while stack:
        node, lead, indent = stack.pop()
        if len(lines) == max_lines:
            lines.append(f"... (more than {max_lines} lines: the rest is left out)")
            break
        k = key(node)
        again = k in seen
        lines.append(f"{lead}{label(node)}{'  (as above)' if again else ''}")
        if again:
            continue
        seen.add(k)
        kids = list(children(node))
        if len(kids) == 1:
            stack.append((kids[0], indent, indent))
            continue
        for i in reversed(range(len(kids))):
            last = i == len(kids) - 1
            stack.append((kids[i], indent + ("└── " if last else "├── "),
                          indent + ("    " if last else "│   ")))
    return "\n".join(lines)


def quote(text: str) -> str:
    """``text`` as a double-quoted dot string (backslashes and quotes escaped, newlines kept)."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot_source(labels: list[str], edges: Iterable[tuple[int, int]], name: str = "graph",
               styles: Mapping[int, Mapping[str, str]] | None = None, rankdir: str = "TB",
               node_style: Mapping[str, str] | None = None) -> str:
    """Graphviz dot for nodes ``0 .. len(labels) - 1`` and directed ``edges`` between them;
    ``styles`` gives some nodes their own attributes (shape, fillcolor, ...)."""
    if rankdir not in ("TB", "BT", "LR", "RL"):
        raise ValueError(f"rankdir must be TB, BT, LR or RL, not {rankdir!r}")
    def attrs(d):
        return ", ".join(f"{k}={quote(v)}" for k, v in d.items())

    out = [f"digraph {quote(name)} {{", f"  rankdir={rankdir};",
           f"  node [{attrs(node_style or {'shape': 'box', 'fontname': 'Helvetica', 'fontsize': '11'})}];"]
    for i, label in enumerate(labels):
        out.append(f"  n{i} [{attrs({'label': label, **dict((styles or {}).get(i, {}))})}];")
    for a, b in edges:
        if not (0 <= a < len(labels) and 0 <= b < len(labels)):
            raise ValueError(f"edge ({a}, {b}) names a node that is not among the {len(labels)} labels")
        out.append(f"  n{a} -> n{b};")
    out.append("}")
    return "\n".join(out) + "\n"


# --- PyTorch's autograd graph, by duck typing -----------------------------------------------

_LEAF_STYLE = {"style": "filled", "fillcolor": "#dbe9f6"}
_OUTPUT_STYLE = {"style": "filled", "fillcolor": "#cfe8cf"}
_OP_STYLE = {"shape": "ellipse"}


class _Output:
    """The tensor the walk starts from, as a node of its own above its ``grad_fn``."""

    def __init__(self, tensor, name: str):
        self.tensor, self.name = tensor, name


def _shape(tensor) -> str:
    return str(tuple(tensor.shape))


def autograd_children(node) -> list:
    """The nodes an autograd node passes gradients on to: the functions of ``next_functions``
    that exist (an input that needs no gradient appears there as None and is left out)."""
    if isinstance(node, _Output):
        return [node.tensor.grad_fn]
    return [fn for fn, _ in getattr(node, "next_functions", ()) if fn is not None]


def autograd_walk(output, names: Mapping[str, object] | None = None, output_name: str = "output"):
    """``(nodes, labels, edges)`` of the autograd graph behind ``output``: its first node stands
    for ``output`` itself, the others are the backward functions (``MmBackward0``, ...) and, for
    each leaf that requires grad, its ``AccumulateGrad``, labelled with the leaf's name from
    ``names`` (``{"x": x, ...}``, matched by identity) and shape. Edges run from a node to the
    ones in its ``next_functions`` (the direction gradients flow)."""
    grad_fn = getattr(output, "grad_fn", False)
    if grad_fn is False:
        raise TypeError(f"autograd() wants a tensor computed by PyTorch, not {type(output).__name__}")
    if grad_fn is None:
        raise ValueError(
            f"{output_name} has no grad_fn, so autograd recorded no graph for it: either it is a leaf, "
            "or nothing it was computed from requires grad (create the inputs with "
            "requires_grad=True, and do not compute it under torch.no_grad())")
    named = {id(t): n for n, t in (names or {}).items()}

    def label(node) -> str:
        if isinstance(node, _Output):
            return f"{node.name}\n{_shape(node.tensor)}"
        kind = type(node).__name__      # MmBackward0, AccumulateGrad (name() adds a C++ namespace)
        leaf = getattr(node, "variable", None)
        if leaf is not None:
            return f"{named.get(id(leaf), 'leaf')} {_shape(leaf)}\n{kind}"
        return kind

    nodes, edges = walk([_Output(output, output_name)], autograd_children)
    return nodes, [label(n) for n in nodes], edges


def autograd(output, names: Mapping[str, object] | None = None, output_name: str = "output") -> Drawing:
    """PyTorch's autograd graph behind ``output`` as a :class:`Drawing`: the block diagram of the
    computation as autograd recorded it, drawn with the inputs at the bottom and ``output`` at
    the top (the arrows follow the data forward; gradients flow against them). The text
    fallback is the same graph as an indented tree, output first."""
    nodes, labels, edges = autograd_walk(output, names, output_name)
    styles = {0: _OUTPUT_STYLE}
    for i, node in enumerate(nodes[1:], 1):
        styles[i] = _LEAF_STYLE if getattr(node, "variable", None) is not None else _OP_STYLE
    source = dot_source(labels, [(b, a) for a, b in edges], name="autograd", styles=styles,
                        rankdir="BT")
    text_labels = {id(n): l.replace("\n", "  ") for n, l in zip(nodes, labels)}
    text = tree_text(nodes[0], autograd_children, lambda n: text_labels[id(n)])
    return show(source, text)
