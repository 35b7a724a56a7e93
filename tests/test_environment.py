"""The environment is described four times (lock, conda recipe, Binder, what is installed);
these tests fail when any of them drifts from requirements.lock."""
import importlib.metadata as md
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import sync_env  # noqa: E402

LOCK = sync_env.lock_pins()


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and "==" in line and not line.startswith("-"):
            name, version = line.split("==")
            out[sync_env.normalize(name)] = version.strip()
    return out


def test_lock_pins_exact_versions_of_the_required_set():
    assert LOCK["numpy"].startswith("1.26.")
    assert LOCK["torch"] == "2.13.0"
    assert LOCK["tensorflow-cpu"].startswith("2.21.")
    assert LOCK["keras"].startswith("3.15.")
    assert LOCK["theano-pymc"] == "1.1.2" and LOCK["lasagne"] == "0.1" and LOCK["chainer"] == "7.8.1"
    assert LOCK["jupyterlab"].startswith("4.") and LOCK["ipywidgets"].startswith("8.")
    for name in ("jax", "jaxlib", "matplotlib", "nbval", "tqdm", "pooch", "mlxtend", "setuptools"):
        assert name in LOCK, f"{name} missing from requirements.lock"
    major, minor = map(int, LOCK["setuptools"].split(".")[:2])
    assert (77, 0) <= (major, minor) < (81, 0), "setuptools must be >=77.0.3 (torch) and <81 (Lasagne)"


def test_every_top_level_requirement_is_locked():
    for line in (ROOT / "requirements.in").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name = sync_env.normalize(re.split(r"[=<>\[ ]", line, maxsplit=1)[0])
            assert name in LOCK, f"requirements.in names {name}, which requirements.lock lacks (run make lock)"


def test_environment_yml_matches_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    conda = {d.split("=")[0]: d.split("=")[1] for d in deps if isinstance(d, str) and d.count("=") == 1
             and not d.startswith("python=")}
    pip = _pins(next(d["pip"] for d in deps if isinstance(d, dict)))
    late = _pins(re.findall(r"([\w.-]+==[\w.+]+)", (ROOT / "environment.yml").read_text().split("name:")[0]))
    assert {**conda, **pip, **late} == LOCK


def test_binder_matches_lock():
    req = _pins((ROOT / "binder" / "requirements.txt").read_text().splitlines())
    post = (ROOT / "binder" / "postBuild").read_text()
    late = {n for n in sync_env.NO_ISOLATION if f'"^{n}=="' in post}
    if "sync_env.py --no-deps" in post:
        late |= set(sync_env.no_deps())
    assert set(req) | late == set(LOCK) and all(req[n] == LOCK[n] for n in req)
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    apt = (ROOT / "binder" / "apt.txt").read_text().split()
    assert "dataset-fashion-mnist" in apt and any("openblas" in p for p in apt)
    assert "pip install" in post and "-e ." in post and "--install-hook" in post


def test_generated_files_are_current():
    """environment.yml and binder/requirements.txt are exactly what tools/sync_env.py writes."""
    for path, text in sync_env.render(LOCK).items():
        assert path.read_text() == text, f"{path.name} is stale: run `python tools/sync_env.py`"


@pytest.mark.skipif(not sys.prefix.endswith(".venv"), reason="checks the workbook's own .venv")
def test_installed_versions_match_lock():
    wrong = {}
    import os

    for name, version in LOCK.items():
        if name in ("h2o", "nd4j") and os.environ.get("LABKIT_SKIP_JVM"):
            continue  # left out on purpose (tools/setup.sh)
        try:
            have = md.version(name)
        except md.PackageNotFoundError:
            wrong[name] = (version, "not installed")
            continue
        if have.split("+")[0] != version.split("+")[0]:
            wrong[name] = (version, have)
    assert not wrong, f"installed packages differ from requirements.lock: {wrong}"


#: What `pip check` may say, and why: a package requirements.in installs with --no-deps asks for
#: a distribution that another one stands in for here (theano-pymc installs the module `theano`).
STANDS_IN = {("nolearn", "theano"): "theano-pymc"}


