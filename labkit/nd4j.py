"""ND4J, DeepLearning4j's array library, run through JPype in a child Python process: Caffe's
LeNet from the shared weights, its probe logits, and one plain SGD step.

    >>> from labkit import nd4j
    >>> nd4j.classpath()[:2]            # [Debian's guava.jar, ...the wheel's 64 jars]
    >>> got = nd4j.run_lenet(max_mem="1g")
    >>> got.logits.shape, got.step["fc2.bias"].shape, got.seconds
    >>> nd4j.live_children()            # [] : no JVM of ours outlives a call

Where the jars come from. PyPI's ``nd4j==1.0.0b3`` (a pre-release: ``pip index versions``
hides it) bundles ND4J 1.0.0-beta3's jars (SameDiff included) in its ``classpath`` folder,
which ``nd4j.get_classpath()`` returns; found here without importing the package (its
``__init__`` imports the deprecated ``pkg_resources``). DL4J's layers are not in it: they
come only from Maven Central. The wheel's Guava (20.0) is too old for SameDiff's op registry
(a NullPointerException, "fields is null", at the first run of a graph), so a newer Guava goes
FIRST on the classpath: Debian's ``/usr/share/java/guava.jar`` (package ``libguava-java``, 31.1
on Debian 12). Under Java 17 one module must be opened to the jars,
``--add-opens=java.base/java.util=ALL-UNNAMED`` (else SameDiff's class fails to initialise on
``TreeSet.m``); that flag alone was enough for everything here.

Why a child. JPype starts one JVM inside the Python process that calls it, and cannot start a
second after shutting it down (JPype's documentation: a JVM cannot be restarted in a process).
So each call starts a fresh ``python -m labkit.nd4j`` (``labkit.child``): it starts the JVM with
``-Xmx<max_mem>``, computes, writes its answer (JSON, and the arrays as .npz) and exits, taking
the JVM with it; a time limit kills it. ND4J keeps arrays off the Java heap, and JavaCPP caps
memory from ``-Xmx`` too (``maxPhysicalBytes``, the whole process's resident memory, Python's
included, defaults to twice it), so too small a
``max_mem`` fails in native code with "Physical memory usage is too high" (ND4J then adds
"probably missing dependencies", which is wrong): that is raised as ``jvm.OutOfMemory``.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from labkit import child, jvm

#: Java versions accepted: --add-opens needs 9 or later (11 is the oldest LTS); checked here on 17.
ND4J_JAVA = (11, 17)
#: The one module the jars must reach into under Java 9+ (SameDiff's reflection on java.util).
ADD_OPENS = "--add-opens=java.base/java.util=ALL-UNNAMED"
#: Debian's Guava (libguava-java): put before the wheel's guava-20.0.jar.
GUAVA = Path("/usr/share/java/guava.jar")
SETUP_HINT = ("`make setup` installs it into the workbook's environment (pip install --pre nd4j==1.0.0b3 "
              "jpype1==1.7.1; a 283 MB wheel).")
GUAVA_HINT = ("On Debian or Ubuntu `make system-deps` installs it (as root: apt-get install libguava-java); "
              "elsewhere download a Guava jar (31.1 is the one checked) and pass guava=its path.")


class ND4JError(jvm.JVMError):
    """ND4J could not run; the message says why and what to do."""


class ND4JNotFound(ND4JError):
    """The nd4j package (its jars), JPype, or Guava is missing."""


def jar_folder() -> Path:
    """The ``classpath`` folder of the nd4j package (what ``nd4j.get_classpath()`` returns), found
    without importing it; raises ``ND4JNotFound`` when the package or its jars are missing."""
    spec = find_spec("nd4j")
    if spec is None or not spec.submodule_search_locations:
        raise ND4JNotFound("the nd4j package (ND4J's jars) is not installed in this Python. " + SETUP_HINT)
    folder = Path(list(spec.submodule_search_locations)[0]) / "classpath"
    names = [p.name for p in folder.glob("*.jar")]
    if not any(n.startswith("nd4j-api") for n in names) or not any(n.startswith("nd4j-native") for n in names):
        raise ND4JNotFound(f"the nd4j package at {folder.parent} has no ND4J jars (nd4j-api, nd4j-native) in "
                           f"{folder}: it is the 0.0.0 placeholder or a damaged install. " + SETUP_HINT)
    return folder


def classpath(guava: str | os.PathLike = GUAVA) -> list[str]:
    """The jars, in order: a recent Guava first, then the wheel's jars (sorted)."""
    guava = Path(guava)
    if not guava.is_file():
        raise ND4JNotFound(f"no Guava jar at {guava}: ND4J's SameDiff needs a newer Guava than the 20.0 its "
                           "wheel bundles (with it, running a graph fails with a NullPointerException). "
                           + GUAVA_HINT)
    return [str(guava)] + sorted(str(p) for p in jar_folder().glob("*.jar"))


