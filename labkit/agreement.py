"""Agreement beyond the probe: loss curves, a second weight set, and how max-pooling routes ties.

``labkit.chapters`` checks every chapter's LeNet on one fixed probe (20 MNIST digits, the
shared weights, zero biases). This module adds what the same child run also measures:

- ``loss_curve``: ``LOSS_STEPS`` steps of the chapter's ``make_train_step`` from the shared
  weights on the shared batches (``loss_batches``) at a constant rate; ``reference_losses``
  is the same run in float64 (Caffe's rule, ``lenet.loss_and_grads``). A constant rate,
  because PyTorch-style momentum keeps the rate out of its velocity and Caffe's puts it in:
  under a changing rate the two rules part by more than float32 rounding does, and the curves
  would measure that instead of the arithmetic.
- ``beyond_probe``: probe logits and one plain SGD step on weights and images the project
  never uses otherwise (``other_weights``: another seed, non-zero biases; ``real_batch``:
  Fashion-MNIST test images).
- ``pooling.pool_routing``: which element of a max-pooling window with an exact tie receives
  the gradient, read off one SGD step of the chapter's own network.

``run_chapter(row)`` runs them with ``labkit.chapters.agreement`` in a child of their own
(``python -m labkit.agreement ROW NOTEBOOK``), on the row as the comparison runs it: the
chapter's cells with the row's ``options`` bound and through its ``adapter``
(``labkit.compare.worker.contract``), so a tuned row (torch.compile, a hybridized MXNet
block) is checked as configured, not as the chapter's defaults. ``loss_gap`` compares a
curve with the float64 one.
"""
from __future__ import annotations

import functools
import json
import time

import numpy as np

from labkit import lenet, pooling

#: The loss-curve run: steps, batch size and the constant learning rate.
LOSS_STEPS = 50
LOSS_BATCH = 64
LOSS_LR = 0.01
#: How far any of those losses may be from the float64 run's. Measured on 2026-12-02 (AMD
#: EPYC, 2 shared cores, Python 3.11.7, Debian 12, no GPU), every row over 50 steps: ten float32
#: rows stay within 3.3e-7 of float64 at every step, with no growth from step 1 to 50 (a float32
#: loss near 2.4 is only resolved to 2.4e-7); MXNet starts 1.0e-6 off (its softmax
#: cross-entropy is biased by about -1.1e-6 per image) and drifts to 2.7e-5 by step 50;
#: ConvNetJS computes in float64. The bound is about four times MXNet's drift. A run without
#: weight decay, the smallest real mistake tried, is 2.6e-4 off within ten steps.
LOSS_ATOL = 1e-4
#: The comparison's first losses (``compare.worker.FIRST_LOSSES``: every row from the shared
#: weights on the shared batches, under the Recipe's changing ``inv`` rate): how far any row's
#: may be from another's. Measured on 2026-12-02 over a quick run's 32 steps (AMD EPYC, 2
#: shared cores): within the first EARLY_STEPS every row stays within 3e-6 of every other
#: (float32 rounding, MXNet's bias included), while an optimizer that keeps the rate out of
#: its velocity (PyTorch's SGD before its rescaling) was already 4.9e-5 off by step 10. Later,
#: float32 rows part in discrete jumps, where a near tie (max-pooling) falls the other way in
#: one toolkit's rounding than in another's: one group of rows jumped to 8e-5 at step 23, another
#: reached 3.3e-4 by step 32, each group agreeing within itself to 1e-7. So the early steps get
#: a tight bound, and the whole curve a loose one, three times the largest jump measured.
EARLY_STEPS = 10
EARLY_ATOL = 1e-5
CURVE_ATOL = 1e-3


def curve_gaps(losses, other) -> tuple[float, float]:
    """The largest |difference| of two first-loss curves over the first ``EARLY_STEPS`` steps
    and over the steps both have."""
    n = min(len(losses), len(other))
    gap = np.abs(np.asarray(losses[:n], np.float64) - np.asarray(other[:n], np.float64))
    return float(gap[:EARLY_STEPS].max()), float(gap.max())


#: The second weight set: Xavier weights from this seed, biases uniform on +-BIAS_SCALE.
OTHER_SEED = 7
BIAS_SCALE = 0.1
#: How many Fashion-MNIST test images the second check uses.
REAL_BATCH = 32


