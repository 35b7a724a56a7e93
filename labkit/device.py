"""Which toolkits are installed, which devices each one sees, and what machine this is.

    >>> from labkit import device
    >>> device.table()                   # every toolkit: one row each (HTML in Jupyter)
    >>> device.table(["torch"])          # only the toolkits a chapter uses
    >>> print(device.report_text())      # what ``python -m labkit doctor`` prints

The table is written once. Each toolkit's adapter (a ``Toolkit`` in ``TOOLKITS``) answers
small questions about its imported module: which GPUs it sees, which CUDA and cuDNN it
reports, and a short note. A toolkit that is not installed gives a row saying so; one
whose import fails gives a row with the error's first line. Nothing here raises because
of a toolkit.

Where a probe runs: importing every toolkit costs seconds and memory (TensorFlow alone
about 4 s and 800 MB here), starts each one's thread pools, and JAX on a GPU reserves
most of the GPU's memory when it first lists devices. So a toolkit the caller has not
imported yet is probed in a child Python process (all children run side by side), and
the caller's process stays as it was. A toolkit the caller has already imported is
probed in place: that is free and reports the state the caller is really in.
"""
from __future__ import annotations

import html
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import json
import os
import pickle
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from types import ModuleType
from typing import Callable, Iterable

# --- one row per toolkit ---------------------------------------------------------------------


@dataclass
class Row:
    """What one toolkit reports. ``gpu`` is None when the toolkit cannot tell."""

    toolkit: str
    key: str
    installed: bool
    version: str | None = None
    gpu: bool | None = None
    devices: list[str] = field(default_factory=list)
    cuda: str | None = None
    cudnn: str | None = None
    notes: str = ""
    error: str | None = None
    seconds: float | None = None      # import + questions, in the process that probed
    isolated: bool = False            # probed in a child process

    @property
    def usable(self) -> bool:
        return self.installed and self.error is None


@dataclass(frozen=True)
class Toolkit:
    """An adapter: how to find a toolkit and the small questions only it can answer.

    Each question takes the imported module. ``gpus`` returns the names of the
    accelerators the toolkit sees (an empty list for none, None when it cannot tell).
    """

    name: str
    module: str
    aliases: tuple[str, ...] = ()
    gpus: Callable[[ModuleType], list[str] | None] | None = None
    cuda: Callable[[ModuleType], str | None] | None = None
    cudnn: Callable[[ModuleType], str | None] | None = None
    notes: Callable[[ModuleType], str] | None = None
    gpu_hint: str = ""
    optional: str = ""                # why a missing install is expected, if it is


def _cuda_str(v) -> str | None:
    """12040 -> '12.4' (the integer CUDA runtimes report)."""
    if v in (None, 0, "", "False"):
        return None
    if isinstance(v, int):
        return f"{v // 1000}.{(v % 1000) // 10}"
    return str(v)


def _cudnn_str(v) -> str | None:
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
    return _cudnn_str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else None


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


def _keras_backend(keras) -> tuple[str, ModuleType | None, Toolkit | None]:
    name = keras.backend.backend()
    key = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}.get(name)
    return name, sys.modules.get(name), TOOLKITS.get(key) if key else None


def _keras_delegate(question: str):
    """Keras sees what its backend sees: ask the backend's adapter."""
    def ask(keras):
        name, module, adapter = _keras_backend(keras)
        fn = getattr(adapter, question, None) if adapter else None
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
    return _cuda_str(v.cuda_runtime_get_version()) if v else None


def _jax_cudnn(jax):
    v = _jax_versions(jax)
    return _cudnn_str(v.cudnn_get_version()) if v else None


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

    return _cudnn_str(dnn.version()) if dnn.dnn_present() else None


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
    return _cuda_str(cupy.cuda.runtime.runtimeGetVersion()) if cupy is not None else None


def _chainer_cudnn(chainer):
    from chainer.backends import cuda

    return _cudnn_str(cuda.cupy.cuda.cudnn.getVersion()) if cuda.cudnn_enabled else None


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