def test_no_deps_packages_are_marked_and_locked():
    assert sync_env.no_deps() == ("nolearn",)
    assert LOCK["nolearn"] == "0.6.1"
    assert "nolearn" not in sync_env.render(LOCK)[ROOT / "binder" / "requirements.txt"]


def test_pip_check_is_clean():
    """Clean but for what a --no-deps package asks for and a stand-in provides (STANDS_IN)."""
    proc = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    unexplained = []
    for line in proc.stdout.splitlines():
        m = re.match(r"(\S+) \S+ requires (\S+?),", line)
        standin = m and STANDS_IN.get((sync_env.normalize(m[1]), sync_env.normalize(m[2])))
        if not (standin and m and sync_env.normalize(m[1]) in sync_env.no_deps() and md.version(standin)):
            unexplained.append(line)
    assert not unexplained and not proc.stderr.strip(), proc.stdout + proc.stderr


# --- four toolkits with native runtimes of their own, in one process -------------------------

#: A tiny operation per toolkit: a 64x64 matrix product of ones, summed (64 ** 3 = 262144).
#: MXNet also runs a convolution, its oneDNN path.
_TINY_OPS = {
    "mxnet": "float(mxnet.nd.dot(mxnet.nd.ones((64, 64)), mxnet.nd.ones((64, 64))).sum().asscalar())"
             " + 0 * float(mxnet.nd.Convolution(mxnet.nd.ones((1, 1, 8, 8)), mxnet.nd.ones((2, 1, 3, 3)),"
             " no_bias=True, kernel=(3, 3), num_filter=2).sum().asscalar())",
    "paddle": "float(paddle.matmul(paddle.ones([64, 64]), paddle.ones([64, 64])).sum().item())",
    "torch": "float((torch.ones(64, 64) @ torch.ones(64, 64)).sum())",
    "tensorflow": "float(tf.reduce_sum(tf.matmul(tf.ones((64, 64)), tf.ones((64, 64)))))",
}
_AS = {"tensorflow": "tensorflow as tf"}
_TF_BEFORE_PADDLE = (
    "importing paddle after tensorflow crashes (SIGSEGV while libpaddle.so registers its operators: "
    "its protobuf calls resolve to the protobuf TensorFlow loaded first); paddle before tensorflow works")


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("order", [
    ("mxnet", "paddle", "torch", "tensorflow"),       # MXNet's OpenBLAS, oneDNN and libgomp first
    ("paddle", "mxnet", "tensorflow", "torch"),       # Paddle's libiomp5, oneDNN and MKL first
    ("torch", "paddle", "tensorflow", "mxnet"),       # PyTorch's libgomp first, MXNet last
    pytest.param(("tensorflow", "torch", "mxnet", "paddle"),
                 marks=pytest.mark.xfail(strict=True, reason=_TF_BEFORE_PADDLE)),   # LABKIT_NO_COMPAT below
], ids="-".join)
def test_mxnet_paddle_torch_tensorflow_share_one_process(order):
    """MXNet and Paddle bundle their own OpenMP, BLAS and oneDNN (MKL-DNN), as PyTorch and
    TensorFlow do: every toolkit must still compute after all four are imported, in this order."""
    lines = ["from labkit import compat", "compat.numpy_aliases()   # MXNet 1.9 on NumPy 1.26"]
    lines += [f"import {_AS.get(name, name)}" for name in order]
    lines += [f"print({name!r}, {_TINY_OPS[name]})" for name in order]
    import os

    # without the start-up hook: the bare toolkits (labkit.compat refuses paddle after tensorflow
    # with a clear ImportError instead, tested in tests/test_compat.py)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "OMP_NUM_THREADS": "2", "LABKIT_NO_COMPAT": "1"}
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", "\n".join(lines)],
                          capture_output=True, text=True, timeout=280, env=env)
    assert proc.returncode == 0, f"exit code {proc.returncode}:\n{proc.stderr[-3000:]}"
    words = [line.split() for line in proc.stdout.splitlines()]
    results = dict(w for w in words if w and w[0] in order)
    assert results == {name: str(64.0 ** 3) for name in order}, proc.stdout
