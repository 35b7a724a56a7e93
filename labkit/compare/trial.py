"""The child process of the benchmarks that time one thing about a chapter's LeNet.

    python -m labkit.compare.trial SPEC.json

``mode`` in the spec says which:

* ``first``: time to first result: the chapter's cells loaded (imports), the probe batch's
  logits, then one training step of its ``make_train_step`` (the step that compiles, for
  the toolkits that compile). ``labkit.compare.caches`` runs it with compile caches cold
  and warm.
* ``accuracy``: time to a test accuracy (DAWNBench-style): the chapter's ``make_train_step``
  with the Recipe on the shared batch order (the chapters' own, epoch after epoch, each
  epoch's partial batch left out), the whole test set evaluated every ``every``
  steps, stopping at ``target`` or when the training clock passes ``budget_s``.
  ``labkit.compare.targets`` is the parent.

Like the comparison's worker, it runs the chapter's own ``lenet``-tagged cells, through
``labkit.child`` (progress lines out, one JSON result written).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from labkit import child, lenet, toolkits


def _evaluate(predict, model, x, labels, batch: int = 256) -> float:
    correct = sum(int((np.asarray(predict(model, x[i:i + batch])).argmax(1) == labels[i:i + batch]).sum())
                  for i in range(0, len(x), batch))
    return correct / len(x)


def batches(n_train: int, recipe=lenet.FULL):
    """The batches ``to_accuracy`` trains on: the comparison worker's shared order
    (``worker.shared_batches``, the Recipe's seed): epoch after epoch, the full batches of the
    chapters' ``data.batches(..., seed=recipe.seed, epoch=e)``, without end."""
    from labkit.compare.worker import shared_batches

    return shared_batches(n_train, recipe.batch_size, recipe.seed)


def first(ns: dict, spec: dict, t_loaded: float) -> dict:
    x, y = lenet.probe_batch()
    model = ns["load_canonical"](ns["build_lenet"](), lenet.initial_weights())
    ns["predict_logits"](model, x)
    t_logits = time.time()
    step = ns["make_train_step"](model, lenet.FULL)
    loss = step(x, y.astype(np.int64), lenet.FULL.lr_at(0))
    t_step = time.time()
    return {"import_s": t_loaded - spec["spawned"], "first_logits_s": t_logits - spec["spawned"],
            "first_step_s": t_step - spec["spawned"], "step_only_s": t_step - t_logits, "loss": float(loss)}


def to_accuracy(ns: dict, spec: dict, t_loaded: float) -> dict:
    from labkit import data

    recipe, name = lenet.FULL, spec["name"]
    ds = data.load(spec.get("dataset", "fashion-mnist"), download=False, progress=False)
    train_x = data.layout(data.to_float32(ds.train_images), "NCHW")
    test_x = data.layout(data.to_float32(ds.test_images), "NCHW")
    train_y, test_y = ds.train_labels.astype(np.int64), ds.test_labels
    model = ns["load_canonical"](ns["build_lenet"](), lenet.initial_weights())
    step = ns["make_train_step"](model, recipe)
    curve, b = [], recipe.batch_size
    train_s, t_wall, i, acc = 0.0, time.perf_counter(), 0, 0.0
    for idx in batches(len(train_x), recipe):      # the chapters' order, full batches, epochs without end
        t = time.perf_counter()
        step(train_x[idx], train_y[idx], recipe.lr_at(i))
        train_s += time.perf_counter() - t
        i += 1
        if i % spec["every"] == 0:
            acc = _evaluate(ns["predict_logits"], model, test_x, test_y)
            curve.append([i, train_s, time.perf_counter() - t_wall, acc])
            child.say(f"{name}: step {i} ({i * b / len(train_x):.2f} epochs), {train_s:.1f} s training, "
                      f"test accuracy {acc:.4f}")
            if acc >= spec["target"] or train_s > spec["budget_s"]:
                break
    reached = acc >= spec["target"]
    return {"reached": reached, "target": spec["target"], "budget_s": spec["budget_s"], "every": spec["every"],
            "steps": i, "epochs": i * recipe.batch_size / len(train_x), "train_s": train_s,
            "wall_s": curve[-1][2], "accuracy": acc, "curve": curve, "dataset": ds.name,
            "images_per_s": i * recipe.batch_size / train_s, "first_result_s": t_loaded - spec["spawned"]}


def main(spec_path: str) -> int:
    from labkit import chapters
    from labkit.compare.worker import contract

    spec = json.loads(Path(spec_path).read_text())
    entry = toolkits.ENTRIES[spec["name"]]
    child.say(f"{spec['name']}: loading the chapter's lenet cells ({spec['mode']})")
    ns = contract(entry, chapters.notebook_path(entry.notebook))    # the row's options bound, as the worker does
    t_loaded = time.time()
    result = {"first": first, "accuracy": to_accuracy}[spec["mode"]](ns, spec, t_loaded)
    mods = {m: getattr(sys.modules[m], "__version__", "?") for m in entry.shown if m in sys.modules}
    child.write_result(spec["out"], {"name": spec["name"], "mode": spec["mode"], "versions": mods, **result})
    return 0


def run(name: str, mode: str, *, threads: int, env: dict | None = None, timeout: float = 1800,
        show=None, notebooks=None, **spec) -> dict:
    """In the parent: one trial of ``mode`` for the comparison entry ``name`` in a fresh child;
    its result dict, or ``{"name", "error"}`` when the child failed."""
    import tempfile

    from labkit import chapters

    folder = chapters.notebooks_dir(notebooks)
    entry = toolkits.ENTRIES[name]
    with tempfile.TemporaryDirectory(prefix="labkit-trial-") as tmp:
        out, spec_file = Path(tmp) / "result.json", Path(tmp) / "spec.json"
        spec_file.write_text(json.dumps({**spec, "name": name, "mode": mode, "out": str(out),
                                         "spawned": time.time()}))
        envs = child.toolkit_env({**entry.env, **(env or {}), "LABKIT_NOTEBOOKS": str(folder)}, threads)
        got = child.run(name, ["-m", "labkit.compare.trial", str(spec_file)], out, env=envs, timeout=timeout,
                        show=show, cwd=folder.parent)
    return got.result if got.ok else {"name": name, "error": got.error()}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