def other_weights(seed: int = OTHER_SEED, bias_scale: float = BIAS_SCALE) -> dict[str, np.ndarray]:
    """A second LeNet weight set, float32, canonical layout: Xavier weights from ``seed`` (not
    the shared ``lenet.SEED``) and biases uniform on ``[-bias_scale, bias_scale]``, not zero."""
    w = lenet.initial_weights(seed)
    rng = np.random.default_rng([seed, 1])
    for name in w:
        if name.endswith(".bias"):
            w[name] = rng.uniform(-bias_scale, bias_scale, size=w[name].shape).astype(np.float32)
    return w


def real_batch(n: int = REAL_BATCH) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``n`` Fashion-MNIST test images (float32 NCHW in [0, 1]), their labels, and
    where they came from. Where Fashion-MNIST cannot be loaded, the MNIST test images of the
    quick dataset stand in, and the third value says so."""
    from labkit import data

    try:
        ds = data.load("fashion-mnist", progress=False)
        what = "Fashion-MNIST test images"
    except data.DataError as err:
        ds, _ = lenet.dataset(quick=True)
        what = f"MNIST test images (Fashion-MNIST is not available here: {str(err).splitlines()[0]})"
    x = data.to_float32(ds.test_images[:n])[:, None, :, :]
    return np.ascontiguousarray(x, np.float32), ds.test_labels[:n].astype(np.int64), what


def loss_batches(steps: int = LOSS_STEPS, batch_size: int = LOSS_BATCH):
    """The batches of the loss-curve run: the quick dataset's training images
    (``lenet.dataset(quick=True)``), shuffled per epoch with the shared seed, ``steps`` full batches."""
    from labkit import data

    ds, _ = lenet.dataset(quick=True)
    x_all = data.to_float32(ds.train_images)[:, None, :, :]
    out, epoch = [], 0
    while len(out) < steps:
        for x, y in data.batches(x_all, ds.train_labels, batch_size, seed=lenet.SEED, epoch=epoch,
                                 drop_last=True):
            out.append((np.ascontiguousarray(x, np.float32), y.astype(np.int64)))
            if len(out) == steps:
                break
        epoch += 1
    return out


def loss_curve(namespace: dict, steps: int = LOSS_STEPS) -> list[float]:
    """The first ``steps`` losses of the chapter's ``make_train_step`` from the shared weights,
    on ``loss_batches()``, at the constant rate ``LOSS_LR`` (each loss before its update)."""
    model = namespace["build_lenet"]()
    namespace["load_canonical"](model, lenet.initial_weights())
    step = namespace["make_train_step"](model, lenet.FULL)
    return [float(step(x, y, LOSS_LR)) for x, y in loss_batches(steps)]


@functools.lru_cache(maxsize=4)
def reference_losses(steps: int = LOSS_STEPS) -> tuple[float, ...]:
    """``loss_curve`` in float64 with NumPy: Caffe's rule (momentum and weight decay of
    ``lenet.FULL``) at ``LOSS_LR``. Cached. On 2 shared cores (2026-12-02) a step took 0.4 s
    under light load, and the 50 steps 153 s under heavy load."""
    recipe, p = lenet.FULL, {k: v.astype(np.float64) for k, v in lenet.initial_weights().items()}
    history = {k: np.zeros_like(v) for k, v in p.items()}
    losses = []
    for x, y in loss_batches(steps):
        loss, g = lenet.loss_and_grads(p, x, y)
        losses.append(loss)
        for k in p:
            history[k] = recipe.momentum * history[k] + LOSS_LR * (g[k] + recipe.weight_decay * p[k])
            p[k] = p[k] - history[k]
    return tuple(losses)


def loss_gap(losses, reference=None) -> np.ndarray:
    """|loss - float64 loss| at every step (``reference``: default ``reference_losses`` of the
    same length); a clear error for anything but a flat, non-empty list of losses."""
    got = np.asarray(losses, np.float64)
    if got.ndim != 1 or not 1 <= len(got) <= LOSS_STEPS * 20:
        raise ValueError(f"a loss curve is a flat list of 1 to {LOSS_STEPS * 20} losses; got shape {got.shape}")
    want = np.asarray(reference if reference is not None else reference_losses(len(got)), np.float64)
    if want.shape != got.shape:
        raise ValueError(f"{len(got)} losses against a reference of {len(want)}: give one loss per step")
    return np.abs(got - want)


def beyond_probe(namespace: dict, weights: dict | None = None, batch=None, by_ties: bool = True) -> dict:
    """Logits and one plain SGD step (lr ``lenet.PROBE_LR``) on ``weights`` (default
    ``other_weights()``) and ``batch`` (default ``real_batch()``), against the float64 reference:
    the largest difference and each parameter's update error (``chapters.update_error``), and
    (``by_ties``) the largest difference from the step under each of ``pooling.TIES``."""
    from labkit.chapters import update_error

    w0 = other_weights() if weights is None else weights
    x, y, what = real_batch() if batch is None else batch
    model = namespace["build_lenet"]()
    namespace["load_canonical"](model, w0)
    logits = namespace["predict_logits"](model, x)
    namespace["sgd_step"](model, x, y, lenet.PROBE_LR)
    after = namespace["export_canonical"](model)
    want = lenet.sgd_step(w0, x, y, lenet.PROBE_LR)
    routed = {}
    for ties in pooling.TIES if by_ties else ():    # the step with each way of routing a tied window's gradient
        _, g = lenet.loss_and_grads(w0, x, y, ties=ties)
        routed[ties] = max(lenet.max_abs_diff(after[k], w0[k] - lenet.PROBE_LR * g[k]) for k in g)
    return {"images": what,
            "logits_max_diff": lenet.max_abs_diff(logits, lenet.forward(w0, x)),
            "step_max_diff": {k: lenet.max_abs_diff(after[k], want[k]) for k in lenet.PARAM_SHAPES},
            "step_rel_diff": {k: update_error(w0[k], after[k], want[k]) for k in lenet.PARAM_SHAPES},
            "step_max_diff_by_ties": routed}


def measure(namespace: dict, steps: int | None = None) -> dict:
    """What the agreement child adds to ``chapters.agreement``: the loss curve (``steps``, default
    ``LOSS_STEPS``), the second weight set on real images, the pooling-tie routing, and the
    seconds each took."""
    steps = LOSS_STEPS if steps is None else steps
    if not 1 <= steps <= LOSS_STEPS * 20:
        raise ValueError(f"steps={steps}: the loss curve takes 1 to {LOSS_STEPS * 20} steps")
    t0 = time.perf_counter()
    losses = loss_curve(namespace, steps)
    t1 = time.perf_counter()
    other = beyond_probe(namespace)
    t2 = time.perf_counter()
    routing = pooling.pool_routing(namespace)
    t3 = time.perf_counter()
    return {"losses": losses, "other_weights": other, "pool_routing": routing,
            "extra_seconds": {"losses": round(t1 - t0, 2), "other_weights": round(t2 - t1, 2),
                              "pool_routing": round(t3 - t2, 2)}}


#: The metric name of the run records ``write_record`` writes (one per comparison row).
RECORD_METRIC = "loss_curve_gap"   # not "agreement_...": the comparison reads those as its matrix


def run_chapter(name: str, steps: int | None = None, timeout: float = 580) -> dict:
    """``python -m labkit.agreement`` for comparison row ``name`` ('pytorch', 'pytorch-tuned',
    'keras-jax', ...) in a fresh process with the row's environment, its options and adapter
    applied; its JSON result. The loss curve takes ``steps``, else the row's ``loss_steps``,
    else ``LOSS_STEPS``."""
    import os
    import subprocess
    import sys

    from labkit import chapters, toolkits

    if name not in toolkits.ENTRIES:
        raise KeyError(f"no comparison row {name!r}; the rows are {', '.join(toolkits.ENTRIES)}")
    steps = steps or getattr(toolkits.ENTRIES[name], "loss_steps", 0) or LOSS_STEPS
    cmd = [sys.executable, "-m", "labkit.agreement", name, str(chapters.notebook_for(name)), "--steps", str(steps)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **toolkits.ENTRIES[name].env})
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: the agreement run exited with code {proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def failures(result: dict, steps: int = LOSS_STEPS) -> list[str]:
    """What a ``run_chapter`` result fails, as sentences (empty: it agrees): probe logits within
    ``lenet.LOGITS_ATOL``; one plain SGD step and the ``make_train_step`` steps within
    ``lenet.STEP_ATOL`` and ``lenet.STEP_RTOL``; ``steps`` losses within ``LOSS_ATOL`` of float64;
    the same on the second weight set; a tie rule among ``pooling.RULES``."""
    from labkit import chapters

    out = []
    if not result["logits_max_diff"] <= lenet.LOGITS_ATOL:
        out.append(f"probe logits differ by {result['logits_max_diff']:.3g} (> {lenet.LOGITS_ATOL:g})")
    for key, what in (("step_max_diff", "after one SGD step"),
                      ("train_step_max_diff", f"after {chapters.TRAIN_CHECK_STEPS} steps of make_train_step")):
        bad = {k: v for k, v in result[key].items() if not v <= lenet.STEP_ATOL}
        out += [f"{what} (Caffe's rule, lenet.caffe_sgd): {bad}"] if bad else []
    for key in ("step_rel_diff", "train_step_rel_diff"):
        bad = {k: v for k, v in result[key].items() if not v <= lenet.STEP_RTOL}
        out += [f"{key}: the update is more than {lenet.STEP_RTOL:.0%} off the reference's: {bad}"] if bad else []
    gap = loss_gap(result["losses"])
    if len(gap) != steps or not gap.max() <= LOSS_ATOL:
        out.append(f"loss curve vs float64: {len(gap)} of {steps} steps, gap {gap.max():.3g} at step "
                   f"{int(gap.argmax()) + 1} (> {LOSS_ATOL:g}?)")
    other = result["other_weights"]
    bad = {k: v for k, v in other["step_max_diff"].items() if not v <= lenet.STEP_ATOL}
    bad.update({k: v for k, v in other["step_rel_diff"].items() if not v <= lenet.STEP_RTOL})
    if not other["logits_max_diff"] <= lenet.LOGITS_ATOL or bad:
        out.append(f"second weight set on {other['images']}: logits {other['logits_max_diff']:.3g}, step {bad}")
    if pooling.rule_of(result["pool_routing"]) not in pooling.RULES:
        out.append(f"a tied max-pooling window routes its gradient by no known rule: {result['pool_routing']}")
    return out


def write_record(name: str, result: dict, path=None) -> dict:
    """Keep what ``run_chapter`` measured as one run record: the largest loss gap as its value,
    the losses and the float64 ones, the second weight set's numbers and the pooling routing."""
    from labkit import records

    return records.record(name, RECORD_METRIC, float(loss_gap(result["losses"]).max()), "loss", path=path,
                          losses=result["losses"], float64_losses=list(reference_losses(len(result["losses"]))),
                          other_weights=result["other_weights"],
                          pool_routing=result["pool_routing"], extra_seconds=result["extra_seconds"])


