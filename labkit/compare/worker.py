"""The comparison's child process: one toolkit's LeNet, measured under the protocol.

    python -m labkit.compare.worker SPEC.json

The parent (``labkit.compare.harness``) writes the spec, starts this module through
``labkit.child`` with the toolkit's environment, relays its progress lines and reads the
JSON result and the ``.npz`` of probe logits and post-step parameters it leaves beside it.
"""
from __future__ import annotations

import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from labkit import child, lenet, probes, toolkits
from labkit.compare.protocol import protocol


def _versions() -> dict:
    """The version of every module the registry knows that this child has imported."""
    out = {}
    for mod in toolkits.modules():
        if mod in sys.modules:
            out[mod.split(".")[-1]] = str(getattr(sys.modules[mod], "__version__", "") or "?")
    return out


def shared_batches(n_train: int, batch_size: int, seed: int):
    """The shared batch order, epoch after epoch (0, 1, 2, ...) without end: the chapters' own.
    Epoch ``e`` is exactly the full batches of ``labkit.data.batches(..., seed=seed, epoch=e,
    drop_last=True)`` (the permutation ``labkit.data.epoch_order`` draws), as indices of the
    training images. Each epoch's last partial batch (``n_train % batch_size`` images), which a
    chapter does train on, is left out here: a compiled training step must not see a second
    batch shape. Every child that trains on "the shared order" draws it here."""
    from labkit.data import epoch_order

    if n_train < 1 or batch_size < 1:
        raise ValueError(f"n_train and batch_size must be at least 1; got {n_train!r} and {batch_size!r}")
    if batch_size > n_train:
        raise ValueError(f"batch_size {batch_size} is larger than the {n_train} training images: with each "
                         "epoch's partial batch left out, no batch would come; use a smaller batch")
    full = n_train - n_train % batch_size
    for epoch in itertools.count():
        yield from epoch_order(n_train, seed=seed, epoch=epoch)[:full].reshape(-1, batch_size)


def batch_order(n_train: int, proto) -> np.ndarray:
    """The training images' indices, batch after batch, for the protocol's budget: the first
    ``shared_batches`` (the chapters' order, full batches only), the same in every child."""
    recipe = proto.recipe
    steps_total = proto.train_steps or n_train // recipe.batch_size
    return np.concatenate(list(itertools.islice(shared_batches(n_train, recipe.batch_size, recipe.seed),
                                                steps_total)))


