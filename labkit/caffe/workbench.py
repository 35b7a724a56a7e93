"""A DIGITS-style workbench for a net prototxt: edit the text, check it, draw it, train it.

NVIDIA's DIGITS (2015) put Caffe in a web page: a prototxt typed into a text box, a picture
of the network so that mistakes in the text show, and the training curves drawn while it
trains. This is the same loop in a notebook, in three functions that work without any
widget (the tests and the chapter call them from code) and a thin widget over them:

    checked = check(text, "lenet_train_test.prototxt")   # problems as file:line:column: message
    draw(checked)                                       # the net as a graph (Graphviz SVG or text)
    run = train(text, steps=50, solver=solver_param)    # a short run, with labkit's live display

    bench = Workbench(text, "lenet_train_test.prototxt", solver=solver_param)
    bench                                               # the text box and the Validate/Draw/Train buttons
    bench.editor.value = other_text; bench.validate()   # what a click does, from code

Training is ``labkit.caffe.SGDSolver`` on the edited net (the solver settings come from
``solver``, a SolverParameter, with its net, weights and snapshots replaced), fed to
:class:`labkit.timing.LiveProgress` as the chapter feeds it. Widgets are imported only by
:class:`Workbench`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from labkit.caffe import caffe_pb2
from labkit.caffe.check import PHASES, Checked, check
from labkit.caffe.draw import draw_net

__all__ = ["check", "draw", "train", "Trained", "Workbench"]

#: The solver fields that name nets, weights and snapshots: the workbench sets its own.
_REPLACED = ("net", "net_param", "train_net", "train_net_param", "test_net", "test_net_param", "weights",
             "snapshot_prefix", "train_state", "test_state")


def draw(checked: Checked, phase: int = caffe_pb2.TRAIN):
    """The checked net drawn in ``phase``, blobs labelled with their shapes where it built
    (a net that does not parse has nothing to draw: :class:`~labkit.caffe.check.CheckError`)."""
    if checked.net is None:
        checked.raise_problems()
    return draw_net(checked.net, checked.shapes.get(phase), phase,
                    title=f"{checked.path}" + (f" ({len(checked.problems)} problem(s))" if checked.problems else ""))


def solver_for(net, steps: int, solver=None, test_iter: int = 0) -> "caffe_pb2.SolverParameter":
    """A solver that trains ``net`` (a NetParameter) for ``steps`` iterations with the
    settings of ``solver`` (default: the workbook's recipe, Caffe's MNIST solver), from the
    net's own fillers, with no snapshots and no log lines; with ``test_iter``, one test pass
    of that many batches at the end."""
    p = caffe_pb2.SolverParameter()
    if solver is not None:
        p.CopyFrom(solver)
    else:
        from labkit import lenet

        r = lenet.recipe()
        p.MergeFrom(caffe_pb2.SolverParameter(base_lr=r.base_lr, momentum=r.momentum, weight_decay=r.weight_decay,
                                              lr_policy="inv", gamma=r.gamma, power=r.power, random_seed=r.seed))
    for name in _REPLACED:
        p.ClearField(name)
    p.net_param.CopyFrom(net)
    p.max_iter, p.display, p.snapshot, p.snapshot_after_train = steps, 0, 0, False
    p.test_iter[:] = [test_iter] if test_iter else []
    p.test_interval, p.test_initialization = (steps if test_iter else 0), False
    return p


@dataclass
class Trained:
    """A workbench run: the solver (its nets, ``losses``, ``test_results``), the live display's
    history, and the wall time."""
    solver: object
    live: object
    seconds: float

    @property
    def losses(self) -> list[float]:
        return self.solver.losses

    @property
    def test(self) -> dict[str, float]:
        return self.solver.test_results[-1][1] if self.solver.test_results else {}

    def __repr__(self) -> str:
        k = max(1, len(self.losses) // 10)
        head, tail = self.losses[:k], self.losses[-k:]
        tested = ", ".join(f"{n} {v:.4f}" for n, v in self.test.items())
        return (f"{len(self.losses)} iterations in {self.seconds:.1f} s: loss {sum(head) / k:.4f} (mean of the "
                f"first {k}) -> {sum(tail) / k:.4f} (mean of the last {k})" + (f"; test: {tested}" if tested else ""))


def train(text: str, steps: int, path: str = "net.prototxt", solver=None, test_iter: int = 0,
          title: str | None = None, mode: str | None = None) -> Trained:
    """Check ``text`` (raising :class:`~labkit.caffe.check.CheckError` with every problem
    if it has any), then train it for ``steps`` iterations with the live display (``mode``:
    LiveProgress's, default the notebook's or text). Returns a :class:`Trained`."""
    from labkit.caffe.solver import SGDSolver
    from labkit.timing import LiveProgress

    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    checked = check(text, path).raise_problems()
    sv = SGDSolver(solver_for(checked.net, steps, solver, test_iter), log=None)
    batch = next((s[0] for s in checked.shapes.get(caffe_pb2.TRAIN, {}).values() if s), 1)
    seen = [0]

    def show(solver, loss):
        live.update(loss=loss)
        if len(solver.test_results) > seen[0]:
            seen[0] = len(solver.test_results)
            acc = solver.test_results[-1][1].get("accuracy")
            if acc is not None:
                live.update(0, items=0, acc=acc)

    start = time.perf_counter()
    with LiveProgress(steps, unit="img", batch_size=batch, title=title or f"{path}: {steps} iterations",
                      mode=mode) as live:
        sv.solve(callback=show)
    return Trained(sv, live, time.perf_counter() - start)


class Workbench:
    """The widget: a text box holding the prototxt, Validate, Draw and Train buttons, the
    number of training steps, the phase to draw, and an output area. Each button calls the
    method of the same name, which also works from code and returns its result."""

    def __init__(self, text: str, path: str = "net.prototxt", steps: int = 50, solver=None, test_iter: int = 0,
                 rows: int = 24):
        import ipywidgets as w

        self.path, self.solver, self.test_iter = path, solver, test_iter
        self.editor = w.Textarea(value=text, rows=rows, layout=w.Layout(width="100%"))
        self.steps = w.BoundedIntText(value=steps, min=1, max=100_000, description="steps")
        self.phase = w.Dropdown(options=[(name, value) for value, name in PHASES.items()], value=caffe_pb2.TRAIN,
                                description="draw")
        self.buttons = {name: w.Button(description=name.capitalize()) for name in ("validate", "draw", "train")}
        for name, button in self.buttons.items():
            button.on_click(lambda _b, act=getattr(self, name): act())
        self.output = w.Output()
        self.view = w.VBox([w.HTML(f"<b>{path}</b>"), self.editor,
                            w.HBox([*self.buttons.values(), self.steps, self.phase]), self.output])
        self.last = None        # what the last action returned (or the error it raised)

    def _act(self, work):
        self.output.clear_output()
        with self.output:
            try:
                self.last = work()
            except Exception as e:            # shown in the widget, as DIGITS showed a failed job
                self.last = e
                print(f"{type(e).__name__}: {e}")
                return None
            _show(self.last)
        return self.last

    def validate(self) -> Checked:
        """Check the text in the box; the problems (or a summary) appear below it."""
        return self._act(lambda: check(self.editor.value, self.path))

    def draw(self):
        """Draw the net in the chosen phase (with its problems in the title, if any)."""
        return self._act(lambda: draw(check(self.editor.value, self.path), self.phase.value))

    def train(self) -> Trained | None:
        """Train the text in the box for the chosen number of steps, with the live display."""
        return self._act(lambda: train(self.editor.value, self.steps.value, self.path, self.solver, self.test_iter))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.view)


def _show(value) -> None:
    try:
        from IPython.display import display
    except ImportError:                       # no IPython: plain text
        print(value)
        return
    display(value)
