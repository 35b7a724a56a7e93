"""Every toolkit's LeNet under one benchmark protocol, each in a process of its own.

    python -m labkit compare            # full protocol (one epoch of training per toolkit)
    python -m labkit compare --quick    # the tests' protocol: the quick subset, a few repeats
    python -m labkit.compare --toolkits pytorch chainer

The code that runs is each chapter's own ``lenet``-tagged cells (``labkit.chapters``), so
the comparison measures the LeNet a reader sees in the chapter. The protocol:

* one child Python process per toolkit (and per Keras backend), started one after another,
  so no toolkit's threads, caches or memory affect another's, and no two run at once;
* the same thread count for every child (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``TF_NUM_INTRAOP_THREADS``; default: the CPUs usable here);
* the same data (``labkit.lenet.dataset``), the same shared initial weights, batch 64 for
  training, batches of 1 and 256 for inference;
* warm-up excluded, the median of repeats (``labkit.timing.throughput``; training is timed
  in chunks of steps over real batches, the first chunk being the warm-up).

Each child measures: time to first result (from the parent's spawn to the first logits:
interpreter start, toolkit import, build, compile), agreement with the NumPy reference and
the arrays for the pairwise matrix, training images/s and test accuracy after a fixed budget
(quick: one pass over the QUICK subset's 2,048 images, 32 steps; full: one epoch of the full training
set), inference images/s at batch 1 and 256, peak resident memory, its GPU support as
``labkit.device`` reports it. The parent adds lines of code and installed size, which need
no import, and writes everything as run records (``labkit.timing.record``). Every table and
chart here is made from records (``load_run``), never typed in.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import tokenize
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labkit import lenet

HARNESS = "labkit.compare"
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")
#: Distributions every toolkit needs anyway, left out of its installed size.
COMMON_DISTS = {"numpy", "setuptools", "pip", "wheel", "packaging", "typing-extensions"}


@dataclass(frozen=True)
class Entry:
    """One row of the comparison: which chapter, which environment, what to count."""

    name: str                       # the record name, as the chapter records it
    notebook: str
    env: dict = field(default_factory=dict)
    device: str = ""                # labkit.device key of what runs the maths
    modules: tuple = ()             # modules that must be importable (checked without importing)
    dists: tuple = ()               # distributions counted for the installed size (and what they require)
    model_library: tuple = ()       # (package, what it offers) a reader would reach for


TOOLKITS: dict[str, Entry] = {e.name: e for e in (
    Entry("pytorch", "10_pytorch.ipynb", {}, "torch", ("torch",), ("torch",),
          ("torchvision", "pretrained vision models (torchvision.models)")),
    Entry("keras-tensorflow", "11_keras.ipynb", {"KERAS_BACKEND": "tensorflow"}, "keras",
          ("keras", "tensorflow"), ("keras", "tensorflow-cpu|tensorflow"),
          ("keras.applications", "pretrained models, part of Keras")),
    Entry("keras-torch", "11_keras.ipynb", {"KERAS_BACKEND": "torch"}, "keras",
          ("keras", "torch"), ("keras", "torch"), ("keras.applications", "pretrained models, part of Keras")),
    Entry("keras-jax", "11_keras.ipynb", {"KERAS_BACKEND": "jax"}, "keras",
          ("keras", "jax"), ("keras", "jax", "jaxlib"), ("keras.applications", "pretrained models, part of Keras")),
    Entry("theano", "12_theano.ipynb", {}, "theano", ("theano",), ("theano-pymc",), ()),
    Entry("lasagne", "13_lasagne.ipynb", {}, "lasagne", ("lasagne", "theano"), ("lasagne", "theano-pymc"),
          (None, "no package: its model zoo, Lasagne/Recipes, is a repository of scripts and pickles")),
    Entry("chainer", "14_chainer.ipynb", {}, "chainer", ("chainer",), ("chainer",),
          ("chainercv", "pretrained vision models (ChainerCV)")),
    Entry("caffe-style", "20_caffe.ipynb", {}, "torch", ("torch", "google.protobuf"), ("torch", "protobuf"),
          ("labkit.caffe", "reads .caffemodel files, so the Caffe Model Zoo's weights")),
)}


@dataclass(frozen=True)
class Protocol:
    """What one run does per toolkit; ``QUICK`` for the tests, ``FULL`` for readers."""

    name: str
    recipe: lenet.Recipe
    train_steps: int | None          # None: one epoch of the training set
    chunk: int                       # training steps per timed sample (the first chunk is warm-up)
    warmup: int                      # inference calls not timed
    repeats: int                     # inference samples; the median is kept
    min_time: float                  # seconds per inference sample, at least
    timeout: float                   # per child process

    def describe(self) -> str:
        steps = "one epoch" if self.train_steps is None else f"{self.train_steps} steps"
        return (f"{self.name}: {steps} of batch {self.recipe.batch_size} (the chapters' recipe: momentum "
                f"{self.recipe.momentum}, weight decay {self.recipe.weight_decay}, inv lr policy), timed in "
                f"chunks of {self.chunk} steps, first chunk not counted; inference: {self.warmup} warm-up "
                f"calls, median of {self.repeats} samples of >= {self.min_time:g} s")


QUICK = Protocol("quick", lenet.QUICK, lenet.QUICK.n_train // lenet.QUICK.batch_size, chunk=8, warmup=1,
                 repeats=3, min_time=0.1, timeout=600)
FULL = Protocol("full", lenet.FULL, None, chunk=50, warmup=5, repeats=7, min_time=1.0, timeout=3600)


# --- what needs no child: size, lines, installed ------------------------------------------------

def installed(entry: Entry) -> bool:
    """Are the entry's modules importable here (looked up, not imported)?"""
    from labkit.device import _installed

    return all(_installed(m) for m in entry.modules) and (NOTEBOOKS / entry.notebook).is_file()