def libjvm(java: str) -> Path:
    """The libjvm shared library of the Java whose executable is ``java`` (what JPype loads)."""
    home = Path(java).resolve().parent.parent
    for lib in ("lib/server/libjvm.so", "jre/lib/amd64/server/libjvm.so", "lib/server/libjvm.dylib",
                "bin/server/jvm.dll"):
        if (home / lib).is_file():
            return home / lib
    raise jvm.JavaNotFound(f"{java} is a Java without a server JVM library under {home} (lib/server/libjvm.so): "
                           "JPype needs a full JDK or JRE. " + jvm.INSTALL_HINT)


def check(guava: str | os.PathLike = GUAVA) -> dict:
    """Everything a call needs, checked before a child starts: the jars, Guava, JPype, Java."""
    jars = classpath(guava)
    if find_spec("jpype") is None:
        raise ND4JNotFound("JPype (the jpype1 package, Python's bridge into a JVM) is not installed. " + SETUP_HINT)
    java = jvm.java_info()
    low, high = ND4J_JAVA
    if not low <= java.major <= high:
        raise jvm.UnsupportedJava(f"{java.path} is Java {java.major} ({java.text}); ND4J 1.0.0-beta3 through JPype "
                                  f"runs here on Java {low} to {high} (checked on 17). " + jvm.INSTALL_HINT
                                  + " With several Javas installed, set JAVA_HOME to a supported one.")
    return {"classpath": jars, "java": java.path, "java_major": java.major, "java_text": java.text,
            "libjvm": str(libjvm(java.path))}


@dataclass
class Result:
    """What one child computed: probe logits (20, 10), the parameters after one SGD step (canonical
    layout, or None), the gradient check of the log-softmax loss, and where the time went."""

    logits: object
    step: dict | None
    diagnosis: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)


def run_lenet(*, max_mem: str = "1g", train: bool = True, diagnose: bool = False, threads: int | None = None,
              timeout: float = 600, guava: str | os.PathLike = GUAVA, show=None) -> Result:
    """LeNet in ND4J from ``labkit.lenet``'s shared weights, in a child process: probe logits, and with
    ``train`` one SGD step (lr ``lenet.PROBE_LR``) through SameDiff's ``fit``; with ``diagnose``, the
    gradients of the losses that fail (ND4J's own log-softmax and softmax cross-entropy)."""
    if not isinstance(max_mem, str) or not jvm.MAX_MEM.match(max_mem):
        raise ValueError(f"max_mem={max_mem!r}: give Java's -Xmx size as a string, a number with an optional "
                         "unit k, m or g, e.g. '1g' or '512m'.")
    spec = {**check(guava), "max_mem": max_mem, "train": bool(train), "diagnose": bool(diagnose)}
    with tempfile.TemporaryDirectory(prefix="labkit-nd4j-") as tmp:
        (Path(tmp) / "spec.json").write_text(json.dumps(spec))
        start = time.perf_counter()
        out = child.run("ND4J", ["-m", "labkit.nd4j", tmp], Path(tmp) / "result.json", timeout=timeout,
                        env=child.toolkit_env(threads=threads), show=show)
        if not out.ok:
            said = [ln for ln in out.tail if any(m in ln for m in jvm.OOM_MARKERS)]
            if said:
                raise jvm.OutOfMemory(f"the JVM ran out of memory: max_mem={max_mem!r} (Java's -Xmx) is too small. "
                                      "ND4J keeps its arrays outside the Java heap, and JavaCPP caps the whole "
                                      "process's memory at twice -Xmx (maxPhysicalBytes). Give more, e.g. "
                                      "max_mem='1g' (LeNet's probe batch ran with '128m'). The JVM said: "
                                      + said[0].strip()[:300])
            raise ND4JError(out.error())
        import numpy as np

        with np.load(Path(tmp) / "arrays.npz") as f:
            arrays = {k: f[k] for k in f.files}
    result = out.result
    step = {k[5:]: v for k, v in arrays.items() if k.startswith("step:")} or None
    result["seconds"]["call"] = time.perf_counter() - start
    return Result(arrays["logits"], step, result["diagnosis"], result["seconds"],
                  {k: spec[k] for k in ("java_text", "max_mem")} | {"jars": len(spec["classpath"])})


