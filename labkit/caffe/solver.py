"""``SGDSolver``: trains a net from a solver prototxt with Caffe's semantics, and logs as Caffe did.

One iteration, as Caffe's ``Solver::Step`` and ``SGDSolver::ApplyUpdate`` do it:

1. test every ``test_interval`` iterations (also at iteration 0 unless ``test_initialization: false``);
2. forward and backward ``iter_size`` times, the loss averaged; the displayed loss is smoothed
   over the last ``average_loss`` iterations;
3. the rate ``lr`` of the ``lr_policy`` at this iteration; gradients clipped (``clip_gradients``);
4. for every parameter blob, with its ParamSpec's ``lr_mult`` and ``decay_mult``::

       diff    += weight_decay * decay_mult * data          (L2; L1 adds the sign of data)
       history  = momentum * history + lr * lr_mult * diff
       data    -= history

5. a snapshot every ``snapshot`` iterations (``<prefix>_iter_<n>.caffemodel`` and ``.solverstate``).
"""
from __future__ import annotations

import math
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch

from labkit.caffe import caffe_pb2, caffemodel
from labkit.caffe.net import Net
from labkit.caffe.prototxt import read_net, read_solver

LR_POLICIES = ("fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid")


def learning_rate(param, iteration: int) -> float:
    """The rate Caffe's ``lr_policy`` gives at ``iteration`` (0-based), computed in float32
    as Caffe does. ``param`` is a SolverParameter."""
    f = np.float32
    base, gamma, power, it = f(param.base_lr), f(param.gamma), f(param.power), f(iteration)
    policy = param.lr_policy
    if policy == "fixed":
        rate = base
    elif policy == "step":
        if param.stepsize <= 0:
            raise ValueError("lr_policy step needs stepsize > 0")
        rate = base * gamma ** f(iteration // param.stepsize)
    elif policy == "exp":
        rate = base * gamma ** it
    elif policy == "inv":
        rate = base * (f(1) + gamma * it) ** (-power)
    elif policy == "multistep":
        rate = base * gamma ** f(sum(iteration >= v for v in param.stepvalue))
    elif policy == "poly":
        rate = base * (f(1) - it / f(param.max_iter)) ** power
    elif policy == "sigmoid":
        rate = base * (f(1) / (f(1) + np.exp(-gamma * (it - f(param.stepsize)))))
    else:
        raise ValueError(f"unknown lr_policy {policy!r}; Caffe's policies are {', '.join(LR_POLICIES)}")
    return float(np.float32(rate))


def _fmt(x: float) -> str:
    """A number as Caffe's C++ streams print it (6 significant digits)."""
    return f"{x:.6g}"


class SGDSolver:
    """Caffe's SGD solver. ``SGDSolver("lenet_solver.prototxt")`` (or a SolverParameter);
    ``solve()`` trains to ``max_iter``, ``step(n)`` runs n iterations. ``log`` receives each
    log line (default ``print``; ``None`` for silence). ``net`` and ``test_nets`` are
    :class:`~labkit.caffe.net.Net` objects; test nets share the train net's weights."""

    def __init__(self, solver, log=print):
        root = None
        if isinstance(solver, (str, Path)):
            root = Path(solver).parent
            solver = read_solver(solver)
        self.param = solver
        self.root = root
        self.log = log or (lambda line: None)
        p = solver
        if p.type != "SGD" or p.solver_type != caffe_pb2.SolverParameter.SGD:
            raise NotImplementedError(f"solver type {p.type!r} is not supported; this engine implements "
                                      "Caffe's SGD solver (type: \"SGD\", momentum as Caffe applies it)")
        if p.regularization_type not in ("L1", "L2"):
            raise ValueError(f"regularization_type {p.regularization_type!r}: Caffe knows L1 and L2")
        learning_rate(p, 0)   # checks the policy
        seed = p.random_seed if p.random_seed >= 0 else None
        train_param, test_params = self._net_params()
        train_state = p.train_state if p.HasField("train_state") else caffe_pb2.NetState()
        self.net = Net(train_param, caffe_pb2.TRAIN, level=train_state.level, stages=train_state.stage,
                       seed=seed if seed is not None else -1)
        if len(p.test_iter) != len(test_params):
            raise ValueError(f"the solver has {len(test_params)} test net(s) but {len(p.test_iter)} test_iter "
                             "value(s); give one test_iter per test net")
        self.test_nets = []
        for k, tp in enumerate(test_params):
            state = p.test_state[k] if k < len(p.test_state) else caffe_pb2.NetState()
            self.test_nets.append(Net(tp, caffe_pb2.TEST, level=state.level, stages=state.stage,
                                      share_from=self.net))
        for weights in p.weights:       # BVLC's `weights:` (added in 2018, after 1.0) (also `caffe train --weights=...`)
            self.net.copy_from(self._resolve(weights))
        self.iter = 0
        self.current_step = 0
        self.test_seconds = 0.0                           # time spent testing, inside step()/solve()
        self._params = self.net.learnable_params()
        self.history = [torch.zeros_like(t) for _, _, t, _ in self._params]
        self.losses: list[float] = []                     # every iteration's loss
        self.train_curve: list[tuple[int, float]] = []    # (iteration, smoothed loss) at each display
        self.test_results: list[tuple[int, dict]] = []    # (iteration, {output: value}) at each test

    def _resolve(self, name: str) -> Path:
        path = Path(name)
        if not path.exists() and not path.is_absolute() and self.root is not None and (self.root / path).exists():
            return self.root / path
        return path

    def _net_params(self):
        """The train net and the test nets, from the fields Caffe looks at, in its order."""
        p = self.param
        given = [f for f in ("train_net_param", "train_net", "net_param", "net") if p.HasField(f)]
        if len(given) != 1:
            raise ValueError("a solver names exactly one train net (one of train_net_param, train_net, "
                             f"net_param, net); this one has {given or 'none'}")
        field = given[0]
        if field.endswith("_param"):
            train = getattr(p, field)
        else:
            train = self._load_with_root(getattr(p, field))
        tests = list(p.test_net_param) + [self._load_with_root(n) for n in p.test_net]
        if p.HasField("net_param") or p.HasField("net"):
            # the generic net is also the test net, once per test_iter beyond the specific test nets
            generic = p.net_param if p.HasField("net_param") else self._load_with_root(p.net)
            tests += [generic] * max(0, len(p.test_iter) - len(tests))
        return train, tests

    def _load_with_root(self, name: str):
        """A net prototxt, with relative Data sources resolved against its directory as well."""
        path = self._resolve(name)
        net = read_net(path)
        for layer in net.layer:
            if layer.type == "Data" and not Path(layer.data_param.source).is_absolute():
                src = Path(layer.data_param.source)
                if not src.exists() and (path.parent / src).exists():
                    layer.data_param.source = str(path.parent / src)
        return net

    # --- training --------------------------------------------------------------------

    @property
    def lr(self) -> float:
        return learning_rate(self.param, self.iter)

    def step(self, iters: int, callback=None) -> None:
        """Run ``iters`` iterations. ``callback(solver, loss)`` is called after each one."""
        p = self.param
        stop = self.iter + iters
        window = deque(maxlen=max(1, p.average_loss))
        tick, last = time.perf_counter(), self.iter
        while self.iter < stop:
            self.net.clear_param_diffs()
            if p.test_interval and self.iter % p.test_interval == 0 and (self.iter > 0 or p.test_initialization):
                self.test_all()
            display = p.display and self.iter % p.display == 0
            loss = sum(self._forward_backward() for _ in range(p.iter_size)) / p.iter_size
            window.append(loss)
            self.losses.append(loss)
            smoothed = sum(window) / len(window)
            if display:
                lapse = time.perf_counter() - tick
                per_s = (self.iter - last) / lapse if lapse else 0.0
                self.log(f"Iteration {self.iter} ({_fmt(per_s)} iter/s, {lapse:.3g}s/{p.display} iters), "
                         f"loss = {_fmt(smoothed)}")
                self._log_outputs(self.net, "Train", {n: float(self.net.blobs[n].data.sum())
                                                      for n in self.net.outputs})
                self.train_curve.append((self.iter, smoothed))
                tick, last = time.perf_counter(), self.iter
            self._apply_update(display)
            self.iter += 1
            if p.snapshot and self.iter % p.snapshot == 0:
                self.snapshot()
            if callback is not None:
                callback(self, loss)

    def _forward_backward(self) -> float:
        net = self.net
        with torch.enable_grad():
            loss = net._run(0, len(net.layers) - 1)
        if loss is None:
            raise RuntimeError("the train net computes no loss (no layer with a loss weight)")
        loss.backward()
        return loss.item()

    def _apply_update(self, display: bool) -> None:
        p = self.param
        rate = learning_rate(p, self.iter)
        self.current_step = sum(self.iter >= v for v in p.stepvalue) if p.lr_policy == "multistep" else \
            (self.iter // p.stepsize if p.lr_policy == "step" else 0)
        if display:
            self.log(f"Iteration {self.iter}, lr = {_fmt(rate)}")
        with torch.no_grad():
            grads = [t.grad if t.grad is not None else torch.zeros_like(t) for _, _, t, _ in self._params]
            if p.clip_gradients >= 0:
                norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
                if norm > p.clip_gradients:
                    scale = p.clip_gradients / norm
                    self.log(f"Gradient clipping: scaling down gradients (L2 norm {_fmt(norm)} > "
                             f"{_fmt(p.clip_gradients)}) by scale factor {_fmt(scale)}")
                    for g in grads:
                        g.mul_(scale)
            for (_, _, data, spec), diff, hist in zip(self._params, grads, self.history):
                if p.iter_size > 1:
                    diff.mul_(1.0 / p.iter_size)
                decay = p.weight_decay * spec.decay_mult
                if decay:
                    diff.add_(data if p.regularization_type == "L2" else torch.sign(data), alpha=decay)
                hist.mul_(p.momentum).add_(diff, alpha=rate * spec.lr_mult)
                data.sub_(hist)

    def solve(self, callback=None) -> None:
        """Train to ``max_iter``, then snapshot, display and test as Caffe's ``Solver::Solve``."""
        p = self.param
        self.log(f"Solving {self.net.name}")
        self.log(f"Learning Rate Policy: {p.lr_policy}")
        self.step(p.max_iter - self.iter, callback)
        if p.snapshot_after_train and (not p.snapshot or self.iter % p.snapshot != 0):
            self.snapshot()
        if p.display and self.iter % p.display == 0:
            with torch.no_grad():
                loss = self.net._run(0, len(self.net.layers) - 1)
            self.log(f"Iteration {self.iter}, loss = {_fmt(loss.item())}")
        if p.test_interval and self.iter % p.test_interval == 0:
            self.test_all()
        self.log("Optimization Done.")

    # --- testing ---------------------------------------------------------------------

    def test(self, k: int = 0) -> dict[str, float]:
        """Run test net ``k`` for its ``test_iter`` batches; the mean of each output."""
        net, n = self.test_nets[k], self.param.test_iter[k]
        self.log(f"Iteration {self.iter}, Testing net (#{k})")
        sums = dict.fromkeys(net.outputs, 0.0)
        with torch.no_grad():
            for _ in range(n):
                net._run(0, len(net.layers) - 1)
                for name in net.outputs:
                    sums[name] += float(net.blobs[name].data.sum())
        means = {name: s / n for name, s in sums.items()}
        self._log_outputs(net, "Test", means)
        return means

    def test_all(self) -> list[dict[str, float]]:
        start = time.perf_counter()
        results = [self.test(k) for k in range(len(self.test_nets))]
        self.test_seconds += time.perf_counter() - start
        if results:
            self.test_results.append((self.iter, results[0]))
        return results

    def _log_outputs(self, net: Net, kind: str, values: dict[str, float]) -> None:
        weights = {}
        for i, lp in enumerate(net.param.layer):
            for t, name in enumerate(lp.top):
                w = net._loss_weights.get((i, t))
                if w:
                    weights[name] = w
        for j, (name, value) in enumerate(values.items()):
            w = weights.get(name)
            extra = f" (* {_fmt(w)} = {_fmt(w * value)} loss)" if w else ""
            self.log(f"    {kind} net output #{j}: {name} = {_fmt(value)}{extra}")

    # --- snapshots -------------------------------------------------------------------

    def snapshot(self) -> tuple[Path, Path] | None:
        """Write ``<prefix>_iter_<n>.caffemodel`` and ``.solverstate``; returns both paths."""
        prefix = self.param.snapshot_prefix
        if not prefix:
            self.log("No snapshot_prefix in the solver: snapshot skipped")
            return None
        model = Path(f"{prefix}_iter_{self.iter}.caffemodel")
        self.log(f"Snapshotting to binary proto file {model}")
        self.net.save(model)
        state = caffe_pb2.SolverState(iter=self.iter, learned_net=str(model), current_step=self.current_step)
        state.history.extend(caffemodel.array_to_blob(h.numpy()) for h in self.history)
        path = model.with_suffix(".solverstate")
        self.log(f"Snapshotting solver state to binary proto file {path}")
        path.write_bytes(state.SerializeToString())
        return model, path

    def restore(self, state_file) -> None:
        """Resume from a .solverstate: iteration, momentum history and the weights it names."""
        state = caffe_pb2.SolverState()
        state.ParseFromString(Path(state_file).read_bytes())
        if len(state.history) != len(self.history):
            raise ValueError(f"{state_file} holds {len(state.history)} history blobs; the net has "
                             f"{len(self.history)} parameter blobs")
        self.net.copy_from(self._resolve(state.learned_net))
        self.iter, self.current_step = state.iter, state.current_step
        for h, blob in zip(self.history, state.history):
            h.copy_(torch.from_numpy(caffemodel.blob_to_array(blob)).reshape(h.shape))


def get_solver(solver, log=print) -> SGDSolver:
    """pycaffe's ``caffe.get_solver``: the solver the file asks for (SGD is implemented)."""
    return SGDSolver(solver, log=log)