_CPU_FINE = "The workbook runs on the CPU; a GPU only makes training faster."

#: Every toolkit the workbook knows, in the order the table shows them.
TOOLKITS: dict[str, Toolkit] = {
    "torch": Toolkit(
        "PyTorch", "torch", ("pytorch",), _torch_gpus, _torch_cuda, _torch_cudnn, _torch_notes,
        gpu_hint="Install a CUDA build of torch: pick your CUDA version at "
                 "https://pytorch.org/get-started/locally/ (e.g. pip install torch "
                 "--index-url https://download.pytorch.org/whl/cu126). The workbook's "
                 "requirements.lock pins the CPU build."),
    "tensorflow": Toolkit(
        "TensorFlow", "tensorflow", ("tf",), _tf_gpus,
        lambda tf: _tf_build(tf).get("cuda_version"), lambda tf: _tf_build(tf).get("cudnn_version"),
        _tf_notes,
        gpu_hint="pip install 'tensorflow[and-cuda]' (Linux; on Windows use WSL2: native "
                 "Windows GPU support ended with TensorFlow 2.10). tensorflow-cpu never sees a GPU."),
    "keras": Toolkit(
        "Keras", "keras", (), _keras_delegate("gpus"), _keras_delegate("cuda"),
        _keras_delegate("cudnn"), _keras_notes,
        gpu_hint="Keras uses its backend's devices: give the backend (see its row) a GPU build; "
                 "choose the backend with KERAS_BACKEND before importing keras."),
    "jax": Toolkit(
        "JAX", "jax", (), _jax_gpus, _jax_cuda, _jax_cudnn, _jax_notes,
        gpu_hint="pip install -U 'jax[cuda12]' (Linux) to add the CUDA plugin."),
    "theano": Toolkit(
        "Theano", "theano", ("theano-pymc",), _theano_gpus, None, _theano_cudnn, _theano_notes,
        gpu_hint="Theano needs libgpuarray/pygpu and THEANO_FLAGS=device=cuda; it is "
                 "unmaintained, so the workbook runs it on the CPU."),
    "lasagne": Toolkit(
        "Lasagne", "lasagne", (), _theano_gpus, None, _theano_cudnn, _theano_notes,
        gpu_hint="Lasagne runs wherever Theano does (see the Theano row)."),
    "chainer": Toolkit(
        "Chainer", "chainer", (), _chainer_gpus, _chainer_cuda, _chainer_cudnn, _chainer_notes,
        gpu_hint="Chainer uses CuPy for the GPU: pip install cupy-cuda12x (matching your CUDA)."),
    "mxnet": Toolkit(
        "MXNet", "mxnet", (), _mxnet_gpus, _mxnet_cuda, _mxnet_cudnn, None,
        gpu_hint="MXNet is retired; its last CUDA wheels (mxnet-cu112) need CUDA 11.2.",
        optional="retired (Apache Attic, 2023): optional here"),
    "paddle": Toolkit(
        "PaddlePaddle", "paddle", ("paddlepaddle",), _paddle_gpus,
        lambda p: _cuda_str(p.version.cuda()), lambda p: _cudnn_str(p.version.cudnn()), None,
        gpu_hint="pip install paddlepaddle-gpu (see paddlepaddle.org.cn for the CUDA variants).",
        optional="optional"),
    "caffe": Toolkit(
        "Caffe (pycaffe)", "caffe", ("pycaffe",), None, None, None,
        lambda caffe: "pycaffe does not report devices; caffe.set_mode_gpu() selects the GPU",
        gpu_hint="Caffe uses a GPU only when built from source with CUDA.",
        optional="optional: built from source, not on PyPI"),
    "opencv": Toolkit(
        "OpenCV", "cv2", ("cv2", "opencv-python"), _cv2_gpus,
        lambda cv2: _cv2_build(cv2, "NVIDIA CUDA"), lambda cv2: _cv2_build(cv2, "cuDNN"),
        lambda cv2: f"{cv2.getNumThreads()} threads",
        gpu_hint="OpenCV's PyPI wheels are CPU-only; its CUDA modules need a source build."),
    "onnxruntime": Toolkit(
        "ONNX Runtime", "onnxruntime", ("ort",), _ort_gpus,
        lambda ort: _ort_info(ort, "cuda_version"), lambda ort: _ort_info(ort, "cudnn_version"),
        _ort_notes, gpu_hint="pip install onnxruntime-gpu (in place of onnxruntime).",
        optional="optional"),
}