def latest_records(path=None) -> dict[str, dict]:
    """The newest ``write_record`` record of each comparison row that has one."""
    from labkit import records

    return {rec["toolkit"]: rec for rec in records.read_records(path, metric=RECORD_METRIC)}


def main(argv=None) -> int:
    """The child of ``run_chapter``: the row's six functions (``worker.contract``: options bound,
    adapter applied), ``chapters.agreement`` and ``measure`` on them, one JSON line out."""
    import argparse

    from labkit import chapters, toolkits
    from labkit.compare.worker import contract

    parser = argparse.ArgumentParser(prog="python -m labkit.agreement")
    parser.add_argument("row", help=f"a comparison row: {', '.join(toolkits.ENTRIES)}")
    parser.add_argument("notebook", help="the row's chapter notebook")
    parser.add_argument("--steps", type=int, default=None, help=f"steps of the loss curve (default {LOSS_STEPS})")
    args = parser.parse_args(argv)
    if args.row not in toolkits.ENTRIES:
        parser.error(f"no comparison row {args.row!r}; the rows are {', '.join(toolkits.ENTRIES)}")
    entry = toolkits.ENTRIES[args.row]
    t0 = time.perf_counter()
    ns = contract(entry, args.notebook)
    result = chapters.agreement(ns)
    result.update(measure(ns, args.steps))
    result.update(row=entry.name, options=entry.options, adapter=entry.adapter,
                  seconds=round(time.perf_counter() - t0, 2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