def lines_of_code(source: str) -> int:
    """Lines holding code: blank lines, comments and docstrings do not count."""
    lines: set[int] = set()
    prev = tokenize.NEWLINE
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.ENDMARKER):
            if tok.type != tokenize.NL:
                prev = tok.type
            continue
        # a string that starts a statement is a docstring (or a bare string): not code
        if not (tok.type == tokenize.STRING and prev in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)):
            lines.update(range(tok.start[0], tok.end[0] + 1))
        prev = tok.type
    return len(lines)


def _dist(name: str):
    import importlib.metadata as md

    for alt in name.split("|"):
        try:
            return md.distribution(alt)
        except md.PackageNotFoundError:
            continue
    return None


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_size(dists: tuple) -> dict:
    """Bytes on disk of ``dists`` and everything they require (transitively, as installed here,
    extras left out), NumPy and the packaging tools excepted. Also how much of it is Python
    source and how much native code (.so/.pyd/.dll/.dylib): the review's 'language' criterion
    as it shows on disk."""
    from packaging.requirements import Requirement

    seen: dict[str, object] = {}
    todo = list(dists)
    while todo:
        d = _dist(todo.pop())
        if d is None:
            continue
        key = _norm(d.metadata["Name"])
        if key in seen or key in COMMON_DISTS:
            continue
        seen[key] = d
        for text in d.requires or []:
            try:
                req = Requirement(text)
            except Exception:
                continue
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    total = py = native = 0
    for d in seen.values():
        for f in d.files or []:
            try:
                size = f.locate().stat().st_size
            except OSError:
                continue
            total += size
            if f.suffix == ".py":
                py += size
            elif f.suffix in (".so", ".pyd", ".dll", ".dylib") or ".so." in f.name:
                native += size
    return {"bytes": total, "python_bytes": py, "native_bytes": native,
            "distributions": sorted(seen)}


def _model_library(entry: Entry) -> str:
    if not entry.model_library:
        return "none"
    package, what = entry.model_library
    if package is None:
        return what
    from importlib.util import find_spec

    top = package.split(".")[0]
    try:
        spec = find_spec(top)
    except (ImportError, ValueError):
        spec = None
    found = spec is not None
    if found and "." in package:   # look for the subpackage's folder, without importing the parent
        found = any((Path(p) / package.split(".", 1)[1].replace(".", "/")).exists()
                    for p in (spec.submodule_search_locations or []))
    return f"{package}: {what} ({'installed here' if found else 'not installed here'})"


# --- the machine's peak ----------------------------------------------------------------------