_BUILTIN = dict(TOOLKITS)   # a child process is sent the key of these, the whole adapter of others


def resolve(name: str) -> str:
    """The ``TOOLKITS`` key for a name a reader might type ('pytorch', 'tf', 'cv2', ...)."""
    wanted = name.strip().lower()
    for key, tk in TOOLKITS.items():
        if wanted in {key, tk.module.lower(), tk.name.lower(), *tk.aliases}:
            return key
    raise ValueError(f"unknown toolkit {name!r}; labkit.device knows: {', '.join(TOOLKITS)}")


# --- finding and probing ---------------------------------------------------------------------

def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def _installed(module: str) -> bool:
    """Is ``module`` importable? Looks on sys.path without running any import hook."""
    if module in sys.modules:
        return True
    try:
        if importlib.machinery.PathFinder.find_spec(module) is not None:
            return True
        return importlib.util.find_spec(module) is not None   # other finders (editable installs)
    except (ImportError, ValueError):
        return False


@lru_cache(maxsize=None)
def _dist_version(module: str) -> str | None:
    """The installed distribution's version, read from its metadata (no import)."""
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
    return getattr(loaded, "__version__", None) or _dist_version(module)


def _probe_here(key: str, tk: Toolkit) -> Row:
    """Probe in this process: find, import, ask each question. Never raises."""
    start = time.perf_counter()
    row = Row(tk.name, key, installed=_installed(tk.module))
    if not row.installed:
        row.notes = tk.optional
        return row
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module(tk.module)
    except (Exception, SystemExit) as err:
        row.error, row.version = _one_line(err), _dist_version(tk.module)
        row.seconds = time.perf_counter() - start
        return row
    row.version = str(getattr(module, "__version__", "") or _dist_version(tk.module) or "?")
    problems, notes = [], ""
    for question in ("gpus", "cuda", "cudnn", "notes"):
        fn = getattr(tk, question)
        if fn is None:
            continue
        try:
            answer = fn(module)
        except Exception as err:          # one question failing must not hide the others
            problems.append(f"{question}: {_one_line(err)}")
            continue
        if question == "gpus":
            row.gpu = None if answer is None else bool(answer)
            row.devices = list(answer or [])
        elif question == "notes":
            notes = answer or ""
        else:
            setattr(row, question, _cuda_str(answer) if question == "cuda" else _cudnn_str(answer))
    row.notes = "; ".join([n for n in [notes, *problems] if n])
    row.seconds = time.perf_counter() - start
    return row


