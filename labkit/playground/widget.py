"""The Playground's view: ipywidgets controls bound to an ``Experiment``, and its drawings.

Every control maps to one field of ``State``; moving it calls ``Experiment.change`` and
redraws. Drawings are NumPy images sent as PNG bytes to ``Image`` widgets and SVG text
in ``HTML`` widgets, updated in place (``labkit.playground.render``). Play runs a
background thread: one epoch and one redraw per frame, as the original does on every
animation frame. Whatever goes wrong (an unknown dataset in a pasted state string,
every feature switched off, a toolkit that does not import) is written in the status
line under the widget; the controls go back to the last good state.
"""
from __future__ import annotations

import html
import threading
import time

import ipywidgets as W
import numpy as np

from . import features, render
from .engines import ENGINES
from .experiment import Experiment
from .state import (LEARNING_RATES, MAX_LAYERS, MAX_NEURONS, REGULARIZATION_RATES, State,
                    from_string, to_string)
from .datasets import CLASSIFICATION, REGRESSION

_ACTIVATIONS = [("ReLU", "relu"), ("Tanh", "tanh"), ("Sigmoid", "sigmoid"), ("Linear", "linear")]
_REGS = [("None", "none"), ("L1", "L1"), ("L2", "L2")]
_PROBLEMS = [("Classification", "classification"), ("Regression", "regression")]
_ENGINE_LABELS = {"numpy": "NumPy (exact)", "torch": "PyTorch", "keras": "Keras", "jax": "JAX"}


def _num(v) -> str:
    return np.format_float_positional(v, trim="-")


def _labelled(text, widget, width="150px"):
    return W.VBox([W.HTML(f"<b style='font-size:11px;color:#555'>{text}</b>"), widget],
                  layout=W.Layout(width=width, margin="0 6px 0 0"))


