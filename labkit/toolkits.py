"""The one registry of toolkits: every name the workbook knows, and what each needs.

    >>> from labkit import toolkits
    >>> toolkits.TOOLKITS["torch"].chapter          # '10_pytorch.ipynb'
    >>> toolkits.resolve("pytorch")                 # 'torch' (names a reader might type)
    >>> toolkits.ENTRIES["keras-jax"].env            # {'KERAS_BACKEND': 'jax'}

Two tables, both here and nowhere else:

* ``TOOLKITS``: software the device table probes (``labkit.device``): display name, import
  name, aliases, the chapter that runs it, where it runs (``RUNS_IN``), the device
  questions (``labkit.probes``), a GPU hint, whether a missing install is expected, and
  whether it needs ``labkit.compat``'s shims.
* ``ENTRIES``: the rows of the comparison (``labkit.compare``): one chapter's LeNet in one
  configuration (a Keras backend is an entry), with what it must import, what counts
  towards its installed size, its model library and the versions its rows show.

Adding a toolkit starts here: see CONTRIBUTING.md's checklist.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from dataclasses import dataclass, field
from functools import lru_cache

from labkit import probes
from labkit.probes import Question

#: Where a toolkit's code runs: this environment, or a process of another kind behind the
#: same chapter contract.
RUNS_IN = ("this venv", "own venv", "node", "jvm")


@dataclass(frozen=True)
class Toolkit:
    """A toolkit: how to find it, and the small questions only it can answer (``labkit.probes``)."""

    name: str
    module: str
    aliases: tuple[str, ...] = ()
    gpus: Question | None = None
    cuda: Question | None = None
    cudnn: Question | None = None
    notes: Question | None = None
    gpu_hint: str = ""
    optional: str = ""                # why a missing install is expected, if it is
    chapter: str | None = None        # the notebook that runs its LeNet
    runs_in: str = "this venv"        # one of RUNS_IN
    compat: bool = False              # needs labkit.compat's shims on today's stack


def _tk(name, module, aliases, questions: probes.Questions, **kw) -> Toolkit:
    return Toolkit(name, module, aliases, *questions, **kw)


#: Every toolkit the workbook knows, in the order the device table shows them.
TOOLKITS: dict[str, Toolkit] = {
    "torch": _tk(
        "PyTorch", "torch", ("pytorch",), probes.TORCH, chapter="10_pytorch.ipynb",
        gpu_hint="Install a CUDA build of torch: pick your CUDA version at "
                 "https://pytorch.org/get-started/locally/ (e.g. pip install torch "
                 "--index-url https://download.pytorch.org/whl/cu126). The workbook's "
                 "requirements.lock pins the CPU build."),
    "tensorflow": _tk(
        "TensorFlow", "tensorflow", ("tf",), probes.TENSORFLOW, chapter="15_tensorflow.ipynb",
        gpu_hint="pip install 'tensorflow[and-cuda]' (Linux; on Windows use WSL2: native "
                 "Windows GPU support ended with TensorFlow 2.10). tensorflow-cpu never sees a GPU."),
    "keras": _tk(
        "Keras", "keras", (), probes.KERAS, chapter="11_keras.ipynb",
        gpu_hint="Keras uses its backend's devices: give the backend (see its row) a GPU build; "
                 "choose the backend with KERAS_BACKEND before importing keras."),
    "jax": _tk(
        "JAX", "jax", (), probes.JAX, chapter="11_keras.ipynb",
        gpu_hint="pip install -U 'jax[cuda12]' (Linux) to add the CUDA plugin."),
    "theano": _tk(
        "Theano", "theano", ("theano-pymc",), probes.THEANO, chapter="12_theano.ipynb", compat=True,
        gpu_hint="Theano needs libgpuarray/pygpu and THEANO_FLAGS=device=cuda; it is "
                 "unmaintained, so the workbook runs it on the CPU."),
    "lasagne": _tk(
        "Lasagne", "lasagne", (), probes.THEANO, chapter="13_lasagne.ipynb", compat=True,
        gpu_hint="Lasagne runs wherever Theano does (see the Theano row)."),
    "chainer": _tk(
        "Chainer", "chainer", (), probes.CHAINER, chapter="14_chainer.ipynb", compat=True,
        gpu_hint="Chainer uses CuPy for the GPU: pip install cupy-cuda12x (matching your CUDA)."),
    "mxnet": _tk(
        "MXNet", "mxnet", (), probes.MXNET, chapter="16_mxnet.ipynb", compat=True,
        # retired: the ASF board retired it on 2023-09-20, in the Apache Attic since 2024-02-14;
        # 1.9.1 (2022) is its last release, installed by the two commands like every toolkit here
        gpu_hint="MXNet is retired (Apache Attic, 2023); its last CUDA wheels (mxnet-cu112) need CUDA 11.2."),
    "paddle": _tk(
        "PaddlePaddle", "paddle", ("paddlepaddle",), probes.PADDLE, chapter="17_paddle.ipynb", compat=True,
        gpu_hint="pip install paddlepaddle-gpu (see paddlepaddle.org.cn for the CUDA variants)."),
    "caffe": _tk(
        "Caffe (pycaffe)", "caffe", ("pycaffe",), probes.CAFFE, chapter="20_caffe.ipynb", compat=True,
        gpu_hint="Caffe uses a GPU only when built from source with CUDA.",
        optional="optional: built from source, not on PyPI"),
    "convnetjs": _tk(
        # JavaScript: its module here is labkit.node, the bridge to the Node process it runs in
        "ConvNetJS", "labkit.node", ("convnet.js",), probes.CONVNETJS, chapter="18_convnetjs.ipynb",
        runs_in="node",
        gpu_hint="ConvNetJS computes in plain JavaScript on one thread: it has no GPU path."),
    "h2o": _tk(
        # Java: the h2o module is the client of a JVM server labkit.jvm starts (h2o.jar, bundled)
        "H2O", "h2o", ("h2o-3",), probes.H2O, chapter="21_h2o.ipynb", runs_in="jvm",
        gpu_hint="H2O's Deep Learning has no GPU path; only its XGBoost can use an NVIDIA GPU "
                 "(backend='gpu', CUDA installed)."),
    "nd4j": _tk(
        # Java: ND4J 1.0.0-beta3's jars from PyPI's nd4j wheel, run by labkit.nd4j in a child's JVM (JPype)
        "ND4J (DeepLearning4j)", "nd4j", ("deeplearning4j", "dl4j", "eclipse deeplearning4j"), probes.ND4J,
        chapter="21_h2o.ipynb", runs_in="jvm",
        optional="optional: PyPI's pre-release nd4j==1.0.0b3 (283 MB) and JPype",
        gpu_hint="The nd4j wheel carries only the CPU backend (nd4j-native); a GPU needs DL4J's "
                 "nd4j-cuda-* jars from Maven Central, matched to the CUDA version."),
    "nolearn": _tk(
        # scikit-learn's fit/predict over Lasagne (nolearn.lasagne); installed with --no-deps,
        # since its requirements would replace theano-pymc with the original Theano
        "Nolearn", "nolearn", (), probes.NOLEARN, chapter="19_sklearn.ipynb", compat=True,
        gpu_hint="Nolearn runs wherever Theano does (see the Theano row)."),
    "skorch": _tk(
        "skorch", "skorch", (), probes.SKORCH, chapter="19_sklearn.ipynb",
        gpu_hint="skorch uses PyTorch's devices (see the PyTorch row): NeuralNet(..., device='cuda')."),
    "opencv": _tk(
        "OpenCV", "cv2", ("cv2", "opencv-python"), probes.OPENCV,
        gpu_hint="OpenCV's PyPI wheels are CPU-only; its CUDA modules need a source build."),
    "onnxruntime": _tk(
        "ONNX Runtime", "onnxruntime", ("ort",), probes.ONNXRUNTIME,
        gpu_hint="pip install onnxruntime-gpu (in place of onnxruntime).", optional="optional"),
}


@dataclass(frozen=True)
class CompileCache:
    """Where a toolkit keeps compiled code between runs (``labkit.compare.caches`` times it)."""

    env: dict            # the variables that point it at a folder ("{dir}" is the folder)
    default: str         # what a reader gets without them, said plainly


#: The compile caches that outlive a process, by TOOLKITS key; a toolkit not here compiles nothing
#: that a second run could reuse.
COMPILE_CACHES: dict[str, CompileCache] = {
    "theano": CompileCache({"THEANO_FLAGS": "base_compiledir={dir}"},
                           "on by default, in ~/.theano: a reader's first run ever is cold, every later run warm"),
    "torch": CompileCache({"TORCHINDUCTOR_CACHE_DIR": "{dir}"},
                          "torch.compile's, on by default in /tmp/torchinductor_$USER: cold on a first run "
                          "and after /tmp is cleared, warm after; eager PyTorch compiles nothing"),
    "jax": CompileCache({"JAX_COMPILATION_CACHE_DIR": "{dir}", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"},
                        "off by default (no jax_compilation_cache_dir): every run compiles afresh, cold"),
    "tensorflow": CompileCache({"TF_XLA_FLAGS": "--tf_xla_persistent_cache_directory={dir}"},
                               "off by default (XLA's persistent cache needs TF_XLA_FLAGS): every run is cold"),
}


@dataclass(frozen=True)
class Entry:
    """One row of the comparison: which chapter, which environment, what to count."""

    name: str                       # the record name, as the chapter records it
    notebook: str
    env: dict = field(default_factory=dict)
    device: str = ""                # TOOLKITS key of what runs the maths
    modules: tuple = ()             # modules that must be importable (checked without importing)
    dists: tuple = ()               # distributions counted for the installed size (and what they require)
    model_library: tuple = ()       # (package, what it offers) a reader would reach for
    shown: tuple = ()               # the modules whose versions its rows show
    aliases: tuple = ()             # other names a reader may type for it
    options: dict = field(default_factory=dict)   # {contract function: {keyword: value}} the row passes
    tuned: str = ""                 # the settings a tuned row changes, named; "" = as a newcomer writes it
    quick: bool = True              # run by the quick protocol (the tests'); False: full runs only
    adapter: str = ""               # a module whose contract(namespace) runs the chapter's net elsewhere
    loss_steps: int = 0             # steps of its loss-curve check (labkit.agreement); 0: LOSS_STEPS


_KERAS_APPS = ("keras.applications", "pretrained models, part of Keras")

#: The comparison's rows, in the order its tables show them.
ENTRIES: dict[str, Entry] = {e.name: e for e in (
    Entry("pytorch", "10_pytorch.ipynb", {}, "torch", ("torch",), ("torch",),
          ("torchvision", "pretrained vision models (torchvision.models)"), ("torch",), ("torch",)),
    Entry("pytorch-tuned", "10_pytorch.ipynb", {}, "torch", ("torch",), ("torch",),
          ("torchvision", "pretrained vision models (torchvision.models)"), ("torch",),
          options={"build_lenet": {"channels_last": True, "compile": True}},
          tuned="channels-last memory format and torch.compile (Inductor)",
          quick=False),     # compiling costs minutes on 2 cores: tests/test_compare.py runs it, chapter 40's quick run not
    Entry("keras-tensorflow", "11_keras.ipynb", {"KERAS_BACKEND": "tensorflow"}, "keras",
          ("keras", "tensorflow"), ("keras", "tensorflow-cpu|tensorflow"), _KERAS_APPS,
          ("keras", "tensorflow"), ("keras",)),
    Entry("keras-torch", "11_keras.ipynb", {"KERAS_BACKEND": "torch"}, "keras",
          ("keras", "torch"), ("keras", "torch"), _KERAS_APPS, ("keras", "torch")),
    Entry("keras-jax", "11_keras.ipynb", {"KERAS_BACKEND": "jax"}, "keras",
          ("keras", "jax"), ("keras", "jax", "jaxlib"), _KERAS_APPS, ("keras", "jax"), ("jax",)),
    Entry("tensorflow", "15_tensorflow.ipynb", {}, "tensorflow", ("tensorflow",), ("tensorflow-cpu|tensorflow",),
          ("tensorflow_hub", "pretrained SavedModels (TF Hub, now hosted on Kaggle Models)"), ("tensorflow",),
          ("tf",)),
    # no tensorflow-tuned row: its one speed setting, jit_compile=True (XLA), made the training step
    # 15x slower than tf.function on this project's 2-core CPU (2026-12-02, side by side)
    Entry("theano", "12_theano.ipynb", {}, "theano", ("theano",), ("theano-pymc",), (), ("theano",)),
    Entry("lasagne", "13_lasagne.ipynb", {}, "lasagne", ("lasagne", "theano"), ("lasagne", "theano-pymc"),
          (None, "no package: its model zoo, Lasagne/Recipes, is a repository of scripts and pickles"),
          ("lasagne", "theano")),
    Entry("chainer", "14_chainer.ipynb", {}, "chainer", ("chainer",), ("chainer",),
          ("chainercv", "pretrained vision models (ChainerCV)"), ("chainer",)),
    Entry("chainer-tuned", "14_chainer.ipynb", {"CHAINER_TYPE_CHECK": "0"}, "chainer", ("chainer",), ("chainer",),
          ("chainercv", "pretrained vision models (ChainerCV)"), ("chainer",),
          tuned="type checks off (CHAINER_TYPE_CHECK=0, i.e. chainer.config.type_check = False)"),
    Entry("mxnet", "16_mxnet.ipynb", {}, "mxnet", ("mxnet",), ("mxnet",),
          ("mxnet.gluon.model_zoo", "pretrained vision models (gluon.model_zoo.vision; GluonCV has more)"),
          ("mxnet",), options={"build_lenet": {"hybridize": False}}),
    Entry("mxnet-tuned", "16_mxnet.ipynb", {}, "mxnet", ("mxnet",), ("mxnet",),
          ("mxnet.gluon.model_zoo", "pretrained vision models (gluon.model_zoo.vision; GluonCV has more)"),
          ("mxnet",), options={"build_lenet": {"hybridize": True, "static": True}},
          tuned="hybridize(static_alloc=True, static_shape=True): one cached graph, memory planned once"),
    Entry("caffe-style", "20_caffe.ipynb", {}, "torch", ("torch", "google.protobuf"), ("torch", "protobuf"),
          ("labkit.caffe", "reads any .caffemodel's blobs, but runs only nets of its 13 layer types (no LRN, Concat, BatchNorm, Scale, Eltwise)"), ("torch",), ("caffe-style", "labkit.caffe")),
    # real Caffe (make caffe): Figure 1's net from chapter 20's cells, trained by Caffe's own C++ SGDSolver
    Entry("caffe", "20_caffe.ipynb", {"GLOG_minloglevel": "1"}, "caffe", ("caffe",), ("caffe|brocolli-caffe",), (),
          ("caffe",), ("pycaffe", "bvlc-caffe", "real-caffe"), adapter="labkit.compare.realcaffe"),
    Entry("paddle", "17_paddle.ipynb", {}, "paddle", ("paddle",), ("paddlepaddle",),
          ("paddle.vision.models", "vision models with pretrained weights (paddle.vision.models, inside the wheel)"),
          ("paddle",), ("paddlepaddle",)),
    Entry("convnetjs", "18_convnetjs.ipynb", {}, "convnetjs", ("labkit.node",), ("convnetjs",),
          (None, "none: no model zoo; a net is saved and shared as the text of Net.toJSON()"),
          ("convnetjs", "node"), ("convnet.js",),
          loss_steps=10),   # float64 in Node: 50 steps took 316 s on 2 loaded cores, and float64 cannot drift
)}


def resolve(name: str) -> str:
    """The ``TOOLKITS`` key for a name a reader might type ('pytorch', 'tf', 'cv2', ...)."""
    wanted = name.strip().lower()
    for key, tk in TOOLKITS.items():
        if wanted in {key, tk.module.lower(), tk.name.lower(), *tk.aliases}:
            return key
    raise ValueError(f"unknown toolkit {name!r}; labkit.device knows: {', '.join(TOOLKITS)}")


def resolve_entry(name: str) -> str:
    """The ``ENTRIES`` key for a name a reader might type ('torch', 'caffe', 'jax', ...)."""
    wanted = name.strip().lower()
    if wanted in ENTRIES:
        return wanted
    for key, entry in ENTRIES.items():
        if wanted in entry.aliases:
            return key
    raise ValueError(f"unknown toolkit {name!r}; labkit.compare knows: {', '.join(ENTRIES)}")


def legacy_modules() -> tuple[str, ...]:
    """Import names of the toolkits that need ``labkit.compat`` (the start-up hook watches them)."""
    return tuple(tk.module for tk in TOOLKITS.values() if tk.compat)


def modules() -> tuple[str, ...]:
    """Every import name the registry knows (toolkits, and what the comparison's rows need)."""
    names = [tk.module for tk in TOOLKITS.values()] + [m for e in ENTRIES.values() for m in e.modules]
    return tuple(dict.fromkeys(names))


# --- finding without importing -----------------------------------------------------------------

def installed(module: str) -> bool:
    """Is ``module`` importable? Looks on sys.path without running any import hook."""
    if module in sys.modules:
        return True

    def real(spec):   # a bare folder of that name on sys.path (a namespace package, e.g. runs/caffe/) is none
        return spec is not None and spec.loader is not None

    try:
        if real(importlib.machinery.PathFinder.find_spec(module)):
            return True
        return real(importlib.util.find_spec(module))   # other finders (editable installs)
    except (ImportError, ValueError):
        return False


@lru_cache(maxsize=None)
def dist_version(module: str) -> str | None:
    """The installed distribution's version, read from its metadata (no import)."""
    import importlib.metadata   # not at module level: the start-up hook imports this module

    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        pass
    for dist in importlib.metadata.packages_distributions().get(module, []):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def version_of(name: str) -> str | None:
    """A toolkit's version without importing it: the loaded module's if imported, else metadata."""
    try:
        module = TOOLKITS[resolve(name)].module
    except ValueError:
        module = name
    loaded = sys.modules.get(module)
    return getattr(loaded, "__version__", None) or dist_version(module)


def versions_for(name: str) -> dict[str, str | None]:
    """``{module: version}`` for a toolkit or a comparison row (its ``shown`` modules), no import."""
    modules = ENTRIES[name].shown if name in ENTRIES else (name,)
    return {m: version_of(m) for m in modules}