def _child_main() -> None:
    """Entry point of a probe's child process: a pickled (key, Toolkit) in, one JSON row out."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                        # a toolkit's own prints go to stderr, not into our JSON
    key, tk = pickle.load(sys.stdin.buffer)
    row = _probe_here(key, tk or _BUILTIN[key])
    row.isolated = True
    out.write(json.dumps(asdict(row)))
    out.flush()


def _payload(key: str, tk: Toolkit) -> bytes | None:
    """What the child needs: the key of a registered adapter, else the pickled adapter."""
    try:
        return pickle.dumps((key, None if _BUILTIN.get(key) is tk else tk))
    except (pickle.PicklingError, AttributeError, TypeError):
        return None                      # e.g. an adapter built from lambdas in a notebook


def _probe_isolated(key: str, tk: Toolkit, payload: bytes, timeout: float) -> Row:
    code = ("import sys; P = " + repr(sys.path) + "; sys.path[:] = P + [p for p in sys.path "
            "if p not in P]; from labkit.device import _child_main; _child_main()")
    start = time.perf_counter()
    row = Row(tk.name, key, installed=True, isolated=True)
    try:
        proc = subprocess.run([sys.executable, "-c", code], input=payload,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        row.error = f"probe timed out after {timeout:g} s"
        row.version = _dist_version(tk.module)
        return row
    if proc.returncode == 0:
        try:
            return Row(**json.loads(proc.stdout))
        except (ValueError, TypeError) as err:
            row.error = f"probe returned no row ({_one_line(err)})"
    else:
        rc = proc.returncode
        how = f"killed by {signal.Signals(-rc).name}" if rc < 0 else f"exited with code {rc}"
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or [""])[-1][:200]
        row.error = f"probe process {how}" + (f": {last}" if last else "")
    row.version, row.seconds = _dist_version(tk.module), time.perf_counter() - start
    return row


def probe(name: str, *, isolate: bool | None = None, timeout: float = 180) -> Row:
    """One toolkit's row. ``isolate`` None: in a child process unless already imported here."""
    key = resolve(name)
    return _probe_many([(key, TOOLKITS[key])], isolate, timeout)[0]


def _probe_many(items: list[tuple[str, Toolkit]], isolate: bool | None, timeout: float) -> list[Row]:
    rows: list[Row | None] = [None] * len(items)
    away = {}
    for i, (key, tk) in enumerate(items):
        here = not isolate if isolate is not None else tk.module in sys.modules
        payload = None if here or not _installed(tk.module) else _payload(key, tk)
        if payload is None:              # in this thread: imports must not race each other
            rows[i] = _probe_here(key, tk)
        else:
            away[i] = payload
    if away:
        workers = min(len(away), max(2, _usable_cpus()))   # side by side, one per CPU
        with ThreadPoolExecutor(workers) as pool:
            done = pool.map(lambda i: _probe_isolated(*items[i], away[i], timeout), away)
            for i, row in zip(away, done):
                rows[i] = row
    return rows


# --- the machine ---------------------------------------------------------------------------

def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def cpuinfo_blocks(text: str | None = None) -> list[dict]:
    """``/proc/cpuinfo`` (or ``text`` in its format) as one dict of fields per processor."""
    text = _read("/proc/cpuinfo") if text is None else text
    return [dict(re.findall(r"^([^:\n]+?)\s*:\s*(.*)$", b, re.M)) for b in text.split("\n\n") if b.strip()]


def cpu_flags(block: dict) -> set[str]:
    """The instruction-set flags of one processor block (x86 ``flags``, Arm ``Features``)."""
    return set((block.get("flags") or block.get("Features") or "").split())


def _cpuinfo() -> dict:
    blocks = cpuinfo_blocks()
    first = blocks[0] if blocks else {}
    flags = cpu_flags(first)
    cores = {(b.get("physical id"), b.get("core id")) for b in blocks if "core id" in b}
    simd = next((name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"),
                                         ("asimd", "NEON")) if flag in flags), None)
    name = first.get("model name")
    if name is None and platform.system() == "Darwin":
        try:
            name = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                  text=True, timeout=5).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            pass
    n_cores = len(cores) or None
    if n_cores is None:
        try:
            import psutil

            n_cores = psutil.cpu_count(logical=False)
        except ImportError:
            pass
    return {"cpu": name or platform.processor() or platform.machine(), "simd": simd, "cores": n_cores}


def cpu_model() -> str:
    """The processor's name as the system reports it (``/proc/cpuinfo`` on Linux)."""
    return _cpuinfo()["cpu"]


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask; os.cpu_count() where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _cgroup_limits() -> tuple[float | None, int | None]:
    """(CPUs, bytes) a container may use, when a cgroup limits them (Binder, Docker)."""
    cpus = mem = None
    quota = _read("/sys/fs/cgroup/cpu.max").split()
    if len(quota) == 2 and quota[0] != "max":
        cpus = int(quota[0]) / int(quota[1])
    limit = _read("/sys/fs/cgroup/memory.max").strip() or _read(
        "/sys/fs/cgroup/memory/memory.limit_in_bytes").strip()
    if limit.isdigit() and int(limit) < 1 << 60:
        mem = int(limit)
    return cpus, mem


