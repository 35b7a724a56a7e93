"""The review's Figure 3 (PyTorch's recurrent-cell example) in today's PyTorch: the code as
printed raises exactly the two errors chapter 10 explains, the corrected version's gradients
equal the analytic ones, and its autograd graph is drawn with the nodes it should have."""
from __future__ import annotations

import collections

import pytest

from labkit import graphs
from labkit.review import FIGURES

torch = pytest.importorskip("torch")

PRINTED_GRADIENT = "next_h.backward(torch.ones(1, 20))"
SHAPE_ERROR = ("Mismatch in shape: grad_output[0] has a shape of torch.Size([1, 20]) and output[0] "
               "has a shape of torch.Size([20, 1]).")
NO_GRAD_ERROR = "element 0 of tensors does not require grad and does not have a grad_fn"


def run(source: str) -> dict:
    """Run ``source`` as a script that starts with ``import torch``; its variables."""
    namespace: dict = {}
    exec(compile("import torch\n" + source, "<figure 3>", "exec"), namespace)
    return namespace


def edited(old: str, new: str, source: str = FIGURES[3]) -> str:
    assert source.count(old) == 1, f"{old!r} is not once in the figure"
    return source.replace(old, new)


def with_requires_grad(source: str = FIGURES[3]) -> str:
    for name, shape in [("x", "1, 10"), ("prev_h", "1, 20"), ("W_h", "20, 20"), ("W_x", "20, 10")]:
        source = edited(f"{name} = Variable(torch.randn({shape}))",
                        f"{name} = Variable(torch.randn({shape}), requires_grad=True)", source)
    return source


def test_figure_as_printed_fails_on_the_gradients_shape():
    assert PRINTED_GRADIENT in FIGURES[3]
    with pytest.raises(RuntimeError) as err:
        run(FIGURES[3])
    assert str(err.value) == SHAPE_ERROR


def test_with_the_right_shape_nothing_requires_grad():
    source = edited(PRINTED_GRADIENT, "next_h.backward(torch.ones(20, 1))")
    with pytest.raises(RuntimeError) as err:
        run(source)
    assert str(err.value) == NO_GRAD_ERROR


def test_the_two_slips_are_independent():
    with pytest.raises(RuntimeError) as err:        # requires_grad alone does not fix the shape
        run(with_requires_grad())
    assert str(err.value) == SHAPE_ERROR
    done = run(edited(PRINTED_GRADIENT, "next_h.backward(torch.ones(20, 1))", with_requires_grad()))
    assert done["next_h"].shape == (20, 1)
    assert all(done[n].grad is not None for n in ("x", "prev_h", "W_h", "W_x"))


def test_variable_is_a_tensor_now():
    from torch.autograd import Variable

    t = torch.zeros(3)
    v = Variable(t)
    assert type(v) is torch.Tensor and not v.requires_grad and v.data_ptr() == t.data_ptr()


def corrected(seed: int, v=None):
    """The corrected cell in float64, with the gradient ``v`` (ones by default)."""
    gen = torch.Generator().manual_seed(seed)
    leaf = {n: torch.randn(*s, generator=gen, dtype=torch.float64, requires_grad=True)
            for n, s in [("x", (1, 10)), ("prev_h", (1, 20)), ("W_h", (20, 20)), ("W_x", (20, 10))]}
    i2h = torch.mm(leaf["W_x"], leaf["x"].t())
    h2h = torch.mm(leaf["W_h"], leaf["prev_h"].t())
    next_h = (i2h + h2h).tanh()
    v = torch.ones(20, 1, dtype=torch.float64) if v is None else v
    next_h.backward(v)
    return leaf, next_h, v


@pytest.mark.parametrize("seed, random_v", [(0, False), (1, True)])
def test_corrected_gradients_equal_the_formula(seed, random_v):
    v = torch.randn(20, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(99)) if random_v else None
    leaf, next_h, v = corrected(seed, v)
    with torch.no_grad():
        g = v * (1 - next_h ** 2)                  # d (v . tanh(a)) / da, tanh' = 1 - tanh^2
        formula = {"x": g.T @ leaf["W_x"], "prev_h": g.T @ leaf["W_h"],
                   "W_h": g @ leaf["prev_h"], "W_x": g @ leaf["x"]}
    for name, t in leaf.items():
        assert t.grad.shape == t.shape
        assert float(t.grad.abs().max()) > 1e-3, name       # a real gradient, not zeros
        torch.testing.assert_close(t.grad, formula[name], rtol=1e-12, atol=1e-12)


def test_block_diagram_has_the_cells_nodes():
    leaf, next_h, _ = corrected(0)
    nodes, labels, edges = graphs.autograd_walk(next_h, names=leaf, output_name="next_h")
    kinds = collections.Counter(type(n).__name__ for n in nodes[1:])
    assert kinds == {"TanhBackward0": 1, "AddBackward0": 1, "MmBackward0": 2, "TBackward0": 2,
                     "AccumulateGrad": 4}
    assert labels[0] == "next_h\n(20, 1)"
    for name, tensor in leaf.items():
        assert f"{name} {tuple(tensor.shape)}\nAccumulateGrad" in labels
    assert len(edges) == 10
    drawing = graphs.autograd(next_h, names=leaf, output_name="next_h")
    for kind in kinds:
        assert kind in drawing.text and kind in drawing.dot_source
    if drawing.drawn:
        svg = drawing.svg()
        assert all(k in svg for k in kinds) and "W_x (20, 10)" in svg