class Playground(W.VBox):
    """The TensorFlow Playground as a widget. ``Playground(state_string)`` or
    ``Playground(State(...))``; ``pg.exp`` is the ``Experiment`` underneath."""

    max_fps = 30

    def __init__(self, state: State | str | None = None, size: int = 300):
        self.size = size
        self._lock = threading.RLock()
        self._syncing = False          # True while code (not a person) moves the controls
        self._weight_guard = False
        self.message = ""              # the status line as plain text; "" when all is well
        self._thread = None
        self._stop = threading.Event()
        self.exp = None
        error = None
        try:
            self.exp = Experiment(state)
        except Exception as err:           # a bad string at start: defaults, and say why
            error = err
            self.exp = Experiment()
        self._feature_pngs = {k: render.data_uri(render.heatmap(render.reduce(g), 10))
                              for k, g in Experiment.feature_grids().items()}
        self._build()
        super().__init__([self._top, self._middle, self._bottom], layout=W.Layout(width="100%"))
        self.add_class("labkit-playground")
        self._sync_controls()
        self.redraw()
        if error is not None:
            self._show_error(error, prefix="could not use that state, showing the defaults: ")

    # -- building ---------------------------------------------------------------------
    def _build(self):
        s = self.exp.state
        self.play_button = W.ToggleButton(False, description="Play", icon="play",
                                          layout=W.Layout(width="90px"))
        self.step_button = W.Button(description="Step", icon="step-forward", layout=W.Layout(width="80px"))
        self.reset_button = W.Button(description="Reset", icon="undo", layout=W.Layout(width="80px"))
        self.epoch_label = W.HTML()
        self.epoch_label.add_class("labkit-pg-epoch")
        self.controls = {
            "learning_rate": W.Dropdown(options=[(_num(v), v) for v in LEARNING_RATES]),
            "activation": W.Dropdown(options=_ACTIVATIONS),
            "regularization": W.Dropdown(options=_REGS),
            "regularization_rate": W.Dropdown(options=[(_num(v), v) for v in REGULARIZATION_RATES]),
            "problem": W.Dropdown(options=_PROBLEMS),
            "engine": W.Dropdown(options=[(_ENGINE_LABELS.get(k, k), k) for k in ENGINES]),
            "dataset": W.ToggleButtons(options=list(CLASSIFICATION), style={"button_width": "100px"}),
            "reg_dataset": W.ToggleButtons(options=list(REGRESSION), style={"button_width": "100px"}),
            "percent_train": W.IntSlider(min=10, max=90, step=10, continuous_update=False),
            "noise": W.IntSlider(min=0, max=50, step=5, continuous_update=False),
            "batch_size": W.IntSlider(min=1, max=30, continuous_update=False),
            "show_test_data": W.Checkbox(description="Show test data", indent=False),
            "discretize": W.Checkbox(description="Discretize output", indent=False),
        }
        for w in self.controls.values():
            if isinstance(w, W.Dropdown):
                w.layout.width = "140px"
            w.observe(self._on_control, "value")
        self.feature_toggles = {k: W.ToggleButton(description=features.label(k), value=k in s.features,
                                                  layout=W.Layout(width="60px", padding="0"))
                                for k in features.FEATURES}
        for t in self.feature_toggles.values():
            t.observe(self._on_features, "value")
        self.regenerate_button = W.Button(description="Regenerate", icon="refresh")
        self.add_layer = W.Button(icon="plus", layout=W.Layout(width="34px"), tooltip="add a hidden layer")
        self.remove_layer = W.Button(icon="minus", layout=W.Layout(width="34px"), tooltip="remove a hidden layer")
        self.layers_label = W.HTML()
        self.neuron_buttons = []
        for i in range(MAX_LAYERS):
            plus = W.Button(icon="plus", layout=W.Layout(width="30px", padding="0"), tooltip=f"more neurons in layer {i + 1}")
            minus = W.Button(icon="minus", layout=W.Layout(width="30px", padding="0"), tooltip=f"fewer neurons in layer {i + 1}")
            label = W.HTML()
            plus.on_click(lambda _, i=i: self._neurons(i, +1))
            minus.on_click(lambda _, i=i: self._neurons(i, -1))
            self.neuron_buttons.append((W.VBox([W.HBox([plus, minus]), label],
                                               layout=W.Layout(width="68px")), label))
        self.play_button.observe(self._on_play, "value")
        self.step_button.on_click(lambda _: self.step())
        self.reset_button.on_click(lambda _: self._do(self.exp.reset))
        self.regenerate_button.on_click(lambda _: self._do(self.exp.regenerate))
        self.add_layer.on_click(lambda _: self._layers(+1))
        self.remove_layer.on_click(lambda _: self._layers(-1))

        # Drawings.
        self.heatmap = W.Image(format="png", width=self.size, height=self.size)
        self.heatmap.add_class("labkit-pg-heatmap")
        self.network = W.HTML()
        self.curve = W.HTML()
        self.loss_label = W.HTML()
        self.loss_label.add_class("labkit-pg-loss")
        self.big_node = W.Dropdown(description="Map of", layout=W.Layout(width="200px"))
        self.big_node.observe(lambda _: None if self._syncing else self._safe_redraw(), "value")

        # Single weights.
        self.link_choice = W.Dropdown(description="Weight", layout=W.Layout(width="260px"))
        self.weight_value = W.FloatText(layout=W.Layout(width="110px"))
        self.link_choice.observe(lambda _: None if self._syncing else self._show_weight(), "value")
        self.weight_value.observe(self._on_weight, "value")

        # State string and status.
        self.state_text = W.Text(description="State", continuous_update=False,
                                 layout=W.Layout(width="100%"))
        self.state_text.observe(self._on_state_text, "value")
        self.state_text.add_class("labkit-pg-state")
        self.status = W.HTML()
        self.status.add_class("labkit-pg-status")

        c = self.controls
        self._top = W.HBox([self.play_button, self.step_button, self.reset_button,
                            _labelled("Epoch", self.epoch_label, "90px"),
                            _labelled("Learning rate", c["learning_rate"]),
                            _labelled("Activation", c["activation"]),
                            _labelled("Regularization", c["regularization"]),
                            _labelled("Regularization rate", c["regularization_rate"]),
                            _labelled("Problem type", c["problem"]),
                            _labelled("Engine", c["engine"])],
                           layout=W.Layout(flex_flow="row wrap", align_items="flex-end"))
        data_col = W.VBox([W.HTML("<b>DATA</b>"), c["dataset"], c["reg_dataset"],
                           W.HTML("Ratio of training to test data (%)"), c["percent_train"],
                           W.HTML("Noise"), c["noise"], W.HTML("Batch size"), c["batch_size"],
                           self.regenerate_button], layout=W.Layout(width="225px"))
        for k in ("percent_train", "noise", "batch_size"):
            c[k].layout.width = "215px"
        self._neuron_row = W.HBox([b for b, _ in self.neuron_buttons])
        net_col = W.VBox([W.HTML("<b>FEATURES</b> (click to switch on or off)"),
                          W.HBox(list(self.feature_toggles.values()), layout=W.Layout(flex_flow="row wrap")),
                          W.HBox([self.add_layer, self.remove_layer, self.layers_label]),
                          self._neuron_row, self.network], layout=W.Layout(width="470px"))
        out_col = W.VBox([W.HTML("<b>OUTPUT</b>"), self.loss_label, self.curve, self.heatmap,
                          c["show_test_data"], c["discretize"], self.big_node],
                         layout=W.Layout(width=f"{self.size + 20}px"))
        self._middle = W.HBox([data_col, net_col, out_col], layout=W.Layout(flex_flow="row wrap"))
        self._bottom = W.VBox([W.HBox([self.link_choice, self.weight_value]), self.state_text,
                               self.status])

    # -- keeping controls and state together --------------------------------------------
    def _sync_controls(self):
        """Put every control at the experiment's state (after a change, or a refused one)."""
        s = self.exp.state
        self._syncing = True
        try:
            for name, w in self.controls.items():
                w.value = getattr(s, name)
            for k, t in self.feature_toggles.items():
                t.value = k in s.features
            regression = s.problem == "regression"
            self.controls["dataset"].layout.display = "none" if regression else None
            self.controls["reg_dataset"].layout.display = None if regression else "none"
            n = len(s.hidden)
            self.layers_label.value = f"&nbsp;{n} hidden layer{'s' if n != 1 else ''}"
            for i, (box, label) in enumerate(self.neuron_buttons):
                box.layout.display = None if i < n else "none"
                if i < n:
                    label.value = (f"<span style='font-size:11px;white-space:nowrap'>{s.hidden[i]} "
                                   f"neuron{'s' if s.hidden[i] != 1 else ''}</span>")
            links = self.exp.links()
            if [o[1] for o in self.link_choice.options] != [v for _, v in links]:
                self.link_choice.options = links
                self.link_choice.value = links[0][1]
            names = [n for layer in self.exp.node_names()[1:] for n in layer][::-1]
            if list(self.big_node.options) != names:
                self.big_node.options = names
                self.big_node.value = "out"
            self.state_text.value = to_string(s)
        finally:
            self._syncing = False

    def _do(self, action, *args, **kwargs) -> bool:
        """Run a change under the lock; on error keep the old state and say why."""
        with self._lock:
            net = self.exp.net
            try:
                action(*args, **kwargs)
            except Exception as err:
                self._show_error(err)
                self._sync_controls()
                return False
            self.message = self.status.value = ""
            if self.exp.net is not net:      # a new network: the page pauses too
                self.play_button.value = False
            self._sync_controls()
            self.redraw()
            return True

    def _show_error(self, err, prefix=""):
        known = err.__class__.__name__ in ("StateError", "NoFeaturesError", "EngineError")
        what = str(err) if known else f"{err.__class__.__name__}: {err}"
        self.message = prefix + what
        self.status.value = (f"<div style='color:#b00020;font-weight:bold'>\u26a0 "
                             f"{html.escape(prefix + what)}</div>")

    def _on_control(self, change):
        if self._syncing:
            return
        name = next(k for k, w in self.controls.items() if w is change["owner"])
        self._do(self.exp.change, **{name: change["new"]})

    def _on_features(self, change):
        if self._syncing:
            return
        on = tuple(k for k, t in self.feature_toggles.items() if t.value)
        self._do(self.exp.change, features=on)

    def _layers(self, delta):
        hidden = list(self.exp.state.hidden)
        if delta > 0 and len(hidden) < MAX_LAYERS:
            hidden.append(2)
        elif delta < 0 and hidden:
            hidden.pop()
        self._do(self.exp.change, hidden=tuple(hidden))

    def _neurons(self, layer, delta):
        hidden = list(self.exp.state.hidden)
        if layer < len(hidden) and 1 <= hidden[layer] + delta <= MAX_NEURONS:
            hidden[layer] += delta
            self._do(self.exp.change, hidden=tuple(hidden))

    def _on_state_text(self, change):
        if not self._syncing:
            self.load(change["new"])

    def load(self, text: str) -> bool:
        """Apply a state string (as pasted into the State box); False, with a message, if bad."""
        return self._do(lambda: self.exp.apply(from_string(text, base=self.exp.state)))

    def _show_weight(self):
        self._weight_guard = True
        try:
            if self.link_choice.value is not None:
                self.weight_value.value = round(self.exp.weight(*self.link_choice.value), 6)
        finally:
            self._weight_guard = False

    def _on_weight(self, change):
        if not (self._syncing or self._weight_guard) and self.link_choice.value is not None:
            self._do(self.exp.set_weight, *self.link_choice.value, change["new"])

    # -- training -----------------------------------------------------------------------
    def step(self):
        """One epoch and a redraw (the Step button)."""
        self.play_button.value = False
        with self._lock:
            try:
                self.exp.step()
            except Exception as err:
                self._show_error(err)
            self.redraw()

    def _on_play(self, change):
        if change["new"]:
            self.play_button.description, self.play_button.icon = "Pause", "pause"
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="labkit-playground", daemon=True)
            self._thread.start()
        else:
            self.play_button.description, self.play_button.icon = "Play", "play"
            self._stop.set()       # the thread stops before its next frame

    def pause(self, timeout: float = 5.0):
        """Stop playing and wait until the last frame is drawn."""
        self.play_button.value = False
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self):
        while not self._stop.is_set():
            start = time.perf_counter()
            with self._lock:
                if self._stop.is_set():
                    break
                try:
                    self.exp.step()
                    self.redraw()
                except Exception as err:
                    self._show_error(err)
                    self._stop.set()
                    break
            self._stop.wait(max(0.0, 1 / self.max_fps - (time.perf_counter() - start)))

    def close(self):
        self.pause()
        super().close()

    # -- drawing ------------------------------------------------------------------------
    def _safe_redraw(self):
        with self._lock:
            self.redraw()

    def redraw(self):
        """Draw everything from the experiment: heatmap, network, curve, numbers."""
        exp, s = self.exp, self.exp.state
        outputs = exp.grid_outputs()
        names = exp.node_names()
        flat = {n: (layer, j) for layer, row in enumerate(names[1:]) for j, n in enumerate(row)}
        layer, j = flat.get(self.big_node.value, (len(outputs) - 1, 0))
        img = render.heatmap(outputs[layer][..., j], self.size, s.discretize)
        render.draw_points(img, exp.X_train, exp.y_train)
        if s.show_test_data:
            render.draw_points(img, exp.X_test, exp.y_test, ring=(40, 40, 40))
        self.heatmap.value = render.png(img)
        small = [[render.data_uri(render.heatmap(r[..., k], 10, s.discretize))
                  for k in range(r.shape[-1])] for r in map(render.reduce, outputs)]
        keys = list(features.FEATURES)
        self.network.value = render.network_svg(
            keys, [features.label(k) for k in keys], s.features, self._feature_pngs, small,
            exp.net, names, width=460)
        self.curve.value = render.loss_curve_svg(exp.history, width=self.size)
        train, test = exp.history[-1]
        self.loss_label.value = (f"Test loss <b class='labkit-pg-test-loss'>{test:.3f}</b>"
                                 f"&nbsp;&nbsp;Training loss <b class='labkit-pg-train-loss'>"
                                 f"{train:.3f}</b>")
        self.epoch_label.value = f"<span style='font-size:20px'>{exp.epoch:07,d}</span>"
        self._show_weight()
