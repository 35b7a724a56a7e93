"""What each toolkit alone can say about its devices: the small questions behind the device table.

Each toolkit gets a :class:`Questions`: ``gpus(module)`` (names of the accelerators it sees,
``[]`` for none, None when it cannot tell), ``cuda(module)`` and ``cudnn(module)`` (versions
it reports) and ``notes(module)`` (one short line). Each takes the imported module, so
nothing here imports a toolkit. ``labkit.toolkits`` attaches them to the registry;
``labkit.device`` asks them and writes the table once for all.
"""
from __future__ import annotations

import importlib
import os
import re
import sys
from types import ModuleType
from typing import Callable, NamedTuple

Question = Callable[[ModuleType], object]


class Questions(NamedTuple):
    """A toolkit's answers about devices; any may be None (the toolkit cannot tell)."""

    gpus: Question | None = None
    cuda: Question | None = None
    cudnn: Question | None = None
    notes: Question | None = None


def cuda_str(v) -> str | None:
    """12040 -> '12.4' (the integer CUDA runtimes report)."""
    if v in (None, 0, "", "False"):
        return None
    if isinstance(v, int):
        return f"{v // 1000}.{(v % 1000) // 10}"
    return str(v)


def cudnn_str(v) -> str | None:
    """90100 -> '9.1.0' (cuDNN >= 9), 8902 -> '8.9.2' (cuDNN 8)."""
    if v in (None, 0, "", "False"):
        return None
    if isinstance(v, int):
        major, rest = (v // 10000, v % 10000) if v >= 10000 else (v // 1000, v % 1000)
        return f"{major}.{rest // 100}.{rest % 100}"
    return str(v)


# --- the adapters: only what differs ---------------------------------------------------------

def _torch_gpus(torch):
    if torch.cuda.is_available():
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    return ["Apple MPS"] if mps is not None and mps.is_available() else []


def _torch_cuda(torch):
    if torch.version.hip:
        return f"ROCm {torch.version.hip}"
    return torch.version.cuda


def _torch_cudnn(torch):
    return cudnn_str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else None


def _torch_notes(torch):
    build = "" if (torch.version.cuda or torch.version.hip) else "CPU-only build, "
    return f"{build}{torch.get_num_threads()} threads"


def _tf_gpus(tf):
    found = tf.config.list_physical_devices("GPU")
    return [tf.config.experimental.get_device_details(d).get("device_name", d.name) for d in found]


def _tf_build(tf) -> dict:
    return dict(tf.sysconfig.get_build_info())


def _tf_notes(tf):
    info = _tf_build(tf)
    return "CUDA build" if info.get("is_cuda_build") else "CPU-only build"


def _keras_backend(keras) -> tuple[str, ModuleType | None, Questions | None]:
    name = keras.backend.backend()
    return name, sys.modules.get(name), KERAS_BACKENDS.get(name)


def _keras_delegate(question: str):
    """Keras sees what its backend sees: ask the backend's questions."""
    def ask(keras):
        name, module, questions = _keras_backend(keras)
        fn = getattr(questions, question, None) if questions else None
        if fn is None or module is None:
            return [] if question == "gpus" and name == "numpy" else None
        return fn(module)
    return ask


def _keras_notes(keras):
    name, module, _ = _keras_backend(keras)
    chosen = ("KERAS_BACKEND" if os.environ.get("KERAS_BACKEND")
              else "keras.json" if os.path.exists(os.path.join(
                  os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "keras.json"))
              else "default")
    version = getattr(module, "__version__", "?") if module else "?"
    return f"backend: {name} {version} (from {chosen})"


def _jax_gpus(jax):
    names = []
    for platform_name in ("gpu", "tpu"):
        try:
            names += [d.device_kind for d in jax.devices(platform_name)]
        except RuntimeError:     # "Unknown backend": no such platform here
            pass
    return names


def _jax_versions(jax):
    from jax._src.lib import cuda_versions   # private, but the only place jax reports them

    return cuda_versions if cuda_versions is not None and _jax_gpus(jax) else None


def _jax_cuda(jax):
    v = _jax_versions(jax)
    return cuda_str(v.cuda_runtime_get_version()) if v else None


def _jax_cudnn(jax):
    v = _jax_versions(jax)
    return cudnn_str(v.cudnn_get_version()) if v else None


def _jax_notes(jax):
    import jaxlib

    return f"jaxlib {jaxlib.__version__}, default backend: {jax.default_backend()}"


def _theano_gpus(module):
    theano = sys.modules["theano"]
    device = str(theano.config.device)
    return [device] if device.startswith(("cuda", "gpu", "opencl")) else []


def _theano_cudnn(module):
    theano = sys.modules["theano"]
    if not _theano_gpus(theano):
        return None
    from theano.gpuarray import dnn

    return cudnn_str(dnn.version()) if dnn.dnn_present() else None


def _theano_notes(module):
    theano = sys.modules["theano"]
    c = theano.config
    blas = c.blas__ldflags or "NumPy fallback"
    on = f"runs on Theano {theano.__version__}, " if module is not theano else ""
    return f"{on}device={c.device}, floatX={c.floatX}, BLAS {blas}"


def _chainer_cupy(chainer):
    from chainer.backends import cuda

    return cuda.cupy if cuda.available else None


def _chainer_gpus(chainer):
    cupy = _chainer_cupy(chainer)
    if cupy is None:
        return []
    rt = cupy.cuda.runtime
    return [rt.getDeviceProperties(i)["name"].decode() for i in range(rt.getDeviceCount())]


def _chainer_cuda(chainer):
    cupy = _chainer_cupy(chainer)
    return cuda_str(cupy.cuda.runtime.runtimeGetVersion()) if cupy is not None else None


def _chainer_cudnn(chainer):
    from chainer.backends import cuda

    return cudnn_str(cuda.cupy.cuda.cudnn.getVersion()) if cuda.cudnn_enabled else None


def _chainer_notes(chainer):
    cupy = _chainer_cupy(chainer)
    return f"CuPy {cupy.__version__}" if cupy is not None else "no CuPy: CPU only"


def _mxnet_features(mx):
    return mx.runtime.Features()


def _mxnet_gpus(mx):
    return [f"gpu({i})" for i in range(mx.context.num_gpus())]


def _mxnet_cuda(mx):
    return "built in" if _mxnet_features(mx).is_enabled("CUDA") else None


def _mxnet_cudnn(mx):
    return "built in" if _mxnet_features(mx).is_enabled("CUDNN") else None


def _paddle_gpus(paddle):
    if not paddle.device.is_compiled_with_cuda():
        return []
    return [paddle.device.cuda.get_device_name(i) for i in range(paddle.device.cuda.device_count())]


def _cv2_build(cv2, what: str) -> str | None:
    for line in cv2.getBuildInformation().splitlines():
        name, _, value = line.strip().partition(":")
        if name.strip() == what and value.strip().startswith("YES"):
            m = re.search(r"ver ([\d.]+)", value)
            return m.group(1) if m else "built in"
    return None


def _cv2_gpus(cv2):
    n = cv2.cuda.getCudaEnabledDeviceCount()
    return [cv2.cuda.DeviceInfo(i).name() for i in range(n)]


def _ort_gpus(ort):
    cpu = {"CPUExecutionProvider", "AzureExecutionProvider"}
    return [p.replace("ExecutionProvider", "") for p in ort.get_available_providers() if p not in cpu]


def _ort_info(ort, what):
    for name in ("build_and_package_info", "version_info"):
        try:
            info = importlib.import_module(f"onnxruntime.capi.{name}")
        except ImportError:
            continue
        if getattr(info, what, None):
            return str(getattr(info, what))
    return None


def _ort_notes(ort):
    providers = ort.get_available_providers()
    return "providers: " + ", ".join(p.replace("ExecutionProvider", "") for p in providers)


def _convnetjs_gpus(node):
    node.check()          # Node missing, too old, or `npm ci` not run: the row says what to run
    return []             # plain JavaScript on the CPU


def _convnetjs_notes(node):
    return f"runs in Node {node.versions()['node']}, one JavaScript thread"


def _h2o_gpus(h2o):
    return []             # H2O's Deep Learning runs on the CPU (its XGBoost alone can use a GPU)


def _h2o_notes(h2o):
    from labkit import jvm

    java = jvm.check_java(jvm.H2O_JAVA)      # missing or unsupported: the row says what to install
    return f"runs in a JVM (Java {java.major}, {java.path}); Deep Learning on the CPU, no convolutions"


def _nd4j_gpus(nd4j):
    from labkit import nd4j as bridge

    jars = bridge.classpath()              # jars or Guava missing: the row says what to install
    return None if any("nd4j-cuda" in j for j in jars) else []     # nd4j-native only: the CPU


def _nd4j_notes(nd4j):
    from labkit import nd4j as bridge

    found = bridge.check()                 # Java missing or unsupported: the row says what to install
    return (f"runs in a JVM through JPype, in a child process (Java {found['java_major']}); "
            f"{len(found['classpath'])} jars, the CPU backend only; no DL4J layers")


def _nolearn_gpus(nolearn):
    return _theano_gpus(nolearn) if "theano" in sys.modules else None   # Theano is loaded by nolearn.lasagne


def _nolearn_notes(nolearn):
    if "theano" not in sys.modules:
        return "NeuralNet runs Lasagne on Theano (import nolearn.lasagne): see their rows"
    return _theano_notes(nolearn)


def _skorch_delegate(question):
    """skorch computes with PyTorch (imported by skorch itself): ask PyTorch's question."""
    return lambda skorch: question(sys.modules["torch"])


TORCH = Questions(_torch_gpus, _torch_cuda, _torch_cudnn, _torch_notes)
TENSORFLOW = Questions(_tf_gpus, lambda tf: _tf_build(tf).get("cuda_version"),
                       lambda tf: _tf_build(tf).get("cudnn_version"), _tf_notes)
JAX = Questions(_jax_gpus, _jax_cuda, _jax_cudnn, _jax_notes)
#: Keras's backends, by the name ``keras.backend.backend()`` gives.
KERAS_BACKENDS = {"tensorflow": TENSORFLOW, "torch": TORCH, "jax": JAX}
KERAS = Questions(_keras_delegate("gpus"), _keras_delegate("cuda"), _keras_delegate("cudnn"), _keras_notes)
THEANO = Questions(_theano_gpus, None, _theano_cudnn, _theano_notes)
CHAINER = Questions(_chainer_gpus, _chainer_cuda, _chainer_cudnn, _chainer_notes)
MXNET = Questions(_mxnet_gpus, _mxnet_cuda, _mxnet_cudnn, None)
PADDLE = Questions(_paddle_gpus, lambda p: cuda_str(p.version.cuda()), lambda p: cudnn_str(p.version.cudnn()), None)
CAFFE = Questions(notes=lambda caffe: "pycaffe does not report devices; caffe.set_mode_gpu() selects the GPU")
OPENCV = Questions(_cv2_gpus, lambda cv2: _cv2_build(cv2, "NVIDIA CUDA"), lambda cv2: _cv2_build(cv2, "cuDNN"),
                   lambda cv2: f"{cv2.getNumThreads()} threads")
#: ConvNetJS runs in Node; its "module" is labkit.node, the bridge that finds and starts it.
CONVNETJS = Questions(_convnetjs_gpus, None, None, _convnetjs_notes)
#: H2O's server is Java: the h2o module is its client; the probe checks the Java it needs.
H2O = Questions(_h2o_gpus, None, None, _h2o_notes)
#: ND4J runs in a JVM in a child process (labkit.nd4j); the nd4j module only locates its jars.
ND4J = Questions(_nd4j_gpus, None, None, _nd4j_notes)
#: Nolearn's NeuralNet and skorch's wrap another toolkit: they see that toolkit's devices.
NOLEARN = Questions(_nolearn_gpus, None, None, _nolearn_notes)
SKORCH = Questions(_skorch_delegate(_torch_gpus), _skorch_delegate(_torch_cuda), _skorch_delegate(_torch_cudnn),
                   lambda skorch: "a scikit-learn wrapper: computes with PyTorch (see its row); device='cuda' "
                                  "moves the module")
ONNXRUNTIME = Questions(_ort_gpus, lambda ort: _ort_info(ort, "cuda_version"),
                        lambda ort: _ort_info(ort, "cudnn_version"), _ort_notes)


def gpu_peak_mib() -> tuple[float | None, str]:
    """This process's peak GPU memory (MiB) and what read it: the largest peak counter a toolkit
    it has imported keeps (PyTorch's allocator, TensorFlow's, JAX's device stats, Paddle's), else
    nvidia-smi's figure for this process now (allocators keep their pools: near the peak; None
    without nvidia-smi). The comparison's worker asks it at the end of a GPU row. Written for GPU
    runs and NOT tested on a GPU: this project's machines have none."""
    from labkit.machine import gpu_memory_mib

    mods, peaks, failed = sys.modules, [], ""
    try:
        if "torch" in mods and mods["torch"].cuda.is_available() and mods["torch"].cuda.is_initialized():
            peaks.append((mods["torch"].cuda.max_memory_allocated(), "torch.cuda.max_memory_allocated"))
        if "tensorflow" in mods:
            tf = mods["tensorflow"]
            got = [tf.config.experimental.get_memory_info(d.name)["peak"] for d in tf.config.list_logical_devices("GPU")]
            peaks += [(sum(got), "tf.config.experimental.get_memory_info")] if got else []
        if "jax" in mods:
            got = [(d.memory_stats() or {}).get("peak_bytes_in_use", 0) for d in mods["jax"].devices()
                   if d.platform == "gpu"]
            peaks += [(sum(got), "jax Device.memory_stats")] if got else []
        if "paddle" in mods and mods["paddle"].device.cuda.device_count():
            peaks.append((mods["paddle"].device.cuda.max_memory_allocated(), "paddle.device.cuda.max_memory_allocated"))
    except Exception as err:            # a counter that fails must not lose the run's other figures
        peaks, failed = [], f" (a toolkit's own counter failed: {type(err).__name__}: {err})"
    if peaks and max(peaks)[0] > 0:
        value, source = max(peaks)
        return value / 2 ** 20, source
    return gpu_memory_mib(os.getpid()), "nvidia-smi, this process at the end" + failed
