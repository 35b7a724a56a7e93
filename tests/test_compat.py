"""Each legacy-toolkit shim, with a test that fails without it.

Every check runs in a fresh interpreter with the start-up hook switched off
(LABKIT_NO_COMPAT=1), so that exactly the shims a test applies are in force.
"""
import importlib.util
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

# every test starts a fresh interpreter that imports a legacy toolkit
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def run(code: str, hook: bool = False, **env) -> subprocess.CompletedProcess:
    environ = {**os.environ, **env}
    environ.pop("LABKIT_NO_COMPAT", None)
    if not hook:
        environ["LABKIT_NO_COMPAT"] = "1"
    return subprocess.run([sys.executable, "-W", "ignore", "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, env=environ, timeout=280)


def last_line(proc):
    return (proc.stderr.strip().splitlines() or [""])[-1]


def test_theano_fails_on_numpy_126_without_the_aliases():
    proc = run("import theano")
    assert proc.returncode != 0 and ("np.bool" in proc.stderr or "'bool'" in last_line(proc))


def test_numpy_aliases_let_theano_import():
    proc = run("""
        from labkit import compat
        compat.numpy_aliases()
        import numpy as np, theano
        assert np.bool is bool and np.float is float
        print(theano.__version__)
    """, THEANO_FLAGS="blas__ldflags=")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1.1.2"


def test_theano_blas_detection_fails_without_the_flag():
    proc = run("""
        from labkit import compat
        compat.numpy_aliases()
        import theano
    """)
    assert proc.returncode != 0 and "msvccompiler" in proc.stderr


def test_theano_blas_links_openblas_and_gemm_runs():
    proc = run("""
        from labkit import compat
        compat.numpy_aliases(); compat.theano_blas()
        import numpy as np, theano, theano.tensor as T
        a = T.matrix(); f = theano.function([a], T.dot(a, a.T))
        x = np.arange(12.0).reshape(3, 4).astype(theano.config.floatX)
        assert np.allclose(f(x), x @ x.T)
        print(theano.config.blas__ldflags)
        print(compat.STATUS["theano-blas"])
    """)
    assert proc.returncode == 0, proc.stderr
    flags, status = proc.stdout.strip().splitlines()
    if Path("/usr/lib/x86_64-linux-gnu/libopenblas.so").exists():
        assert flags == "-lopenblas" and "OpenBLAS" in status


def test_theano_blas_falls_back_and_says_so_once():
    proc = run("""
        import warnings
        from labkit import compat
        compat._openblas_links = lambda: (False, "cannot find -lopenblas")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            compat.numpy_aliases(); compat.theano_blas(); compat.theano_blas()
        assert len([w for w in caught if "OpenBLAS" in str(w.message)]) == 1, caught
        import theano, theano.tensor as T, numpy as np
        a = T.matrix(); f = theano.function([a], T.dot(a, a))
        assert np.allclose(f(np.eye(3, dtype=theano.config.floatX)), np.eye(3))
        print(repr(theano.config.blas__ldflags))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "''"


def test_theano_blas_respects_the_readers_flag():
    proc = run("""
        from labkit import compat
        compat.theano_blas()
        import os; print(os.environ["THEANO_FLAGS"]); print(compat.STATUS["theano-blas"])
    """, THEANO_FLAGS="blas__ldflags=-lblas")
    assert proc.stdout.splitlines() == ["blas__ldflags=-lblas", "left as you set it in THEANO_FLAGS"]


def test_chainer_fails_without_the_distutils_graft():
    proc = run("""
        from labkit import compat
        compat.numpy_aliases()
        import chainer
    """)
    assert proc.returncode != 0 and "msvccompiler" in proc.stderr


def test_distutils_graft_lets_chainer_import_and_train():
    proc = run("""
        from labkit import compat
        compat.numpy_aliases(); compat.numpy_distutils()
        import numpy as np, chainer, chainer.functions as F, chainer.links as L
        conv = L.Convolution2D(1, 2, 3)
        x = np.ones((1, 1, 5, 5), np.float32)
        y = F.sum(conv(x)); y.backward()
        assert conv.W.grad.shape == (2, 1, 3, 3)
        print(chainer.__version__)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "7.8.1"


def test_distutils_graft_also_works_after_setuptools_was_imported():
    proc = run("""
        import setuptools, distutils
        from labkit import compat
        compat.numpy_aliases(); compat.numpy_distutils()
        import chainer
    """)
    assert proc.returncode == 0, proc.stderr


def test_lasagne_fails_without_the_legacy_names():
    proc = run("""
        from labkit import compat
        compat.numpy_aliases(); compat.theano_blas()
        import lasagne
    """)
    assert proc.returncode != 0 and "MRG_RandomStreams" in proc.stderr


def test_legacy_names_let_lasagne_build_and_train_a_convnet():
    proc = run("""
        from labkit import compat
        compat.numpy_aliases(); compat.theano_blas()
        import theano
        compat.theano_legacy_names(theano)
        import numpy as np, theano.tensor as T, lasagne
        from lasagne.layers import InputLayer, Conv2DLayer, MaxPool2DLayer, DropoutLayer, DenseLayer
        theano.config.floatX = "float32"
        lasagne.random.set_rng(np.random.RandomState(0))
        net = InputLayer((None, 1, 8, 8))
        net = MaxPool2DLayer(Conv2DLayer(net, 2, 3), 2)
        net = DenseLayer(DropoutLayer(net, 0.1), 3, nonlinearity=lasagne.nonlinearities.softmax)
        x, y = T.tensor4(), T.ivector()
        loss = lasagne.objectives.categorical_crossentropy(lasagne.layers.get_output(net, x), y).mean()
        params = lasagne.layers.get_all_params(net, trainable=True)
        step = theano.function([x, y], loss, updates=lasagne.updates.adam(loss, params, learning_rate=0.01))
        clean = lasagne.objectives.categorical_crossentropy(
            lasagne.layers.get_output(net, x, deterministic=True), y).mean()
        evaluate = theano.function([x, y], clean)
        rng = np.random.default_rng(0)
        xs, ys = rng.random((6, 1, 8, 8), dtype=np.float32), np.array([0, 1, 2, 0, 1, 2], np.int32)
        first = evaluate(xs, ys)
        for _ in range(100):
            step(xs, ys)
        last = evaluate(xs, ys)
        assert last < 0.5 * first, (first, last)
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


PYDOTPRINT = """
    from labkit import compat
    compat.numpy_aliases(); compat.theano_blas()
    import theano, theano.tensor as T
    if {shim}:
        compat.theano_pydotprint(theano)
    x = T.dvector("x")
    svg = theano.printing.pydotprint(T.tanh(x).sum(), outfile={out!r}, format="svg",
                                     return_image=False, print_output_file=False)
    print(open({out!r}).read().count("<svg"))
"""


@pytest.mark.skipif(not __import__("shutil").which("dot"), reason="pydotprint needs Graphviz's dot")
def test_pydotprint_fails_without_its_node_shim(tmp_path):
    proc = run(PYDOTPRINT.format(shim=False, out=str(tmp_path / "g.svg")))
    assert proc.returncode != 0 and "Node() takes no arguments" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.skipif(not __import__("shutil").which("dot"), reason="pydotprint needs Graphviz's dot")
def test_pydotprint_draws_with_the_shim(tmp_path):
    proc = run(PYDOTPRINT.format(shim=True, out=str(tmp_path / "g.svg")))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "1"
    assert "Tanh" in (tmp_path / "g.svg").read_text() or "tanh" in (tmp_path / "g.svg").read_text()


def test_apply_is_idempotent_and_reports_every_shim():
    proc = run("""
        from labkit import compat, _hook
        a = dict(compat.apply()); b = dict(compat.apply())
        import theano, lasagne, chainer, paddle, nolearn.lasagne
        try:
            import caffe          # real Caffe, where `make caffe` built it; the guard runs either way
        except ImportError:
            pass
        compat.apply()
        names = [n for n, _ in compat.report()]
        assert names == ["numpy-aliases", "numpy-distutils", "theano-blas", "theano-legacy-names",
                         "theano-pydotprint", "paddle-after-tensorflow", "caffe-after-tensorflow",
                         "collections-abc-aliases", "sklearn-cross-validation", "nolearn-params"]
        assert all("armed" not in what for _, what in compat.report()), compat.report()
        assert a == b
        assert sum(isinstance(f, _hook._Finder) for f in __import__("sys").meta_path) == 1
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(not (Path(sysconfig.get_paths()["purelib"]) / "labkit_compat.pth").exists(),
                    reason="the start-up hook is installed by `make setup` into the workbook's .venv")
@pytest.mark.parametrize("imports", ["theano, lasagne, chainer", "chainer", "lasagne"])
def test_startup_hook_makes_plain_imports_work(imports):
    proc = run(f"import {imports}; print('ok')", hook=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_hook_can_be_switched_off():
    proc = run("import sys, labkit._hook as h, labkit._startup as s; s.install(); print(h._FINDER in sys.meta_path)")
    assert proc.stdout.strip() == "False"


def test_install_startup_hook_writes_a_pth_that_arms_without_importing_toolkits(tmp_path):
    from labkit import compat

    path = compat.install_startup_hook(tmp_path)
    assert path.name == "labkit_compat.pth"
    proc = run(f"""
        import site, sys
        site.addsitedir({str(tmp_path)!r})
        import labkit._hook as h
        assert h._FINDER in sys.meta_path
        assert not {{"numpy", "theano", "chainer"}} & set(sys.modules), sorted(sys.modules)
        print("ok")
    """, hook=True)
    assert proc.returncode == 0, proc.stderr


def test_mxnet_fails_on_numpy_126_without_the_aliases():
    proc = run("import mxnet")
    assert proc.returncode != 0 and "has no attribute 'bool'" in proc.stderr, proc.stderr[-2000:]


def test_numpy_aliases_let_mxnet_import_and_take_a_gradient():
    proc = run("""
        from labkit import compat
        compat.numpy_aliases()
        import mxnet as mx
        from mxnet import autograd, nd
        x = nd.array([[1.0, 2.0], [3.0, 4.0]])
        x.attach_grad()
        with autograd.record():
            y = (x * x).sum()
        y.backward()
        assert (x.grad.asnumpy() == 2 * x.asnumpy()).all()
        print(mx.__version__)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1.9.1"


@pytest.mark.skipif(not (Path(sysconfig.get_paths()["purelib"]) / "labkit_compat.pth").exists(),
                    reason="the start-up hook is installed by `make setup` into the workbook's .venv")
def test_startup_hook_makes_a_plain_import_mxnet_work():
    proc = run("import mxnet, numpy; print(mxnet.nd.ones((2, 2)).sum().asscalar(), numpy.bool is bool)", hook=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "4.0 True"


@pytest.mark.parametrize("hook", [False, True], ids=["apply", "startup-hook"])
def test_paddle_after_tensorflow_is_a_clear_error_not_a_crash(hook):
    """Without the guard the process dies (SIGSEGV, see tests/test_environment.py); with it, a
    clear ImportError, twice, and TensorFlow still works."""
    arm = "" if hook else "        from labkit import compat; compat.apply()\n"
    proc = run(arm + """
        import tensorflow as tf
        for attempt in range(2):
            try:
                import paddle
            except ImportError as err:
                print("refused:", "import paddle before tensorflow" in str(err))
        print("tensorflow", float(tf.reduce_sum(tf.ones((4, 4)))))
    """, hook=hook, TF_CPP_MIN_LOG_LEVEL="2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:3] == ["refused: True", "refused: True", "tensorflow 16.0"], proc.stdout


def _real_caffe() -> bool:
    return importlib.util.find_spec("caffe") is not None


CAFFE_NET = """
        import os, tempfile
        path = os.path.join(tempfile.mkdtemp(), "net.prototxt")
        open(path, "w").write('layer { name: "data" type: "Input" top: "data" '
                              'input_param { shape { dim: 1 dim: 1 dim: 4 dim: 4 } } }')
"""


@pytest.mark.caffe_real
@pytest.mark.skipif(not _real_caffe(), reason="real Caffe is built by `make caffe`")
def test_caffe_after_tensorflow_crashes_without_the_guard():
    proc = run("import tensorflow" + CAFFE_NET + """
        import caffe
        caffe.Net(path, caffe.TEST)
        print("survived")
    """, TF_CPP_MIN_LOG_LEVEL="2")
    assert proc.returncode != 0 and "survived" not in proc.stdout, (proc.returncode, proc.stderr[-1500:])


@pytest.mark.caffe_real
@pytest.mark.skipif(not _real_caffe(), reason="real Caffe is built by `make caffe`")
@pytest.mark.parametrize("hook", [False, True], ids=["apply", "startup-hook"])
def test_caffe_after_tensorflow_is_a_clear_error_and_caffe_first_works(hook):
    arm = "" if hook else "        from labkit import compat; compat.apply()\n"
    proc = run(arm + "        import tensorflow as tf\n" + """
        try:
            import caffe
        except ImportError as err:
            print("refused:", "cannot be imported in a process that has already imported tensorflow" in str(err))
    """, hook=hook, TF_CPP_MIN_LOG_LEVEL="2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "refused: True", proc.stdout
    first = run(arm + CAFFE_NET + """
        import caffe
        net = caffe.Net(path, caffe.TEST)
        import tensorflow
        print(net.blobs["data"].data.shape)
    """, hook=hook, TF_CPP_MIN_LOG_LEVEL="2")
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.strip() == "(1, 1, 4, 4)"


# --- Nolearn 0.6.1 on Python 3.11 and scikit-learn 1.9 ---------------------------------------

NOLEARN = """
    from labkit import compat
    compat.numpy_aliases(); compat.theano_blas()
    import theano
    compat.theano_legacy_names(theano)
    {shims}
    import nolearn.lasagne
    print("imported")
"""


def test_nolearn_fails_without_the_collections_alias():
    proc = run(NOLEARN.format(shims="compat.sklearn_cross_validation()"))
    assert proc.returncode != 0 and "cannot import name 'Iterable' from 'collections'" in proc.stderr, proc.stderr[-1500:]


def test_nolearn_fails_without_sklearn_cross_validation():
    proc = run(NOLEARN.format(shims="compat.collections_abc_aliases()"))
    assert proc.returncode != 0 and "No module named 'sklearn.cross_validation'" in proc.stderr, proc.stderr[-1500:]


def test_both_shims_let_nolearn_import_and_alias_the_same_class():
    proc = run(NOLEARN.format(shims="compat.collections_abc_aliases(); compat.sklearn_cross_validation()") + """
    import collections, collections.abc, sklearn.cross_validation as cv
    assert collections.Iterable is collections.abc.Iterable
    print(sorted(len(test) for _, test in cv.StratifiedKFold([0] * 6 + [1] * 4, 2)))
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["imported", "[5,", "5]"]


# a NeuralNet over a tiny Lasagne net: get_params and clone, as cross_val_score and GridSearchCV use them
NOLEARN_CLONE = NOLEARN.format(shims="compat.collections_abc_aliases(); compat.sklearn_cross_validation()") + """
    {params_shim}
    import numpy as np
    from lasagne.layers import DenseLayer, InputLayer
    from lasagne.nonlinearities import softmax
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score
    import lasagne.random
    theano.config.floatX = "float32"
    lasagne.random.set_rng(np.random.RandomState({seed}))   # Lasagne's initial weights, seeded
    net = nolearn.lasagne.NeuralNet(DenseLayer(InputLayer((None, 4)), 2, nonlinearity=softmax),
                                    update_learning_rate=0.5, max_epochs=50, verbose=0)
    twin = clone(net)
    print(twin.get_params()["update_learning_rate"], twin is not net)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype("float32"); y = (X[:, 0] > 0).astype("int32")
    print(np.mean(cross_val_score(net, X, y, cv=3)) > 0.8)   # a separable problem, learnt
"""


def test_nolearn_cannot_be_cloned_without_the_params_shim():
    proc = run(NOLEARN_CLONE.format(params_shim="", seed=0))
    assert proc.returncode != 0 and "'NeuralNet' object has no attribute" in proc.stderr, proc.stderr[-1500:]


def test_params_shim_lets_clone_and_cross_val_score_run():
    proc = run(NOLEARN_CLONE.format(params_shim="compat.nolearn_params(nolearn.lasagne.base)", seed=0))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["imported", "0.5", "True", "True"]


@pytest.mark.skipif(not (Path(sysconfig.get_paths()["purelib"]) / "labkit_compat.pth").exists(),
                    reason="the start-up hook is installed by `make setup` into the workbook's .venv")
def test_startup_hook_makes_a_plain_import_nolearn_work():
    proc = run("import nolearn.lasagne, sklearn.base as b; "
               "print(b.clone(nolearn.lasagne.NeuralNet([], update_learning_rate=0.1)).update_learning_rate)",
               hook=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "0.1"
