"""Shims that let the 2015-2020 toolkits (Theano, Lasagne, Chainer, MXNet, Nolearn) run on today's stack.

One call, ``apply()``, arms every shim and is safe to call any number of times. In the
workbook's environment you never need to call it: ``make lab``/``make test`` install a
start-up hook (``python -m labkit compat --install-hook``) that calls it the moment
``theano``, ``lasagne`` or ``chainer`` is imported. ``report()`` says what each shim did.

=====================  ===============================================================
shim                   why it is needed
=====================  ===============================================================
numpy-aliases          Theano-PyMC 1.1.2, Chainer 7 and MXNet 1.9 use ``np.bool``,
                       ``np.int`` ..., removed in NumPy 1.24.
numpy-distutils        Chainer's start-up check imports ``numpy.distutils``, which needs
                       ``distutils.msvccompiler``; setuptools >= 74 replaces the
                       standard ``distutils`` with a copy that lacks it.
theano-blas            Theano's BLAS auto-detection also imports ``numpy.distutils``.
                       We link the system OpenBLAS when it links, else fall back to
                       Theano's NumPy-based BLAS and say so once.
theano-legacy-names    Lasagne 0.1 (2015) uses ``theano.tensor.signal.downsample``,
                       ``theano.sandbox.rng_mrg.MRG_RandomStreams`` and ``theano.gof``,
                       renamed since.
theano-pydotprint      Theano-PyMC 1.1.2's ``theano.printing`` imports its graph class
                       ``Node`` over pydot's, so ``pydotprint`` fails with "Node() takes
                       no arguments"; the name points back at pydot's node.
paddle-after-          PaddlePaddle 3.3 crashes a process that already loaded TensorFlow;
tensorflow             the import is refused with an ImportError saying what to do.
caffe-after-           Real Caffe (``make caffe``) crashes parsing a prototxt in a process
tensorflow             that already loaded TensorFlow: refused the same way.
collections-abc-       Nolearn 0.6.1 imports ``collections.Iterable``, removed in Python
aliases                3.10 (it lives in ``collections.abc``).
sklearn-cross-         Nolearn 0.6.1 imports ``KFold``, ``StratifiedKFold`` from
validation             ``sklearn.cross_validation``, removed in scikit-learn 0.20; the
                       old signatures, over ``model_selection`` (``labkit.compat_sklearn``).
nolearn-params         Nolearn 0.6.1's ``NeuralNet`` fails today's ``get_params`` and
                       ``clone`` checks (so ``GridSearchCV`` too): two removed arguments
                       are never stored, ``layers`` is re-wrapped.
=====================  ===============================================================
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import types
import warnings
from pathlib import Path

from labkit import _hook

#: What each shim did in this process: name -> one line. Filled as shims run.
STATUS: dict[str, str] = {}

_REMOVED_NUMPY_ALIASES = {
    "bool": bool, "int": int, "float": float, "complex": complex, "object": object, "str": str,
}


def numpy_aliases() -> None:
    """Restore the scalar aliases NumPy 1.24 removed (``np.bool`` is ``bool`` and so on)."""
    import numpy as np

    added = []
    for name, value in _REMOVED_NUMPY_ALIASES.items():
        with warnings.catch_warnings():  # NumPy 1.25+ warns about the future meaning of np.bool
            warnings.simplefilter("ignore", FutureWarning)
            present = hasattr(np, name)
        if not present:
            setattr(np, name, value)
            added.append(f"np.{name}")
    if "numpy-aliases" not in STATUS:
        STATUS["numpy-aliases"] = ("restored " + ", ".join(added)) if added else "nothing to do"


def numpy_distutils() -> None:
    """Make ``import numpy.distutils.system_info`` work under setuptools' own distutils.

    setuptools (>= 74) serves its own ``distutils`` in place of the standard library's,
    and that copy has no ``msvccompiler`` module, which numpy.distutils imports. We graft
    the standard library's module in under that name. Nothing is compiled by it on Linux;
    Chainer only needs the import to succeed.
    """
    if "numpy-distutils" in STATUS:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import distutils  # noqa: F401  (whichever copy this process serves)

        try:
            import distutils.msvccompiler  # noqa: F401
            STATUS["numpy-distutils"] = "nothing to do"
            return
        except ImportError:
            pass
        source = Path(sysconfig.get_paths()["stdlib"]) / "distutils" / "msvccompiler.py"
        if not source.exists():
            STATUS["numpy-distutils"] = (
                f"not applied: this Python has no standard-library distutils ({sys.version.split()[0]})")
            return
        spec = importlib.util.spec_from_file_location("distutils.msvccompiler", source)
        module = importlib.util.module_from_spec(spec)
        sys.modules["distutils.msvccompiler"] = module
        spec.loader.exec_module(module)
        distutils.msvccompiler = module
    STATUS["numpy-distutils"] = "grafted the standard library's distutils.msvccompiler"


def _openblas_links() -> tuple[bool, str]:
    """Whether a C++ program links against ``-lopenblas`` here (what Theano would do)."""
    cxx = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")
    if cxx is None:
        return False, "no C++ compiler found"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.cpp"
        src.write_text('extern "C" void sgemm_();\nint main() { sgemm_(); return 0; }\n')
        proc = subprocess.run([cxx, str(src), "-o", str(Path(tmp) / "probe"), "-lopenblas"],
                              capture_output=True, text=True)
    if proc.returncode == 0:
        return True, "-lopenblas"
    return False, (proc.stderr.strip().splitlines() or ["link failed"])[-1]


def theano_blas() -> None:
    """Set ``blas__ldflags`` in ``THEANO_FLAGS`` before Theano reads it (unless you set it)."""
    if "theano-blas" in STATUS:
        return
    flags = os.environ.get("THEANO_FLAGS", "")
    if "blas__ldflags" in flags or "blas.ldflags" in flags:
        STATUS["theano-blas"] = "left as you set it in THEANO_FLAGS"
        return
    if "theano" in sys.modules:
        STATUS["theano-blas"] = "too late: theano was imported before labkit.compat.apply()"
        return
    ok, detail = _openblas_links()
    value = "-lopenblas" if ok else ""
    os.environ["THEANO_FLAGS"] = ",".join(f for f in (flags, f"blas__ldflags={value}") if f)
    if ok:
        STATUS["theano-blas"] = "linking the system OpenBLAS (blas__ldflags=-lopenblas)"
    else:
        STATUS["theano-blas"] = f"OpenBLAS could not be linked ({detail}); using Theano's NumPy BLAS"
        warnings.warn(
            "labkit.compat: OpenBLAS could not be linked, so Theano falls back to its slower "
            f"NumPy-based BLAS ({detail}). On Debian or Ubuntu: apt-get install libopenblas-dev.",
            RuntimeWarning, stacklevel=2)


def theano_legacy_names(theano) -> None:
    """Give Theano-PyMC the names Lasagne 0.1 imports (aliases only; no behaviour changes)."""
    if "theano-legacy-names" in STATUS:
        return
    import theano.graph.basic
    import theano.sandbox.rng_mrg
    import theano.tensor.signal
    from theano.tensor.signal.pool import pool_2d

    def max_pool_2d(input, ds, ignore_border=None, st=None, padding=(0, 0), mode="max"):
        """Theano 0.7's ``downsample.max_pool_2d``, spelled with today's ``pool_2d`` names."""
        return pool_2d(input, ws=ds, ignore_border=ignore_border, stride=st, pad=padding, mode=mode)

    downsample = types.ModuleType("theano.tensor.signal.downsample",
                                  "Theano 0.7 names, provided by labkit.compat for Lasagne 0.1.")
    downsample.max_pool_2d = max_pool_2d
    sys.modules[downsample.__name__] = downsample
    theano.tensor.signal.downsample = downsample

    rng = theano.sandbox.rng_mrg
    if not hasattr(rng, "MRG_RandomStreams"):
        rng.MRG_RandomStreams = rng.MRG_RandomStream
    if not hasattr(theano, "gof"):
        gof = types.ModuleType("theano.gof", "Theano 0.7's graph module name, for Lasagne 0.1.")
        gof.Variable = theano.graph.basic.Variable
        gof.Apply = theano.graph.basic.Apply
        sys.modules["theano.gof"] = gof
        theano.gof = gof
    STATUS["theano-legacy-names"] = (
        "added theano.tensor.signal.downsample.max_pool_2d, "
        "theano.sandbox.rng_mrg.MRG_RandomStreams, theano.gof")


def theano_pydotprint(theano) -> None:
    """Let ``theano.printing.pydotprint`` draw: the module builds pydot nodes under the name
    ``Node``, which its own ``from theano.graph.basic import Node`` has taken over (every
    ``Node`` in that module is a pydot node, so pointing the name back changes nothing else)."""
    if "theano-pydotprint" in STATUS:
        return
    import theano.printing as printing

    if not printing.pydot_imported:          # no pydot or no Graphviz: Theano says which itself
        STATUS["theano-pydotprint"] = f"pydotprint stays off: {printing.pydot_imported_msg}"
        return
    if printing.Node is not printing.pd.Node:
        printing.Node = printing.pd.Node
    STATUS["theano-pydotprint"] = "theano.printing.Node is pydot's node again: pydotprint draws"


def _refuse_after_tensorflow(module: str, guard, why: str) -> None:
    """Raise a clear ImportError when ``module`` is imported into a process that has already
    loaded TensorFlow (``why`` says what would crash), and keep refusing later tries."""
    shim = f"{module}-after-tensorflow"
    if "tensorflow" in sys.modules and module not in sys.modules:
        _hook.before_import(module, guard)                            # refuse the next try too
        STATUS[shim] = f"refused an import of {module} after tensorflow"
        raise ImportError(
            f"{module} cannot be imported in a process that has already imported tensorflow (or keras on "
            f"its TensorFlow backend): {why} Restart the kernel and import {module} before tensorflow, "
            "or run them in separate processes (as the comparison does).")
    STATUS.setdefault(shim, "nothing to do")


def paddle_after_tensorflow() -> None:
    """A clear ImportError instead of a crash: PaddlePaddle 3.3 imported into a process that has
    already loaded TensorFlow dies (SIGSEGV) while ``libpaddle.so`` registers its operators,
    because its protobuf calls resolve to the protobuf TensorFlow loaded first. Paddle first,
    TensorFlow second works."""
    _refuse_after_tensorflow("paddle", paddle_after_tensorflow,
                             "PaddlePaddle 3.3 would crash the process (its protobuf collides with TensorFlow's).")


def caffe_after_tensorflow() -> None:
    """A clear ImportError instead of a crash: real Caffe imported into a process that has
    already loaded TensorFlow dies (SIGSEGV) in its first ``SGDSolver`` or ``Net``, when its C++
    protobuf parses the prototxt (their protobuf libraries collide, as Paddle's do)."""
    _refuse_after_tensorflow("caffe", caffe_after_tensorflow,
                             "real Caffe's first net would crash the process (their protobuf libraries collide).")


def collections_abc_aliases() -> None:
    """Put back ``collections.Iterable`` (Python 3.10 removed it) for Nolearn 0.6.1."""
    if "collections-abc-aliases" not in STATUS:
        from labkit import compat_sklearn

        STATUS["collections-abc-aliases"] = compat_sklearn.collections_abc_aliases()


def sklearn_cross_validation() -> None:
    """Provide ``sklearn.cross_validation`` (removed in scikit-learn 0.20) for Nolearn 0.6.1."""
    if "sklearn-cross-validation" not in STATUS:
        from labkit import compat_sklearn

        STATUS["sklearn-cross-validation"] = compat_sklearn.install_cross_validation()


def nolearn_params(base) -> None:
    """Let Nolearn's ``NeuralNet`` pass today's scikit-learn ``get_params`` and ``clone``."""
    if "nolearn-params" not in STATUS:
        from labkit import compat_sklearn

        STATUS["nolearn-params"] = compat_sklearn.nolearn_params(base)


def apply() -> dict[str, str]:
    """Arm every shim. Idempotent; returns ``STATUS``.

    Shims that must act before a toolkit is imported run now, or just before it is
    imported; those that patch a toolkit run just after it is imported.
    """
    numpy_aliases()
    _hook.before_import("theano", theano_blas)       # its link probe costs 0.5 s: only for Theano
    _hook.before_import("chainer", numpy_distutils)
    _hook.after_import("theano", theano_legacy_names)
    _hook.after_import("theano", theano_pydotprint)
    _hook.before_import("paddle", paddle_after_tensorflow)
    _hook.before_import("caffe", caffe_after_tensorflow)
    _hook.before_import("nolearn", collections_abc_aliases)
    _hook.before_import("nolearn", sklearn_cross_validation)
    _hook.after_import("nolearn.lasagne.base", nolearn_params)
    return STATUS


def report() -> list[tuple[str, str]]:
    """(shim, what it did) for every shim, in a fixed order, for a notebook or the doctor."""
    names = ["numpy-aliases", "numpy-distutils", "theano-blas", "theano-legacy-names", "theano-pydotprint",
             "paddle-after-tensorflow", "caffe-after-tensorflow", "collections-abc-aliases",
             "sklearn-cross-validation", "nolearn-params"]
    return [(n, STATUS.get(n, "armed; runs when its toolkit is imported")) for n in names]


# --- the start-up hook ---------------------------------------------------------------------

PTH_NAME = "labkit_compat.pth"
PTH_LINE = ("import importlib.util; importlib.util.find_spec('labkit') is not None "
            "and __import__('labkit._startup', fromlist=['install']).install()\n")


def install_startup_hook(site_packages: str | os.PathLike | None = None) -> Path:
    """Write ``labkit_compat.pth`` into this environment's site-packages and return its path."""
    target = Path(site_packages or sysconfig.get_paths()["purelib"]) / PTH_NAME
    target.write_text(PTH_LINE)
    return target