def _memory() -> tuple[int | None, int | None]:
    text = _read("/proc/meminfo")
    vals = {k: int(v) * 1024 for k, v in re.findall(r"^(MemTotal|MemAvailable):\s*(\d+) kB", text, re.M)}
    if vals:
        return vals.get("MemTotal"), vals.get("MemAvailable")
    try:
        import psutil

        vm = psutil.virtual_memory()
        return vm.total, vm.available
    except ImportError:
        return None, None


def nvidia_smi(*args: str, timeout: float = 15) -> str | None:
    """``nvidia-smi``'s output (with ``args``), or None when it is not on PATH or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


@lru_cache(maxsize=1)
def _static_info() -> dict:
    os_name = re.search(r'^PRETTY_NAME="?([^"\n]+)', _read("/etc/os-release"), re.M)
    gpus = nvidia_smi("--query-gpu=name,memory.total,driver_version", "--format=csv,noheader")
    header = nvidia_smi() if gpus else None
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", header or "")
    cpus, mem = _cgroup_limits()
    from labkit import __version__

    return {
        "hostname": socket.gethostname(),
        "os": f"{os_name.group(1) if os_name else platform.system()} ({platform.platform(terse=True)})",
        "arch": platform.machine(),
        "python": platform.python_version(),
        "executable": sys.executable,
        **_cpuinfo(),
        "threads": os.cpu_count(),
        "usable_threads": _usable_cpus(),
        "cpu_limit": cpus,
        "memory_limit": mem,
        "nvidia_gpus": [g.strip() for g in gpus.strip().splitlines()] if gpus else None,
        "cuda_driver": cuda.group(1) if cuda else None,
        "labkit": __version__,
    }


def machine_info(*, blas: bool = True) -> dict:
    """The machine in one dict: CPU, threads, memory, OS, Python, NumPy and its BLAS, NVIDIA GPUs.

    ``nvidia_gpus`` is None when ``nvidia-smi`` is absent, else "name, memory, driver" lines.
    ``blas`` (threadpoolctl) lists the BLAS libraries loaded in this process.
    """
    info = dict(_static_info())
    info["memory"], info["memory_available"] = _memory()
    info["env_threads"] = {k: os.environ[k] for k in (
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS") if k in os.environ}
    if blas:
        import numpy

        info["numpy"] = numpy.__version__
        try:
            from threadpoolctl import threadpool_info

            libs = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
            mine = [lib for lib in libs if "numpy" in lib.get("filepath", "")]  # NumPy's own wheel
            keys = ("internal_api", "version", "num_threads", "architecture")
            info["blas"] = [{k: lib.get(k) for k in keys} for lib in mine or libs]
        except ImportError:
            info["blas"] = None
    return info


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**30:.1f} GiB"


def _machine_lines(m: dict) -> list[tuple[str, str]]:
    cpu = f"{m['cpu']}, {m['cores'] or '?'} cores / {m['threads']} threads"
    if m["usable_threads"] != m["threads"]:
        cpu += f" ({m['usable_threads']} usable)"
    if m["cpu_limit"]:
        cpu += f", limited to {m['cpu_limit']:g} CPUs"
    if m.get("simd"):
        cpu += f", {m['simd']}"
    mem = f"{_gib(m['memory'])} total, {_gib(m['memory_available'])} available"
    if m["memory_limit"]:
        mem += f", limited to {_gib(m['memory_limit'])}"
    lines = [("CPU", cpu), ("Memory", mem), ("OS", m["os"]), ("Python", f"{m['python']} ({m['executable']})")]
    if "numpy" in m:
        libs = ", ".join(
            f"{b['internal_api']} {b['version']} ({b['architecture']}, {b['num_threads']} threads)"
            for b in m.get("blas") or []) or "not reported (no threadpoolctl)"
        lines.append(("NumPy", f"{m['numpy']}, BLAS: {libs}"))
    if m["env_threads"]:
        lines.append(("Threads", ", ".join(f"{k}={v}" for k, v in m["env_threads"].items())))
    if m["nvidia_gpus"] is None:
        lines.append(("GPU", "no NVIDIA driver (nvidia-smi not found)"))
    else:
        gpus = "; ".join(m["nvidia_gpus"]) or "nvidia-smi lists none"
        lines.append(("GPU", f"{gpus} (CUDA driver {m['cuda_driver'] or '?'})"))
    return lines


# --- hints ----------------------------------------------------------------------------------

def gpu_hints(rows: Iterable[Row], *, driver: bool | None = None) -> list[str]:
    """What to check when toolkits see no GPU; empty when there is nothing to say.

    ``driver``: whether an NVIDIA driver is present (default: is ``nvidia-smi`` on PATH).
    """
    rows = [r for r in rows if r.usable]
    if driver is None:
        driver = shutil.which("nvidia-smi") is not None
    hints = []
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        hints.append(f"CUDA_VISIBLE_DEVICES={hidden!r} hides every GPU from CUDA; unset it "
                     "before starting Python to let the toolkits see them.")
    seeing = [r for r in rows if r.gpu]
    if not seeing and not driver:
        return hints + [
            "No GPU found, and no NVIDIA driver (nvidia-smi is not on PATH). " + _CPU_FINE,
            "On Colab: Runtime > Change runtime type > a GPU, then run the notebook again from the top.",
            "On your own machine with an NVIDIA card: install the NVIDIA driver and check that "
            "`nvidia-smi` lists the card; then install a CUDA build of the toolkit (hints per "
            "toolkit: run this again once the driver works).",
        ]
    if not seeing:
        hints.append("The NVIDIA driver is there (nvidia-smi works) but no toolkit sees a GPU: "
                     "the installed toolkits are CPU builds. " + _CPU_FINE)
    for r in rows:
        if r.gpu is False:
            adapter = TOOLKITS.get(r.key)
            how = adapter.gpu_hint if adapter and adapter.gpu_hint else "Install its GPU build."
            build = "" if r.cuda else " (a CPU-only build)"
            hints.append(f"{r.toolkit} {r.version}{build} sees no GPU. {how}")
    return hints


# --- the table ------------------------------------------------------------------------------

def _text_table(headers: list[str], rows: list[list[str]], width: int = 60) -> str:
    """A plain-text table; cells longer than ``width`` are cut with '...', except in the last column."""
    fit = lambda c: c if len(c) <= width else c[:width - 3] + "..."  # noqa: E731
    cut = [[fit(c) for c in row[:-1]] + row[-1:] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cut)]) for i, h in enumerate(headers)]
    widths[-1] = len(headers[-1])        # the last column is not padded
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cut)])


def _html_table(headers: list[str] | None, rows: list[list[str]], styles: list[str] | None = None) -> str:
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in headers or [])
    head = f"<thead><tr>{head}</tr></thead>" if head else ""
    body = "".join(
        f"<tr style='{styles[i] if styles else ''}'>"
        + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in row) + "</tr>"
        for i, row in enumerate(rows))
    return f"<table>{head}<tbody>{body}</tbody></table>"


_HEADERS = ["Toolkit", "Version", "GPU", "Devices", "CUDA", "cuDNN", "Probe", "Notes"]


def _devices(names: list[str]) -> str:
    return ", ".join(n if k == 1 else f"{k} x {n}" for n, k in Counter(names).items())


def _cells(r: Row) -> list[str]:
    if not r.installed:
        return [r.toolkit, "not installed", "", "", "", "", "", r.notes]
    if r.error:
        return [r.toolkit, r.version or "?", "?", "", "", "", _secs(r.seconds), "import failed: " + r.error]
    gpu = {True: "yes", False: "no", None: "?"}[r.gpu]
    return [r.toolkit, r.version or "?", gpu, _devices(r.devices) or "-", r.cuda or "-",
            r.cudnn or "-", _secs(r.seconds), r.notes]


def _secs(s: float | None) -> str:
    return "" if s is None else f"{s:.1f} s"


class DeviceTable:
    """Rows (``.rows``), the machine (``.machine``) and the GPU hints (``.hints``), as one report.

    The hints are shown in full when ``show_hints`` is true, else as a one-line pointer.
    """

    def __init__(self, rows: list[Row], machine: dict | None = None, hints: list[str] | None = None,
                 show_hints: bool = True):
        self.rows, self.machine, self.hints, self.show_hints = rows, machine, hints or [], show_hints

    def _hints_pointer(self) -> str:
        return f"GPU hints: {len(self.hints)} (in this table's .hints; the doctor prints them)"

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key: int | str) -> Row:
        if isinstance(key, int):
            return self.rows[key]
        wanted = resolve(key) if key not in {r.key for r in self.rows} else key
        for r in self.rows:
            if r.key == wanted:
                return r
        raise KeyError(f"{key!r} is not in this table (it has {', '.join(r.key for r in self.rows)})")

    def text(self) -> str:
        parts = []
        if self.machine:
            lines = _machine_lines(self.machine)
            parts.append("\n".join(f"{k:8s} {v}" for k, v in lines))
        parts.append(_text_table(_HEADERS, [_cells(r) for r in self.rows]))
        if self.hints and self.show_hints:
            parts.append("GPU hints:\n" + "\n".join(f"  - {h}" for h in self.hints))
        elif self.hints:
            parts.append(self._hints_pointer())
        return "\n\n".join(parts)

    __str__ = text

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        parts = []
        if self.machine:
            parts.append(_html_table(None, [list(kv) for kv in _machine_lines(self.machine)]))
        styles = ["color:#888" if not r.installed else "color:#b00020" if r.error else "" for r in self.rows]
        parts.append(_html_table(_HEADERS, [_cells(r) for r in self.rows], styles))
        if self.hints and self.show_hints:
            parts.append("<p><b>GPU hints</b></p><ul>" + "".join(
                f"<li>{html.escape(h)}</li>" for h in self.hints) + "</ul>")
        elif self.hints:
            parts.append(f"<p>{html.escape(self._hints_pointer())}</p>")
        return "<div>" + "".join(parts) + "</div>"


def table(toolkits: Iterable[str] | str | None = None, *, isolate: bool | None = None,
          machine: bool = True, hints: bool = False, timeout: float = 180) -> DeviceTable:
    """Probe ``toolkits`` (names; default every toolkit in ``TOOLKITS``) and return the table.

    ``isolate``: True probes each toolkit in a child process, False in this one; None (the
    default) probes here the toolkits already imported and the others in child processes.
    ``machine`` adds the machine section. ``.hints`` always holds ``gpu_hints(rows)``;
    ``hints=True`` shows them in full, else a one-line pointer when there are any.
    """
    if isinstance(toolkits, str):
        toolkits = [toolkits]
    keys = list(TOOLKITS) if toolkits is None else list(dict.fromkeys(resolve(t) for t in toolkits))
    rows = _probe_many([(k, TOOLKITS[k]) for k in keys], isolate, timeout)
    return DeviceTable(rows, machine_info() if machine else None, gpu_hints(rows), show_hints=hints)


def report_text(toolkits: Iterable[str] | None = None, **kwargs) -> str:
    """The doctor's report: machine, toolkit table, GPU hints, and ``nvidia-smi`` if present."""
    start = time.perf_counter()
    text = table(toolkits, **{"hints": True, **kwargs}).text()
    smi = nvidia_smi()
    if smi:
        text += "\n\n$ nvidia-smi\n" + smi.rstrip()
    return text + f"\n\n(probed in {time.perf_counter() - start:.1f} s)"