def peak_gflops(cpuinfo: str | None = None, cores: int | None = None) -> dict:
    """An estimate of the CPU's float32 peak, from /proc/cpuinfo (or the text given).

    peak = cores x FMA units per core x SIMD lanes (float32) x 2 FLOP per FMA x clock.
    Lanes: 16 with AVX-512, 8 with AVX2 or AVX, 4 with SSE/NEON. FMA units: 2 assumed on
    AVX-512 parts (server Xeons have two 512-bit FMA units; some desktop parts one) and on
    AVX2 parts with FMA (Haswell and later); AVX without FMA counts one add and one
    multiply unit, the same as one FMA. Clock: the 'cpu MHz' line, else the GHz in the
    model name. Cores: ``cores``, else the CPUs this process may use (a vCPU may be a
    hyper-thread sharing its FMA units with another, which would halve the real figure).
    """
    from labkit.device import _usable_cpus, cpu_flags, cpuinfo_blocks

    blocks = cpuinfo_blocks(cpuinfo)
    fields = blocks[0] if blocks else {}
    flags = cpu_flags(fields)
    if "avx512f" in flags:
        simd, lanes, fma = "AVX-512", 16, 2
    elif "avx2" in flags:
        simd, lanes, fma = "AVX2", 8, 2 if "fma" in flags else 1
    elif "avx" in flags:
        simd, lanes, fma = "AVX", 8, 1
    else:
        simd, lanes, fma = ("NEON" if "asimd" in flags else "SSE"), 4, 1
    ghz, source = None, ""
    try:
        ghz, source = float(fields["cpu MHz"]) / 1000, "'cpu MHz' in /proc/cpuinfo"
    except (KeyError, ValueError):
        m = re.search(r"([\d.]+)\s*GHz", fields.get("model name", ""))
        if m:
            ghz, source = float(m.group(1)), "the model name"
    if cores is None:
        cores = _usable_cpus() if cpuinfo is None else max(1, sum("processor" in b for b in blocks))
    gflops = cores * fma * lanes * 2 * ghz if ghz else None
    return {"gflops": gflops, "cores": cores, "simd": simd, "lanes": lanes, "fma_units": fma,
            "ghz": ghz, "clock_from": source, "cpu": fields.get("model name", "?"),
            "formula": (f"{cores} cores x {fma} FMA units x {lanes} float32 lanes ({simd}) x 2 FLOP "
                        f"x {ghz:.2f} GHz = {gflops:,.0f} GFLOP/s" if gflops else "clock unknown")}


# --- deliberately wrong conversions ---------------------------------------------------------

def _hwc_rows() -> np.ndarray:
    """For fc1 input i in (channel, row, col) order, the index a (row, col, channel) flatten uses."""
    c, h, w = lenet.LAYERS[3].out_shape
    return np.arange(c * h * w).reshape(h, w, c).transpose(2, 0, 1).ravel()


WRONG_CONVERSIONS = {
    "fc1 flatten order (channels-last, rows not permuted)": (
        "A channels-last toolkit (Keras, TensorFlow) flattens pool2's output in (row, column, "
        "channel) order. Copying the canonical fc1 weights without permuting their 800 inputs "
        "connects every weight to the wrong feature: the shapes still fit, nothing complains.",
        lambda p: {**p, "fc1.weight": p["fc1.weight"][:, _hwc_rows()]},
        lambda p: {**p, "fc1.weight": p["fc1.weight"][:, np.argsort(_hwc_rows())]}),
    "conv kernels transposed (h and w swapped)": (
        "Going from (out, in, h, w) to (h, w, in, out) is a transpose(2, 3, 1, 0); writing (3, 2, 1, 0) "
        "swaps each 5x5 kernel's rows and columns. Square kernels hide it from every shape check.",
        lambda p: {**p, **{k: p[k].transpose(0, 1, 3, 2) for k in ("conv1.weight", "conv2.weight")}},
        lambda p: {**p, **{k: p[k].transpose(0, 1, 3, 2) for k in ("conv1.weight", "conv2.weight")}}),
}


def wrong_conversions() -> list[dict]:
    """What the agreement check says about a toolkit that made each mistake in WRONG_CONVERSIONS.

    The toolkit is simulated with the NumPy reference: loading the shared weights with the
    mistake is the same as running the reference on weights laid out wrongly, and exporting
    with the same mistake undoes the layout (not the effect) after the step.
    """
    w = lenet.initial_weights()
    x, y = lenet.probe_batch()
    ref = lenet.reference()
    out = []
    for name, (why, load_wrong, export_wrong) in WRONG_CONVERSIONS.items():
        p = load_wrong(w)
        logits = lenet.forward(p, x)
        after = export_wrong(lenet.sgd_step(p, x, y, lenet.PROBE_LR))
        out.append({"conversion": name, "why": why,
                    "logits_max_diff": lenet.max_abs_diff(logits, ref["logits"]),
                    "step_max_diff": max(lenet.max_abs_diff(after[k], ref["step"][k]) for k in lenet.PARAM_SHAPES),
                    "accuracy_on_probe": float((logits.argmax(1) == ref["logits"].argmax(1)).mean())})
    return out


