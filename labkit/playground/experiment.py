"""The Playground without a screen: data, network, engine, epoch counter and loss curve.

``Experiment`` does what the original page does when you press its buttons, and nothing
visual: ``step()`` trains one epoch (the page's step button, and one frame of play),
``reset()`` makes a new network, ``regenerate()`` new data, ``change(**settings)``
applies a control as the page does (a new dataset, noise or train ratio draws a new seed
and new data; a new activation, regularisation, batch size, feature or layer makes a new
network; a new learning rate does neither). The widget in ``labkit.playground.widget`` is
a thin view over this class.

All randomness comes from one NumPy generator seeded by the state's seed: the data are
drawn first, then the first network's weights, as in the original, so a state string
gives back the same data and the same starting network.
"""
from __future__ import annotations

import numpy as np

from . import datasets, engines, features
from .network import Network, output_activation
from .state import State, StateError, from_string

GRID = 100            # heatmap samples per side, as the original's DENSITY
DOMAIN = (-6.0, 6.0)  # both axes

_DATA_FIELDS = ("dataset", "reg_dataset", "problem", "noise", "percent_train", "seed")
_NET_FIELDS = ("activation", "regularization", "regularization_rate", "batch_size", "hidden",
               "features", "init_zero")


def grid_points(n: int = GRID) -> np.ndarray:
    """The ``(n * n, 2)`` points of the heatmap, row by row from the top (x2 = 6) down."""
    lin = np.linspace(*DOMAIN, n)
    x1, x2 = np.meshgrid(lin, lin[::-1])
    return np.stack([x1.ravel(), x2.ravel()], axis=1)