def live_children() -> list:
    """Processes this Python started that still run ND4J (``python -m labkit.nd4j``); [] when none."""
    return jvm.descendants(lambda p: "labkit.nd4j" in " ".join(p.cmdline()))


# --- the child: the JVM, ND4J's ops, LeNet ---------------------------------------------------------

def build_lenet(sd, w: dict, nd):
    """Caffe's LeNet as a SameDiff graph with ND4J's ops; ``w`` in labkit.lenet's canonical layout,
    ``nd`` turns a NumPy array into an INDArray. Returns the logits variable."""
    import jpype
    from org.nd4j.autodiff.samediff import SDVariable
    from org.nd4j.linalg.api.ops.impl.layers.convolution.config import Conv2DConfig, Pooling2DConfig

    images = sd.placeHolder("input", jpype.JArray(jpype.JLong)([-1, 1, 28, 28]))    # NCHW, as Caffe

    def conv(name, x):      # ND4J's kernels are (kH, kW, in, out); it cross-correlates, as Caffe does
        kernel = sd.var(f"{name}_W", nd(w[f"{name}.weight"].transpose(2, 3, 1, 0)))
        bias = sd.var(f"{name}_b", nd(w[f"{name}.bias"]))
        cfg = Conv2DConfig.builder().kH(5).kW(5).sH(1).sW(1).pH(0).pW(0).dH(1).dW(1) \
            .isSameMode(False).dataFormat("NCHW").build()
        return sd.conv2d(name, jpype.JArray(SDVariable)([x, kernel, bias]), cfg)

    def pool(name, x):
        cfg = Pooling2DConfig.builder().kH(2).kW(2).sH(2).sW(2).pH(0).pW(0).dH(1).dW(1) \
            .isSameMode(False).isNHWC(False).build()
        return sd.maxPooling2d(name, x, cfg)

    def dense(name, x):     # x @ W + b, W stored (in, out), b a row (1, out)
        weight = sd.var(f"{name}_W", nd(w[f"{name}.weight"].T))
        bias = sd.var(f"{name}_b", nd(w[f"{name}.bias"][None, :]))
        return sd.mmul(x, weight).add(name, bias)

    x = pool("pool2", conv("conv2", pool("pool1", conv("conv1", images))))
    flat = sd.reshape("flat", x, jpype.JArray(jpype.JLong)([-1, 800]))      # (channel, row, column)
    hidden = sd.relu("relu1", dense("fc1", flat), 0.0)
    return dense("fc2", hidden)


def mean_cross_entropy(sd, logits, n: int, how: str = "log(softmax)"):
    """Mean softmax cross-entropy against the one-hot placeholder "labels". Only "log(softmax)" has a
    working gradient in ND4J 1.0.0-beta3; "logSoftmax" and "builtin" are kept to show what fails."""
    import jpype

    labels = sd.placeHolder("labels", jpype.JArray(jpype.JLong)([-1, 10]))
    if how == "builtin":
        return sd.lossSoftmaxCrossEntropy("loss", labels, logits)
    logp = sd.logSoftmax("logp", logits) if how == "logSoftmax" else sd.log("logp", sd.softmax(logits))
    return sd.sum("picked", labels.mul(logp)).mul("loss", -1.0 / n)