def batches_digest(order: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of the indices and labels fed, in order: equal digests, the same batches."""
    import hashlib

    h = hashlib.sha256(np.ascontiguousarray(order, np.int64).tobytes())
    h.update(np.ascontiguousarray(labels[order], np.int64).tobytes())
    return h.hexdigest()


def contract(entry, notebook) -> dict:
    """The row's six functions: the chapter's ``lenet`` cells (through the row's adapter module
    when it has one), with the row's options bound (``Entry.options``)."""
    import functools
    import importlib

    from labkit import chapters

    ns = chapters.load(notebook)
    if entry.adapter:
        ns = {**ns, **importlib.import_module(entry.adapter).contract(ns)}
    for fn, kwargs in entry.options.items():
        if fn not in chapters.CONTRACT:
            raise ValueError(f"{entry.name}: options for {fn!r}, which is not a contract function "
                             f"({', '.join(chapters.CONTRACT)})")
        ns[fn] = functools.partial(ns[fn], **kwargs)
    return ns


def build_on(build, kind: str):
    """``build()`` on the device ``kind`` ('cpu' or 'gpu', a ``placement.Choice``'s) where the
    chapter's ``build_lenet`` takes a ``device`` parameter; else ``build()`` as it is (the
    toolkit then computes where it does by itself: Theano where it was started, Keras on its
    backend's default device)."""
    if kind not in ("cpu", "gpu"):
        raise ValueError(f"device kind must be 'cpu' or 'gpu', got {kind!r}")
    return build(device=kind) if placeable(build) else build()


def placeable(build) -> bool:
    """Whether the chapter's ``build_lenet`` takes a ``device`` (``build_on`` passes it)."""
    import inspect

    return "device" in inspect.signature(build).parameters


def device_label(choice, placed: bool, row, gpu_driver: bool | None = None) -> str:
    """Where a row's record says it trained (``results`` puts a row whose label starts with 'gpu'
    in its GPU columns). ``placed``: the chapter's ``build_lenet`` took the device, so the label is
    the Choice's: 'cpu' or 'gpu: NAME'. Otherwise the toolkit put the work where it does by itself
    (Keras on its backend's default, Theano where it was started, the Caffe-style layer on the
    CPU), which this worker does not check: 'cpu' where the toolkit sees no GPU (``row``, its
    probe) or where the machine has no NVIDIA driver (``gpu_driver``: nvidia-smi answers; None asks
    it), else a label that says the placement was the toolkit's own, with what it sees."""
    if placed:
        return f"gpu: {choice.name}" if choice.gpu else "cpu"
    if row.gpu is False:
        return "cpu"
    if row.gpu is None:
        from labkit.machine import nvidia_smi

        if not (nvidia_smi("-L") is not None if gpu_driver is None else gpu_driver):
            return "cpu"
    seen = f"it sees {', '.join(row.devices)}" if row.gpu else "it cannot tell whether it sees a GPU"
    return f"the toolkit's own placement ({seen}; the chapter's build_lenet takes no device)"


#: How many of its first training losses each row reports (chapter 40 overlays them).
FIRST_LOSSES = 50


def _train(ns, model, proto, ds, train_x, name):
    """Train with the protocol's budget on the shared batch order; rates per chunk, losses, digest."""
    recipe = proto.recipe
    order = batch_order(len(train_x), proto)
    steps_total = len(order) // recipe.batch_size
    if "read_batches" in ns:        # a row that reads its own batches (real Caffe's Data layer): this order, written
        ns["read_batches"](model, ds.train_images, ds.train_labels, order, recipe.batch_size)
    step = ns["make_train_step"](model, recipe)
    rates, losses = [], []
    for c0 in range(0, steps_total, proto.chunk):
        t = time.perf_counter()
        n = min(proto.chunk, steps_total - c0)
        for i in range(c0, c0 + n):
            idx = order[i * recipe.batch_size:(i + 1) * recipe.batch_size]
            losses.append(step(train_x[idx], ds.train_labels[idx].astype(np.int64), recipe.lr_at(i)))
        rates.append(n * recipe.batch_size / (time.perf_counter() - t))
        child.say(f"{name}: trained {c0 + n}/{steps_total} steps, {rates[-1]:,.0f} img/s, loss {losses[-1]:.3f}")
    return steps_total, rates, losses, batches_digest(order, ds.train_labels)


def main(spec_path: str) -> int:
    """Measure one toolkit as the spec says; write JSON and arrays next to it."""
    import importlib.metadata as md
    import resource

    from labkit import chapters, data, device, placement, timing

    t_worker = time.time()
    spec = json.loads(Path(spec_path).read_text())
    proto = protocol(spec["protocol"] == "quick")
    name, out = spec["name"], Path(spec["out"])
    entry = toolkits.ENTRIES[name]

    child.say(f"{name}: importing and running the chapter's lenet cells")
    t0 = time.time()
    ns = contract(entry, chapters.notebook_path(entry.notebook))   # $LABKIT_NOTEBOOKS, set by the parent
    t_loaded = time.time()
    build, load, export, predict = (ns[k] for k in ("build_lenet", "load_canonical", "export_canonical",
                                                    "predict_logits"))
    x, y = lenet.probe_batch()
    model = load(build(), lenet.initial_weights())
    logits = np.asarray(predict(model, x), np.float64)
    t_first = time.time()
    child.say(f"{name}: first logits {t_first - spec['spawned']:.1f} s after spawn; one SGD step")
    ns["sgd_step"](model, x, y, lenet.PROBE_LR)
    after = {k: np.asarray(v, np.float64) for k, v in export(model).items()}
    np.savez(out / f"{name}.npz", logits=logits, **{f"step/{k}": v for k, v in after.items()})
    del model

    row = device.probe(entry.device, isolate=False)
    choice = placement.select(entry.device, spec.get("device", "auto"), row=row)   # 'gpu' with none: a clear error
    child.say(f"{name}: {choice.message}")
    elsewhere = toolkits.TOOLKITS[entry.device].runs_in == "node"     # the maths runs in a Node child
    threads_seen = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None

    ds, chapter_floor = lenet.dataset(quick=proto.name == "quick")
    floor, floor_from = proto.floor_for(ds.name, chapter_floor)
    train_x = data.layout(data.to_float32(ds.train_images), "NCHW")
    test_x = data.layout(data.to_float32(ds.test_images), "NCHW")
    model = load(build_on(build, choice.kind), lenet.initial_weights())   # the probe above ran on the CPU
    t_train = time.perf_counter()
    steps_total, rates, losses, digest = _train(ns, model, proto, ds, train_x, name)
    train_wall = time.perf_counter() - t_train
    timed = rates[1:] or rates
    big = max(lenet.INFER_BATCHES)
    correct = 0
    for i in range(0, len(test_x), big):
        correct += int((np.asarray(predict(model, test_x[i:i + big])).argmax(1) == ds.test_labels[i:i + big]).sum())
    accuracy = correct / len(test_x)
    child.say(f"{name}: test accuracy {accuracy:.3f}; timing inference")

    infer = {}
    for batch in lenet.INFER_BATCHES:
        xb = np.ascontiguousarray(test_x[:batch])
        tp = timing.throughput(lambda: predict(model, xb), batch, warmup=proto.warmup,
                               repeats=proto.repeats, min_time=proto.min_time, unit="img")
        infer[str(batch)] = {"median": tp.median, "samples": tp.samples}

    versions, peak = _versions(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if elsewhere:            # Node's versions, and the peak of the Node process rather than of this bridge
        from labkit import node

        del model
        node.close_all()
        versions.update(node.versions())
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    gpu_peak = probes.gpu_peak_mib() if choice.gpu else (None, None)
    result = {
        "name": name, "versions": versions, "pid": os.getpid(),
        "startup_s": t0 - spec["spawned"], "import_s": t_loaded - t0, "first_s": t_first - t_loaded,
        "time_to_first_result_s": t_first - spec["spawned"], "worker_started_s": t_worker - spec["spawned"],
        "train_images_per_s": float(np.median(timed)), "train_samples": timed,
        "train_steps": steps_total, "train_wall_s": train_wall, "final_loss": float(np.mean(losses[-proto.chunk:])),
        "first_losses": [float(v) for v in losses[:FIRST_LOSSES]],
        "test_accuracy": accuracy, "accuracy_floor": floor, "floor_from": floor_from,
        "chapter_floor": chapter_floor, "batches_sha256": digest, "dataset": ds.name, "n_train": len(train_x),
        "n_test": len(test_x), "infer": infer,
        "peak_memory_mib": peak,
        "gpu": row.gpu, "gpu_devices": row.devices, "device_notes": row.notes,
        "device": device_label(choice, placeable(build), row), "device_message": choice.message,
        "gpu_peak_memory_mib": gpu_peak[0], "gpu_peak_memory_from": gpu_peak[1],
        "threads_seen": threads_seen, "numpy": md.version("numpy"),
    }
    child.write_result(out / f"{name}.json", result)
    child.say(f"{name}: done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