class Experiment:
    def __init__(self, state: State | str | None = None):
        if isinstance(state, str):
            state = from_string(state)
        self.state = (state or State()).validate()
        self._grid = grid_points()
        self._new_data()
        self._commit_network(*self._build_network(self.state))

    # -- data and network ------------------------------------------------------------
    def _new_data(self):
        s = self.state
        self.rng = np.random.default_rng(s.seed_int())
        self.X_train, self.y_train, self.X_test, self.y_test = datasets.generate(
            s.data_name, s.noise, s.percent_train, self.rng)

    def _build_network(self, s: State):
        F_train = features.matrix(self.X_train, s.features)   # NoFeaturesError if none is on
        shape = [F_train.shape[1], *s.hidden, 1]
        net = Network.build(shape, s.activation, output_activation(s.problem), self.rng, s.init_zero)
        engine = engines.create(s.engine, net, s.regularization, s.regularization_rate)
        return net, engine

    def _commit_network(self, net, engine):
        s = self.state
        self.net, self.engine = net, engine
        self.F_train = features.matrix(self.X_train, s.features)
        self.F_test = features.matrix(self.X_test, s.features)
        self.F_grid = features.matrix(self._grid, s.features)
        self.epoch = 0
        self.history = [self.losses()]

    def reset(self) -> None:
        """A new network (new random weights, continuing the seeded stream); epoch 0."""
        self._commit_network(*self._build_network(self.state))

    def regenerate(self) -> None:
        """New data from a new seed, as the page's Regenerate button does. The network is kept."""
        self.apply(self.state.replace(seed=self.new_seed()))

    def new_seed(self) -> str:
        return f"{self.rng.random():.5f}"

    def change(self, **settings) -> None:
        """Apply control values (``State`` field names) the way the page applies them."""
        new = self.state.replace(**settings)
        data_moved = any(getattr(new, f) != getattr(self.state, f) for f in _DATA_FIELDS[:-1])
        if data_moved and "seed" not in settings:
            new = new.replace(seed=self.new_seed())
        self.apply(new)

    def apply(self, new: State | str) -> None:
        """Switch to another whole state. On any error nothing changes and the error says why."""
        if isinstance(new, str):
            new = from_string(new, base=self.state)
        new.validate()
        old = self.state
        changed = {f.name for f in old.__dataclass_fields__.values()
                   if getattr(old, f.name) != getattr(new, f.name)}
        if not new.features:
            features.matrix(self._grid[:1], new.features)   # raises NoFeaturesError
        if not changed:
            return
        self.state = new
        try:
            if changed & set(_DATA_FIELDS):
                kept = (self.X_train, self.y_train, self.X_test, self.y_test, self.rng)
                self._new_data()
                if changed & (set(_DATA_FIELDS) - {"seed"}) or changed & set(_NET_FIELDS):
                    self._commit_network(*self._build_network(new))
                else:   # Regenerate keeps the network, as in the original
                    self.F_train = features.matrix(self.X_train, new.features)
                    self.F_test = features.matrix(self.X_test, new.features)
                    self.history.append(self.losses())
            elif changed & set(_NET_FIELDS):
                self._commit_network(*self._build_network(new))
            elif "engine" in changed:
                self.set_engine(new.engine)
        except Exception:
            self.state = old
            if changed & set(_DATA_FIELDS):
                self.X_train, self.y_train, self.X_test, self.y_test, self.rng = kept
            raise

    def set_engine(self, name: str) -> None:
        """Let another toolkit carry on training the *same* weights."""
        engine = engines.create(name, self.net, self.state.regularization,
                                self.state.regularization_rate)
        engine._pending = self.engine._pending
        self.engine = engine
        self.state = self.state.replace(engine=name)

    # -- training --------------------------------------------------------------------
    def step(self, epochs: int = 1) -> tuple:
        """Train ``epochs`` epochs; returns the (train, test) loss after the last."""
        s = self.state
        for _ in range(epochs):
            self.engine.train_epoch(self.F_train, self.y_train, s.batch_size, s.learning_rate)
            self.epoch += 1
            self.history.append(self.losses())
        return self.history[-1]

    def losses(self) -> tuple:
        return (self.net.loss(self.F_train, self.y_train), self.net.loss(self.F_test, self.y_test))

    # -- what the view draws ---------------------------------------------------------
    def grid_outputs(self) -> list:
        """Every layer's outputs over the heatmap grid: a list of ``(GRID, GRID, neurons)``."""
        return [a.reshape(GRID, GRID, -1) for _, a in self.net.forward(self.F_grid)]

    @staticmethod
    def feature_grids() -> dict:
        """Each input feature's value over the grid, ``(GRID, GRID)``, for all seven features."""
        pts = grid_points()
        return {k: fn(pts[:, 0], pts[:, 1]).reshape(GRID, GRID)
                for k, (_, fn) in features.FEATURES.items()}

    # -- single weights ----------------------------------------------------------------
    def node_names(self) -> list:
        """Names of every layer's nodes: feature labels, then ``h1.1`` ..., then ``out``."""
        names = [[features.label(k) for k in self.state.features]]
        for layer, n in enumerate(self.state.hidden, start=1):
            names.append([f"h{layer}.{i + 1}" for i in range(n)])
        return names + [["out"]]

    def links(self) -> list:
        """``(label, (layer, to, frm))`` for every weight; ``frm=None`` is the bias."""
        names, out = self.node_names(), []
        for layer in range(len(self.net.weights)):
            for to, dest in enumerate(names[layer + 1]):
                out += [(f"{src} \u2192 {dest}", (layer, to, frm))
                        for frm, src in enumerate(names[layer])]
                out.append((f"bias of {dest}", (layer, to, None)))
        return out

    def weight(self, layer: int, to: int, frm: int | None) -> float:
        if frm is None:
            return float(self.net.biases[layer][to])
        return float(self.net.weights[layer][to, frm])

    def set_weight(self, layer: int, to: int, frm: int | None, value: float) -> None:
        """Set one weight (or bias, ``frm=None``) by hand; the engine trains on from there."""
        try:
            value = float(value)
            target = self.net.biases[layer] if frm is None else self.net.weights[layer][to]
            target[to if frm is None else frm] = value
        except (IndexError, TypeError, ValueError) as err:
            raise StateError(f"no weight ({layer}, {to}, {frm}) or bad value {value!r}: {err}") from None
        self.engine.push()
        self.history[-1] = self.losses()