def to_canonical(name: str, a):
    """An ND4J parameter array back in labkit.lenet's layout."""
    return a.transpose(3, 2, 0, 1) if a.ndim == 4 else a.T if name.endswith("weight") else a.reshape(-1)


def _child_main(folder: str) -> None:
    import numpy as np

    from labkit import lenet

    folder = Path(folder)
    spec = json.loads((folder / "spec.json").read_text())
    seconds = {}
    t = time.perf_counter()
    import jpype
    import jpype.imports  # noqa: F401  (Java packages become importable)

    jpype.startJVM(spec["libjvm"], f"-Xmx{spec['max_mem']}", ADD_OPENS, classpath=spec["classpath"],
                   convertStrings=False)
    seconds["jvm_start"] = time.perf_counter() - t
    child.say(f"JVM started ({spec['java_text']}, -Xmx{spec['max_mem']}) in {seconds['jvm_start']:.1f} s")
    from java.util import HashMap
    from org.nd4j.autodiff.samediff import SameDiff, TrainingConfig
    from org.nd4j.linalg.dataset import DataSet
    from org.nd4j.linalg.factory import Nd4j
    from org.nd4j.linalg.learning.config import Sgd

    def nd(a):
        a = np.ascontiguousarray(a, np.float32)
        return Nd4j.create(jpype.JArray(jpype.JFloat)(a.ravel()), jpype.JArray(jpype.JLong)(list(a.shape)), "c")

    def numpy(arr):
        return np.array(arr.dup("c").data().asFloat(), np.float32).reshape([int(s) for s in arr.shape()])

    w = lenet.initial_weights()
    x, y = lenet.probe_batch()
    feed = {"input": nd(x), "labels": nd(np.eye(10, dtype=np.float32)[y])}
    params = [f"{layer.name}_{p}" for layer in lenet.LAYERS if layer.params for p in "Wb"]
    canonical = dict(zip(params, lenet.PARAM_SHAPES))           # conv1_W -> conv1.weight, ...

    def graph(how):
        sd = SameDiff.create()
        mean_cross_entropy(sd, build_lenet(sd, w, nd), len(y), how)
        return sd

    t = time.perf_counter()
    sd = graph("log(softmax)")
    sd.execWithPlaceHolder(HashMap(feed))
    arrays = {"logits": numpy(sd.getArrForVarName("fc2"))}
    seconds["forward"] = time.perf_counter() - t
    child.say(f"forward pass in {seconds['forward']:.1f} s (the first run loads ND4J's native code)")
    if spec["train"]:
        t = time.perf_counter()
        names = jpype.JArray(jpype.JString)
        sd.setTrainingConfig(TrainingConfig.builder().updater(Sgd(lenet.PROBE_LR)).dataSetFeatureMapping(
            names(["input"])).dataSetLabelMapping(names(["labels"])).build())
        sd.fit(DataSet(feed["input"], feed["labels"]))
        arrays |= {f"step:{canonical[p]}": to_canonical(canonical[p], numpy(sd.getArrForVarName(p))) for p in params}
        seconds["sgd_step"] = time.perf_counter() - t
        child.say(f"one SGD step in {seconds['sgd_step']:.1f} s")
    diagnosis = {}
    if spec["diagnose"]:
        t = time.perf_counter()
        for how in ("logSoftmax", "builtin"):
            bad = graph(how)
            try:
                bad.execWithPlaceHolder(HashMap(feed))
                bad.execBackwards()
                diagnosis[how] = {canonical[p]: float(np.abs(numpy(bad.grad(p).getArr())).max()) for p in params}
            except Exception as err:          # a Java exception, as JPype raises it
                diagnosis[how] = f"{type(err).__name__}: {err}"
        seconds["diagnosis"] = time.perf_counter() - t
    np.savez(folder / "arrays.npz", **arrays)
    child.write_result(folder / "result.json", {"seconds": seconds, "diagnosis": diagnosis})


if __name__ == "__main__":
    _child_main(sys.argv[1])
