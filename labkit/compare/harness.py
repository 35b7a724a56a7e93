"""The comparison's parent: one child process per toolkit, one after another, then records.

Each child (``labkit.compare.worker``) runs through ``labkit.child``, the same mechanism
chapter 11 uses for its other Keras backends, with the same thread count in every
thread variable. The parent adds what needs no import (lines of code, installed size, model
library) and writes everything as run records (``labkit.records``).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from labkit import chapters, child, lenet
from labkit.compare import once
from labkit.compare.measures import entry_size, installed, lines_of_code, model_library
from labkit.compare.protocol import HARNESS, Protocol, protocol
from labkit.placement import DEVICES
from labkit.machine import usable_cpus
from labkit.records import record, records_path
from labkit.toolkits import ENTRIES, TOOLKITS, Entry, resolve_entry

#: How to install a row that a plain ``make setup`` leaves out.
INSTALL_HINTS = {"caffe": "make caffe builds it; CI must have it"}


def check_threads(threads: int | None) -> int:
    """``threads`` as given, or every usable CPU; a clear ValueError for zero or less."""
    if threads is None:
        return usable_cpus()
    if int(threads) != threads or threads < 1:
        raise ValueError(f"threads must be a positive whole number, got {threads!r}")
    return int(threads)


def _run_child(entry: Entry, proto: Protocol, threads: int, out: Path, notebooks: Path, show,
               device: str = "auto") -> dict:
    spec = out / f"{entry.name}.spec.json"
    spawned = time.time()
    spec.write_text(json.dumps({"name": entry.name, "protocol": proto.name, "out": str(out),
                                "spawned": spawned, "device": device}))
    env = child.toolkit_env({**entry.env, "LABKIT_NOTEBOOKS": str(notebooks), "LABKIT_DEVICE": device}, threads)
    outcome = child.run(entry.name, ["-m", "labkit.compare.worker", str(spec)], out / f"{entry.name}.json",
                        env=env, timeout=proto.timeout, show=show, cwd=notebooks.parent)
    return outcome.result if outcome.ok else {"name": entry.name, "error": outcome.error()}


def pairwise(arrays: dict[str, dict]) -> dict[tuple[str, str], dict]:
    """Largest |difference| of probe logits and of parameters after one SGD step, for every
    pair of toolkits (and each against the NumPy reference)."""
    ref = lenet.reference()
    arrays = {"numpy-reference": {"logits": ref["logits"], **{f"step/{k}": v for k, v in ref["step"].items()}},
              **arrays}
    names = list(arrays)
    out = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            A, B = arrays[a], arrays[b]
            out[a, b] = {"logits": lenet.max_abs_diff(A["logits"], B["logits"]),
                         "step": max(lenet.max_abs_diff(A[f"step/{k}"], B[f"step/{k}"]) for k in lenet.PARAM_SHAPES)}
    return out


def run(toolkits=None, *, quick: bool | None = None, threads: int | None = None, records=None,
        show=None, notebooks=None, device: str = "auto") -> dict:
    """Run the protocol for ``toolkits`` (default: every entry of ENTRIES), one child at a time,
    and write run records (to ``records``: a file or folder; default ``labkit.paths.runs_dir()``).
    ``notebooks``: the chapters' folder (default: ``chapters.notebooks_dir()``).

    Returns ``{"run": id, "results": {...}, "errors": {...}, "missing": [...], "pairs": {...}}``:
    ``missing`` lists toolkits not installed here, ``errors`` those whose child failed."""
    from labkit import quick_mode

    quick = quick_mode() if quick is None else bool(quick)
    proto = protocol(quick)
    if device not in DEVICES:           # each child chooses with labkit.device.select (LABKIT_DEVICE)
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    shared = once.applies(toolkits, quick, threads, notebooks, device, list(ENTRIES))
    if shared:                          # the test session's one quick run: every row
        names = list(ENTRIES)
    elif toolkits:
        names = list(dict.fromkeys(resolve_entry(t) for t in toolkits))
    else:                               # quick runs leave out the rows marked quick=False (checked elsewhere)
        names = [n for n, e in ENTRIES.items() if e.quick or not quick]
    threads = check_threads(threads)
    folder = chapters.notebooks_dir(notebooks)
    for n in names:
        chapters.notebook_path(ENTRIES[n].notebook, folder)
    _writable(records)
    show = show or (lambda msg: print(msg, flush=True))
    if shared:
        return once.shared_run(lambda path: _run_rows(names, proto, quick, threads, path, show, folder, device),
                               records, show)
    return _run_rows(names, proto, quick, threads, records, show, folder, device)


def _run_rows(names, proto, quick, threads, records, show, folder, device) -> dict:
    run_id = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    missing = [n for n in names if not installed(ENTRIES[n])]
    todo = [n for n in names if n not in missing]
    show(f"compare run {run_id}: {len(todo)} toolkit(s), {threads} thread(s) each, one after another. "
         + proto.describe())
    for n in missing:
        why = TOOLKITS[ENTRIES[n].device].optional
        show(f"  {n}: not installed here, skipped" + (f" ({why}; {INSTALL_HINTS[n]})" if n in INSTALL_HINTS
                                                      else f" ({why})" if why else ""))
    results, errors, arrays = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="labkit-compare-") as tmp:
        for k, n in enumerate(todo, 1):
            t = time.perf_counter()
            show(f"[{k}/{len(todo)}] {n} ...")
            res = _run_child(ENTRIES[n], proto, threads, Path(tmp), folder, lambda m: show("    " + m), device)
            if "error" in res:
                errors[n] = res["error"]
                show(f"[{k}/{len(todo)}] {n} FAILED: {res['error']}")
                continue
            with np.load(Path(tmp) / f"{n}.npz") as f:
                arrays[n] = {k2: f[k2] for k2 in f.files}
            results[n] = res
            show(f"[{k}/{len(todo)}] {n}: {res['train_images_per_s']:,.0f} img/s training, "
                 f"{res['infer'][str(max(lenet.INFER_BATCHES))]['median']:,.0f} img/s inference (batch "
                 f"{max(lenet.INFER_BATCHES)}), accuracy {res['test_accuracy']:.3f}, {time.perf_counter() - t:.0f} s")
    for n, why in different_batches(results).items():
        errors[n] = why
        del results[n], arrays[n]
        show(f"{n} FAILED: {why}")
    pairs = pairwise(arrays)
    common = dict(run=run_id, harness=HARNESS, protocol=proto.name, protocol_text=proto.describe(),
                  device="cpu", path=records, quick=quick, threads=threads, versions={})
    for n, res in results.items():
        _record_one(ENTRIES[n], res, proto, folder, {**common, "device": res.get("device", "cpu"),
                                                     "versions": {**res["versions"], "numpy": res["numpy"]}})
    for (a, b), d in pairs.items():
        for kind, value in d.items():
            record(a, f"agreement_{kind}_max_diff", value, "abs", other=b, **common)
    for n, err in errors.items():
        record(n, "failed", 1, "flag", error=err, **common)
    for n in missing:
        record(n, "not_installed", 1, "flag", **common)
    return {"run": run_id, "results": results, "errors": errors, "missing": missing, "pairs": pairs}


def different_batches(results: dict[str, dict]) -> dict[str, str]:
    """The rows whose training saw other batches, or another order, than the first row's
    (``batches_sha256``: a digest of the indices and labels fed), each with why."""
    first = next(iter(results), None)
    if first is None:
        return {}
    want = results[first]["batches_sha256"]
    return {n: f"trained on other batches than {first} (digest {r['batches_sha256'][:12]} against "
               f"{want[:12]}): every row must see the same batches in the same order"
            for n, r in results.items() if r["batches_sha256"] != want}


def _writable(path) -> None:
    """Fail before any work when the records cannot be written there (a clear OSError).
    Opening the file for appending is the test: it creates the file if need be, and no more."""
    target = records_path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab"):
            pass
    except OSError as err:
        raise OSError(f"cannot write run records to {target} ({err.strerror or err}). Pass --records "
                      "with a writable file or folder, or set LABKIT_RUNS.") from None


def _record_one(entry: Entry, res: dict, proto: Protocol, notebooks: Path, common: dict) -> None:
    size = entry_size(entry)
    loc = lines_of_code(chapters.tagged_source(notebooks / entry.notebook))
    rec = lambda metric, value, unit, **extra: record(entry.name, metric, value, unit, **common, **extra)  # noqa: E731
    rec("train_images_per_s", res["train_images_per_s"], "img/s", batch_size=proto.recipe.batch_size,
        samples=res["train_samples"], steps=res["train_steps"], configuration=entry.tuned or "as a newcomer writes it",
        options=entry.options, batches_sha256=res["batches_sha256"])
    for batch in lenet.INFER_BATCHES:
        got = res["infer"][str(batch)]
        rec("infer_images_per_s", got["median"], "img/s", batch_size=batch, samples=got["samples"])
    rec("time_to_first_result_s", res["time_to_first_result_s"], "s", startup_s=res["startup_s"],
        import_s=res["import_s"], build_first_s=res["first_s"])
    rec("peak_memory_mib", res["peak_memory_mib"], "MiB")
    if res.get("gpu_peak_memory_mib") is not None:      # only a row that ran on a GPU has one
        rec("gpu_peak_memory_mib", res["gpu_peak_memory_mib"], "MiB", source=res.get("gpu_peak_memory_from"))
    rec("first_losses", len(res["first_losses"]), "steps", losses=res["first_losses"])
    rec("test_accuracy", res["test_accuracy"], "fraction", steps=res["train_steps"], dataset=res["dataset"],
        n_train=res["n_train"], n_test=res["n_test"], floor=res["accuracy_floor"], floor_from=res["floor_from"],
        chapter_floor=res["chapter_floor"], final_loss=res["final_loss"], batches_sha256=res["batches_sha256"])
    rec("train_wall_s", res["train_wall_s"], "s", steps=res["train_steps"])
    rec("lines_of_code", loc, "lines", notebook=entry.notebook)
    rec("installed_mb", size["bytes"] / 1e6, "MB", python_mb=size["python_bytes"] / 1e6,
        native_mb=size["native_bytes"] / 1e6, distributions=size["distributions"],
        **({"language": size["language"], "script_mb": size["script_bytes"] / 1e6} if "language" in size else {}))
    rec("gpu_support", 1 if res["gpu"] else 0, "flag", gpu_devices=res["gpu_devices"],
        device_notes=res["device_notes"], gpu_answer=res["gpu"], threads_seen=res["threads_seen"],
        model_library=model_library(entry))