# --- the child ------------------------------------------------------------------------------

def _say(msg: str) -> None:
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


def _worker(spec_path: str) -> int:
    """Child entry point: measure one toolkit as ``spec`` says, write JSON and arrays."""
    import resource

    t_worker = time.time()
    spec = json.loads(Path(spec_path).read_text())
    proto = QUICK if spec["protocol"] == "quick" else FULL
    name, out = spec["name"], Path(spec["out"])
    from labkit import chapters, data, device, timing

    _say(f"{name}: importing and running the chapter's lenet cells")
    t0 = time.time()
    ns = chapters.load(NOTEBOOKS / TOOLKITS[name].notebook)
    t_loaded = time.time()
    build, load, export = ns["build_lenet"], ns["load_canonical"], ns["export_canonical"]
    predict = ns["predict_logits"]
    x, y = lenet.probe_batch()
    model = load(build(), lenet.initial_weights())
    logits = np.asarray(predict(model, x), np.float64)
    t_first = time.time()
    _say(f"{name}: first logits {t_first - spec['spawned']:.1f} s after spawn; one SGD step")
    ns["sgd_step"](model, x, y, lenet.PROBE_LR)
    after = {k: np.asarray(v, np.float64) for k, v in export(model).items()}
    np.savez(out / f"{name}.npz", logits=logits, **{f"step/{k}": v for k, v in after.items()})
    del model

    row = device.probe(TOOLKITS[name].device, isolate=False)
    threads_seen = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None

    ds, floor = lenet.dataset(quick=proto is QUICK)
    train_x = data.layout(data.to_float32(ds.train_images), "NCHW")
    test_x = data.layout(data.to_float32(ds.test_images), "NCHW")
    recipe = proto.recipe
    steps_total = proto.train_steps or len(train_x) // recipe.batch_size

    model = load(build(), lenet.initial_weights())
    step = ns["make_train_step"](model, recipe)
    rng = np.random.default_rng(recipe.seed)
    order = np.concatenate([rng.permutation(len(train_x))
                            for _ in range(-(-steps_total * recipe.batch_size // len(train_x)))])
    rates, losses = [], []
    t_train = time.perf_counter()
    for c0 in range(0, steps_total, proto.chunk):
        t = time.perf_counter()
        n = min(proto.chunk, steps_total - c0)
        for i in range(c0, c0 + n):
            idx = order[i * recipe.batch_size:(i + 1) * recipe.batch_size]
            losses.append(step(train_x[idx], ds.train_labels[idx].astype(np.int64), recipe.lr_at(i)))
        rates.append(n * recipe.batch_size / (time.perf_counter() - t))
        _say(f"{name}: trained {c0 + n}/{steps_total} steps, {rates[-1]:,.0f} img/s, loss {losses[-1]:.3f}")
    train_wall = time.perf_counter() - t_train
    timed = rates[1:] or rates
    correct = 0
    for i in range(0, len(test_x), 256):
        correct += int((np.asarray(predict(model, test_x[i:i + 256])).argmax(1) == ds.test_labels[i:i + 256]).sum())
    accuracy = correct / len(test_x)
    _say(f"{name}: test accuracy {accuracy:.3f}; timing inference")

    infer = {}
    for batch in (1, 256):
        xb = np.ascontiguousarray(test_x[:batch])
        tp = timing.throughput(lambda: predict(model, xb), batch, warmup=proto.warmup,
                               repeats=proto.repeats, min_time=proto.min_time, unit="img")
        infer[batch] = {"median": tp.median, "samples": tp.samples}

    import importlib.metadata as md

    versions = {}
    for mod in ("torch", "tensorflow", "keras", "jax", "theano", "lasagne", "chainer", "google.protobuf"):
        if mod in sys.modules:
            versions[mod.split(".")[-1]] = str(getattr(sys.modules[mod], "__version__", "") or "?")
    result = {
        "name": name, "versions": versions, "pid": os.getpid(),
        "startup_s": t0 - spec["spawned"], "import_s": t_loaded - t0, "first_s": t_first - t_loaded,
        "time_to_first_result_s": t_first - spec["spawned"], "worker_started_s": t_worker - spec["spawned"],
        "train_images_per_s": float(np.median(timed)), "train_samples": timed,
        "train_steps": steps_total, "train_wall_s": train_wall, "final_loss": float(np.mean(losses[-proto.chunk:])),
        "test_accuracy": accuracy, "accuracy_floor": floor, "dataset": ds.name, "n_train": len(train_x),
        "n_test": len(test_x),
        "infer_b1": infer[1], "infer_b256": infer[256],
        "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "gpu": row.gpu, "gpu_devices": row.devices, "device_notes": row.notes,
        "threads_seen": threads_seen, "numpy": md.version("numpy"),
    }
    (out / f"{name}.json").write_text(json.dumps(result))
    _say(f"{name}: done")
    return 0


# --- the parent -----------------------------------------------------------------------------

def _child_env(entry: Entry, threads: int) -> dict:
    env = {**os.environ, **entry.env, **{v: str(threads) for v in THREAD_VARS}}
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _run_child(entry: Entry, proto: Protocol, threads: int, out: Path, show) -> dict:
    spec = out / f"{entry.name}.spec.json"
    tail: deque[str] = deque(maxlen=40)
    spawned = time.time()
    spec.write_text(json.dumps({"name": entry.name, "protocol": proto.name, "out": str(out), "spawned": spawned}))
    proc = subprocess.Popen([sys.executable, "-m", "labkit.compare", "_worker", str(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=_child_env(entry, threads), cwd=str(NOTEBOOKS.parent))

    def relay():
        for line in proc.stdout:
            line = line.rstrip()
            tail.append(line)
            if line.startswith("[compare] "):
                show(line[len("[compare] "):])
    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    try:
        rc = proc.wait(timeout=proto.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    reader.join(timeout=5)
    result_file = out / f"{entry.name}.json"
    if rc == 0 and result_file.is_file():
        return json.loads(result_file.read_text())
    why = f"timed out after {proto.timeout:g} s" if rc is None else f"exited with code {rc}"
    last = [ln for ln in tail if ln.strip()][-8:]
    return {"name": entry.name, "error": f"{entry.name}: the child process {why}. Its last output:\n"
                                          + "\n".join(last)}


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


class _QuickEnv:
    """Records carry ``quick`` from $LABKIT_QUICK: make it say which protocol ran."""

    def __init__(self, quick: bool):
        self.value = "1" if quick else "0"

    def __enter__(self):
        self.old = os.environ.get("LABKIT_QUICK")
        os.environ["LABKIT_QUICK"] = self.value

    def __exit__(self, *exc):
        if self.old is None:
            os.environ.pop("LABKIT_QUICK", None)
        else:
            os.environ["LABKIT_QUICK"] = self.old


def run(toolkits=None, *, quick: bool | None = None, threads: int | None = None, records=None,
        show=None) -> dict:
    """Run the protocol for ``toolkits`` (default: every entry of TOOLKITS), one child at a time,
    and write run records. Returns ``{"run": id, "results": {...}, "errors": {...}, "missing": [...]}``:
    ``missing`` lists toolkits not installed here, ``errors`` those whose child failed."""
    from labkit import quick_mode, timing
    from labkit.device import _usable_cpus

    quick = quick_mode() if quick is None else quick
    proto = QUICK if quick else FULL
    threads = threads or _usable_cpus()
    names = list(TOOLKITS) if not toolkits else [_resolve(t) for t in toolkits]
    show = show or (lambda msg: print(msg, flush=True))
    run_id = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    missing = [n for n in names if not installed(TOOLKITS[n])]
    todo = [n for n in names if n not in missing]
    show(f"compare run {run_id}: {len(todo)} toolkit(s), {threads} thread(s) each, one after another. "
         + proto.describe())
    for n in missing:
        show(f"  {n}: not installed here, skipped")
    results, errors, arrays = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="labkit-compare-") as tmp:
        for k, n in enumerate(todo, 1):
            t = time.perf_counter()
            show(f"[{k}/{len(todo)}] {n} ...")
            res = _run_child(TOOLKITS[n], proto, threads, Path(tmp), lambda m: show("    " + m))
            if "error" in res:
                errors[n] = res["error"]
                show(f"[{k}/{len(todo)}] {n} FAILED: {res['error']}")
                continue
            with np.load(Path(tmp) / f"{n}.npz") as f:
                arrays[n] = {k2: f[k2] for k2 in f.files}
            results[n] = res
            show(f"[{k}/{len(todo)}] {n}: {res['train_images_per_s']:,.0f} img/s training, "
                 f"{res['infer_b256']['median']:,.0f} img/s inference (batch 256), accuracy "
                 f"{res['test_accuracy']:.3f}, {time.perf_counter() - t:.0f} s")
    pairs = pairwise(arrays)
    common = dict(run=run_id, harness=HARNESS, protocol=proto.name, protocol_text=proto.describe(),
                  device="cpu", path=records)
    with _QuickEnv(quick):
        for n, res in results.items():
            _record_one(timing, TOOLKITS[n], res, threads, common)
        for (a, b), d in pairs.items():
            for kind, value in d.items():
                timing.record(a, f"agreement_{kind}_max_diff", value, "abs", other=b, threads=threads,
                              versions={}, **common)
        for n, err in errors.items():
            timing.record(n, "failed", 1, "flag", error=err, threads=threads, versions={}, **common)
        for n in missing:
            timing.record(n, "not_installed", 1, "flag", threads=threads, versions={}, **common)
    return {"run": run_id, "results": results, "errors": errors, "missing": missing, "pairs": pairs}


def _record_one(timing, entry: Entry, res: dict, threads: int, common: dict) -> None:
    from labkit import chapters

    size = installed_size(entry.dists)
    loc = lines_of_code(chapters.tagged_source(NOTEBOOKS / entry.notebook))
    kw = dict(threads=threads, versions={**res["versions"], "numpy": res["numpy"]}, **common)
    rec = lambda metric, value, unit, **extra: timing.record(entry.name, metric, value, unit, **kw, **extra)
    rec("train_images_per_s", res["train_images_per_s"], "img/s", batch_size=64, samples=res["train_samples"],
        steps=res["train_steps"])
    rec("infer_images_per_s", res["infer_b1"]["median"], "img/s", batch_size=1, samples=res["infer_b1"]["samples"])
    rec("infer_images_per_s", res["infer_b256"]["median"], "img/s", batch_size=256,
        samples=res["infer_b256"]["samples"])
    rec("time_to_first_result_s", res["time_to_first_result_s"], "s", startup_s=res["startup_s"],
        import_s=res["import_s"], build_first_s=res["first_s"])
    rec("peak_memory_mib", res["peak_memory_mib"], "MiB")
    rec("test_accuracy", res["test_accuracy"], "fraction", steps=res["train_steps"], dataset=res["dataset"],
        n_train=res["n_train"], n_test=res["n_test"], floor=res["accuracy_floor"], final_loss=res["final_loss"])
    rec("train_wall_s", res["train_wall_s"], "s", steps=res["train_steps"])
    rec("lines_of_code", loc, "lines", notebook=entry.notebook)
    rec("installed_mb", size["bytes"] / 1e6, "MB", python_mb=size["python_bytes"] / 1e6,
        native_mb=size["native_bytes"] / 1e6, distributions=size["distributions"])
    rec("gpu_support", 1 if res["gpu"] else 0, "flag", gpu_devices=res["gpu_devices"],
        device_notes=res["device_notes"], gpu_answer=res["gpu"], threads_seen=res["threads_seen"],
        model_library=_model_library(entry))


def _resolve(name: str) -> str:
    key = name.strip().lower()
    aliases = {"torch": "pytorch", "caffe": "caffe-style", "keras": "keras-tensorflow",
               "tensorflow": "keras-tensorflow", "tf": "keras-tensorflow", "jax": "keras-jax"}
    key = aliases.get(key, key)
    if key not in TOOLKITS:
        raise ValueError(f"unknown toolkit {name!r}; labkit.compare knows: {', '.join(TOOLKITS)}")
    return key


# --- from records to tables ------------------------------------------------------------------

@dataclass
class Run:
    """One comparison run, rebuilt from its records."""

    id: str
    protocol: str
    records: list
    values: dict          # toolkit -> metric (or metric@batch) -> value
    extra: dict           # toolkit -> metric -> the whole record
    pairs: dict           # (a, b) -> {"logits": .., "step": ..}
    failed: dict
    missing: list

    @property
    def toolkits(self) -> list[str]:
        return [n for n in TOOLKITS if n in self.values] + [n for n in self.values if n not in TOOLKITS]


def load_run(path=None, run: str | None = None) -> Run:
    """The records of comparison run ``run`` (default: the latest) as a ``Run``."""
    from labkit import timing

    recs = timing.read_records(path, harness=HARNESS)
    if not recs:
        raise LookupError(f"no comparison records in {timing.records_path(path)}; run "
                          "`python -m labkit compare --quick` (or compare.run()) first")
    run = run or recs[-1]["run"]
    recs = [r for r in recs if r.get("run") == run]
    if not recs:
        raise LookupError(f"no records of comparison run {run!r} in {timing.records_path(path)}")
    values, extra, pairs, failed, missing = {}, {}, {}, {}, []
    for r in recs:
        metric, tk = r["metric"], r["toolkit"]
        if metric.startswith("agreement_"):
            kind = metric.split("_")[1]
            pairs.setdefault((tk, r["other"]), {})[kind] = r["value"]
        elif metric == "failed":
            failed[tk] = r.get("error", "")
        elif metric == "not_installed":
            missing.append(tk)
        else:
            key = f"{metric}@{r['batch_size']}" if metric == "infer_images_per_s" else metric
            values.setdefault(tk, {})[key] = r["value"]
            extra.setdefault(tk, {})[key] = r
    return Run(run, recs[0]["protocol"], recs, values, extra, pairs, failed, missing)


def _fmt(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _table(columns, rows):
    from labkit.timing import RecordsTable

    return RecordsTable(list(columns), [[str(c) for c in row] for row in rows])


def _versions_text(tk: str, versions: dict, names: bool = True) -> str:
    """The versions that matter for ``tk`` (its own, and a Keras backend's), in that order."""
    shown = {"pytorch": ["torch"], "caffe-style": ["torch"], "keras-tensorflow": ["keras", "tensorflow"],
             "keras-torch": ["keras", "torch"], "keras-jax": ["keras", "jax"],
             "lasagne": ["lasagne", "theano"]}.get(tk, [tk])
    return (", " if names else " / ").join((f"{m} " if names else "") + str(versions.get(m, "?")) for m in shown)


def results_table(r: Run):
    """Every measured figure, one row per toolkit."""
    cols = ["toolkit", "version", "train img/s", "infer img/s b1", "infer img/s b256", "first result s",
            "peak MiB", "test acc", "LeNet lines", "installed MB", "GPU here"]
    rows = []
    for tk in r.toolkits:
        v, e = r.values[tk], r.extra[tk]
        vers = e["train_images_per_s"]["versions"]
        rows.append([tk, _versions_text(tk, vers, names=False), _fmt(v["train_images_per_s"]), _fmt(v["infer_images_per_s@1"]),
                     _fmt(v["infer_images_per_s@256"]), _fmt(v["time_to_first_result_s"]),
                     _fmt(v["peak_memory_mib"]), f"{v['test_accuracy']:.3f}", int(v["lines_of_code"]),
                     _fmt(v["installed_mb"]), "yes" if v["gpu_support"] else "no"])
    for tk, err in r.failed.items():
        rows.append([tk, "FAILED", err.splitlines()[0][:60]] + [""] * (len(cols) - 3))
    for tk in r.missing:
        rows.append([tk, "not installed"] + [""] * (len(cols) - 2))
    return _table(cols, rows)


#: The review's criteria, and what today's run can put in each (None: not measurable here).
CRITERIA = {
    "language": "share of installed bytes: Python source / native code",
    "documentation": None,
    "development environment": "time to first result; lines of its LeNet",
    "execution speed": "inference img/s, batch 1 / 256",
    "training speed": "training img/s, batch 64",
    "GPU support": "labkit.device in the child",
    "maturity": "version installed (release history is not measured)",
    "model library": "package a reader reaches for, installed here?",
}


def criteria_table(r: Run):
    """The review's criteria as columns, one row per toolkit, measured cells filled from the run.

    The review's Table 1 figures (GitHub stars, forks, contributors in 2017) are not
    reproduced: see the chapter for why."""
    cols = ["toolkit", *CRITERIA]
    rows = []
    for tk in r.toolkits:
        v, e = r.values[tk], r.extra[tk]
        size = e["installed_mb"]
        vers = e["train_images_per_s"]["versions"]
        rows.append([
            tk,
            f"Python {size['python_mb']:.0f} MB / native {size['native_mb']:.0f} MB",
            "not measured",
            f"{_fmt(v['time_to_first_result_s'])} s; {int(v['lines_of_code'])} lines",
            f"{_fmt(v['infer_images_per_s@1'])} / {_fmt(v['infer_images_per_s@256'])}",
            _fmt(v["train_images_per_s"]),
            ("yes: " + ", ".join(e["gpu_support"]["gpu_devices"])) if v["gpu_support"]
            else f"no GPU seen ({e['gpu_support'].get('device_notes') or 'CPU'})",
            _versions_text(tk, vers),
            e["gpu_support"].get("model_library", ""),
        ])
    return _table(cols, rows)


def agreement_table(r: Run, kind: str = "logits"):
    """The pairwise matrix: largest |difference| of probe logits (``kind='logits'``) or of
    parameters after one SGD step (``'step'``), every toolkit against every other."""
    names = ["numpy-reference"] + [t for t in r.toolkits]
    rows = []
    for a in names:
        row = [a]
        for b in names:
            if a == b:
                row.append("0")
            else:
                d = r.pairs.get((a, b)) or r.pairs.get((b, a))
                row.append("-" if d is None else f"{d[kind]:.1e}")
        rows.append(row)
    return _table(["", *names], rows)


def agreement_worst(r: Run) -> dict:
    """The largest pairwise difference of each kind in the run."""
    return {kind: max((d[kind] for d in r.pairs.values()), default=float("nan")) for kind in ("logits", "step")}


def physics_table(r: Run, peak: dict | None = None):
    """FLOPs per image and each toolkit's achieved GFLOP/s as a share of the estimated peak."""
    peak = peak or peak_gflops()
    f = lenet.flops_per_image()
    cols = ["toolkit", "train GFLOP/s", "share of peak", "infer b256 GFLOP/s", "share of peak"]
    rows = []
    for tk in r.toolkits:
        v = r.values[tk]
        tr = v["train_images_per_s"] * f["train_step"] / 1e9
        inf = v["infer_images_per_s@256"] * f["forward"] / 1e9
        share = (lambda g: f"{100 * g / peak['gflops']:.1f}%") if peak["gflops"] else (lambda g: "-")
        rows.append([tk, f"{tr:.2f}", share(tr), f"{inf:.2f}", share(inf)])
    return _table(cols, rows)


def plot(r: Run):
    """Training and inference images/s per toolkit, as a matplotlib Figure (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = r.toolkits
    fig = Figure(figsize=(10, 3.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    for ax, key, title in zip(axes, ("train_images_per_s", "infer_images_per_s@1", "infer_images_per_s@256"),
                              ("training, batch 64", "inference, batch 1", "inference, batch 256")):
        vals = [r.values[n][key] for n in names]
        ax.barh(names, vals, color="tab:blue")
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("images/s")
        ax.grid(axis="x", alpha=0.3)
        if ax is not axes[0]:
            ax.set_yticklabels([])
    fig.suptitle(f"LeNet, {r.protocol} protocol, run {r.id}", fontsize=10)
    fig.tight_layout()
    return fig


# --- command line ---------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    import argparse

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_worker"]:
        return _worker(argv[1])
    parser = argparse.ArgumentParser(prog="python -m labkit compare",
                                     description="Every toolkit's LeNet under one protocol, each in its own process.")
    parser.add_argument("--quick", action="store_true", help="the tests' short protocol (default: full)")
    parser.add_argument("--toolkits", nargs="+", metavar="NAME", help=f"some of: {', '.join(TOOLKITS)}")
    parser.add_argument("--threads", type=int, help="threads per toolkit (default: the CPUs usable here)")
    parser.add_argument("--records", help="records file or folder (default: labkit.paths.runs_dir())")
    args = parser.parse_args(argv)
    try:
        out = run(args.toolkits, quick=args.quick, threads=args.threads, records=args.records)
    except ValueError as err:
        parser.error(str(err))
    r = load_run(args.records, out["run"])
    if r.values:
        print("\n" + results_table(r).text())
        print("\nLargest pairwise difference: probe logits {logits:.1e}, after one SGD step {step:.1e}"
              .format(**agreement_worst(r)))
    print(f"\nrecords: run {out['run']} in {__import__('labkit.timing').timing.records_path(args.records)}")
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
