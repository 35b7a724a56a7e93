"""labkit.graphs: drawings with Graphviz and the text without it, the graph walkers, and the
autograd walker on real PyTorch graphs."""
from __future__ import annotations

import shutil

import pytest

from labkit import graphs

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed (make system-deps)")

TINY = 'digraph g { a [label="in"]; b [label="out"]; a -> b; }'


@pytest.fixture
def no_graphviz(tmp_path, monkeypatch):
    """A PATH with no ``dot`` on it: an empty folder, so Graphviz is really absent."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("dot") is None


def _mime_types(obj) -> set:
    """What a Jupyter front end receives for ``obj``: IPython's own display formatter."""
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(obj)
    return set(data)


# --- show / Drawing ---------------------------------------------------------------------------

@needs_dot
def test_show_draws_svg_where_graphviz_is_installed():
    drawing = graphs.show(TINY, "in -> out")
    assert drawing.drawn
    svg = drawing._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and ">in<" in svg and ">out<" in svg
    assert _mime_types(drawing) >= {"image/svg+xml", "text/plain"}
    assert repr(drawing) == "in -> out"


def test_without_graphviz_the_text_is_shown_and_says_why(no_graphviz):
    drawing = graphs.show(TINY, "in -> out")
    assert not drawing.drawn
    assert drawing._repr_svg_() is None
    assert _mime_types(drawing) == {"text/plain"}
    assert repr(drawing) == f"{graphs.NO_GRAPHVIZ}\nin -> out"
    assert "Graphviz" in graphs.NO_GRAPHVIZ and "install" in graphs.NO_GRAPHVIZ
    with pytest.raises(graphs.GraphvizMissing, match="apt-get install graphviz"):
        graphs.render(TINY)


@needs_dot
def test_invalid_dot_fails_in_show_with_graphvizs_message():
    with pytest.raises(ValueError, match="Graphviz could not draw this graph: .*syntax error"):
        graphs.show("digraph g { a -> ; }", "broken")


@needs_dot
def test_render_formats():
    assert graphs.render(TINY, "png").startswith(b"\x89PNG")
    assert graphs.render(TINY, "pdf").startswith(b"%PDF")


def test_show_rejects_what_is_not_dot_text():
    with pytest.raises(TypeError, match="decode bytes first"):
        graphs.show(TINY.encode(), "text")
    with pytest.raises(TypeError, match="text as a str, not int"):
        graphs.show(TINY, 3)
    with pytest.raises(ValueError, match="no graph in it"):
        graphs.show("a -> b", "text")


# --- walk, tree_text, dot_source ------------------------------------------------------------

def test_walk_visits_each_node_once_and_keeps_every_edge():
    dag = {"out": ["add"], "add": ["x", "x", "y"], "x": [], "y": []}
    nodes, edges = graphs.walk(["out"], dag.__getitem__, key=str)
    assert nodes == ["out", "add", "x", "y"]
    assert edges == [(0, 1), (1, 2), (1, 2), (1, 3)]


def test_walk_ends_on_a_cycle():
    ring = {"a": ["b"], "b": ["c"], "c": ["a"]}
    nodes, edges = graphs.walk(["a"], ring.__getitem__, key=str)
    assert nodes == ["a", "b", "c"] and edges == [(0, 1), (1, 2), (2, 0)]


def test_tree_text_branches_chains_and_repeats():
    dag = {"out": ["tanh"], "tanh": ["add"], "add": ["mm1", "mm2"], "mm1": ["W"], "mm2": ["W", "h"],
           "W": [], "h": []}
    text = graphs.tree_text("out", dag.__getitem__, str.upper, key=str)
    assert text.splitlines() == [
        "OUT",
        "TANH",
        "ADD",
        "├── MM1",
        "│   W",
        "└── MM2",
        "    ├── W  (as above)",
        "    └── H",
    ]


def test_tree_text_stops_at_max_lines():
    chain = {i: [i + 1] for i in range(1000)}
    chain[1000] = []
    lines = graphs.tree_text(0, chain.__getitem__, str, key=int, max_lines=10).splitlines()
    assert len(lines) == 11 and lines[:10] == [str(i) for i in range(10)]
    assert "more than 10 lines" in lines[-1]


def test_dot_source_quotes_labels_and_checks_edges():
    source = graphs.dot_source(['say "hi"', "back\\slash", "two\nlines"], [(0, 1), (1, 2)],
                               name="quoted", styles={2: {"shape": "ellipse"}}, rankdir="LR")
    assert 'n0 [label="say \\"hi\\""];' in source
    assert 'n1 [label="back\\\\slash"];' in source
    assert 'n2 [label="two\\nlines", shape="ellipse"];' in source
    assert "rankdir=LR;" in source and "n0 -> n1;" in source and "n1 -> n2;" in source
    with pytest.raises(ValueError, match=r"edge \(0, 3\) names a node that is not among the 3 labels"):
        graphs.dot_source(["a", "b", "c"], [(0, 3)])
    with pytest.raises(ValueError, match="rankdir must be"):
        graphs.dot_source(["a"], [], rankdir="up")


@needs_dot
def test_dot_source_is_valid_dot():
    source = graphs.dot_source(['say "hi"', "back\\slash", "two\nlines"], [(0, 1), (1, 2), (2, 0)])
    svg = graphs.render(source).decode()
    assert "say &quot;hi&quot;" in svg and "back\\slash" in svg and ">two<" in svg and ">lines<" in svg


# --- PyTorch's autograd graph -----------------------------------------------------------------

def test_autograd_names_leaves_and_merges_a_value_used_twice():
    torch = pytest.importorskip("torch")
    x = torch.randn(3, requires_grad=True)
    w = torch.randn(3)                          # needs no gradient: left out of the graph
    out = (x * x * w).sum()
    nodes, labels, edges = graphs.autograd_walk(out, names={"x": x}, output_name="out")
    assert labels == ["out\n()", "SumBackward0", "MulBackward0", "MulBackward0", "x (3,)\nAccumulateGrad"]
    assert edges == [(0, 1), (1, 2), (2, 3), (3, 4), (3, 4)]   # x * x: two edges to one leaf
    assert nodes[4].variable is x


def test_autograd_drawing_and_text():
    torch = pytest.importorskip("torch")
    a = torch.ones(2, 2, requires_grad=True)
    drawing = graphs.autograd(a.exp().mean())
    assert drawing.text.splitlines() == ["output  ()", "MeanBackward0", "ExpBackward0",
                                         "leaf (2, 2)  AccumulateGrad"]
    assert "rankdir=BT;" in drawing.dot_source and "n1 -> n0;" in drawing.dot_source
    if drawing.drawn:
        assert "ExpBackward0" in drawing.svg()


def test_autograd_says_why_there_is_no_graph():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="requires_grad=True"):
        graphs.autograd(torch.ones(3) * 2, output_name="y")
    with pytest.raises(TypeError, match="not ndarray"):
        graphs.autograd(__import__("numpy").ones(3))
