"""labkit.node: finding Node, saying what to run when it or ConvNetJS is missing, and the worker.

The agreement of the chapter's LeNet with the NumPy reference is tested with every other
chapter's (tests/test_chapters.py, from the registry); here, what is Node's alone.
"""
from __future__ import annotations

import json
import shutil
import stat
import subprocess

import numpy as np
import pytest

from labkit import node, toolkits
from labkit.compare import measures

HAVE_CONVNETJS = node.problem() is None
needs_convnetjs = pytest.mark.skipif(not HAVE_CONVNETJS, reason=f"not ready here: {node.problem()}")


def test_parse_version():
    assert node.parse_version("v20.20.2\n") == (20, 20, 2)
    assert node.parse_version("12.22.9") == (12, 22, 9)
    with pytest.raises(ValueError, match="not a Node version"):
        node.parse_version("command not found")


def test_without_node_on_path_it_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))            # a PATH with no node on it
    assert node.find_node() is None
    why = node.problem()
    assert "Node.js was not found" in why and "make system-deps" in why and "make setup" in why
    with pytest.raises(node.NodeNotReady, match="make system-deps"):
        node.Worker()
    assert node.versions()["node"] is None
    assert not measures.installed(toolkits.ENTRIES["convnetjs"])     # the comparison skips the row


def _fake_node(folder, version):
    exe = folder / "node"
    exe.write_text(f"#!/bin/sh\necho {version}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


def test_a_node_too_old_is_refused_with_the_version_needed(tmp_path):
    why = node.problem(exe=_fake_node(tmp_path, "v10.24.1"))
    assert "Node 10.24.1" in why and "too old" in why and f"Node {node.MIN_NODE[0]} or newer" in why
    assert "did not report a Node version" in node.problem(exe=_fake_node(tmp_path, "garbage"))


def _js_copy(tmp_path, name="js", with_modules=None):
    folder = tmp_path / name
    folder.mkdir()
    for name in ("package.json", "package-lock.json", node.WORKER):
        shutil.copy(node.js_dir() / name, folder / name)
    if with_modules:
        pkg = folder / "node_modules" / "convnetjs"
        pkg.mkdir(parents=True)
        (pkg / "package.json").write_text(json.dumps({"name": "convnetjs", "version": with_modules}))
    return folder


@pytest.mark.skipif(node.find_node() is None, reason="no node on PATH")
def test_without_npm_ci_it_says_to_run_make_setup(tmp_path):
    why = node.problem(folder=_js_copy(tmp_path))
    assert "not installed" in why and "make setup" in why and "npm ci" in why
    why = node.problem(folder=_js_copy(tmp_path, "js-old", with_modules="0.2.9"))
    assert "convnetjs 0.2.9" in why and "pins 0.3.0" in why


def test_the_lock_file_pins_convnetjs():
    lock = json.loads((node.js_dir() / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/convnetjs"]["version"] == "0.3.0"
    assert lock["packages"]["node_modules/convnetjs"]["integrity"].startswith("sha512-")
    assert json.loads((node.js_dir() / "package.json").read_text())["dependencies"] == {"convnetjs": "0.3.0"}


def test_arrays_cross_the_pipe_exactly():
    x = np.random.default_rng(0).standard_normal((3, 28, 28, 1)).astype(np.float32)
    assert np.array_equal(node.from_b64(node.b64(x), x.shape, np.float32), x)
    y = np.arange(6, dtype=np.float64).reshape(2, 3) / 7
    assert np.array_equal(node.from_b64(node.b64(y, np.float64), (2, 3)), y)


@needs_convnetjs
def test_the_registry_and_the_device_table_see_convnetjs():
    tk = toolkits.TOOLKITS["convnetjs"]
    assert tk.runs_in == "node" and toolkits.resolve("ConvNet.js") == "convnetjs"
    assert node.__version__ == node.versions()["convnetjs"] == "0.3.0"
    size = measures.entry_size(toolkits.ENTRIES["convnetjs"])
    assert size["language"] == "JavaScript" and 50_000 < size["script_bytes"] < 1e6
    assert size["native_bytes"] > 10e6 and size["bytes"] == size["script_bytes"] + size["native_bytes"]
    assert "one JavaScript thread" in tk.notes(node) and tk.gpus(node) == []


@needs_convnetjs
@pytest.mark.slow
def test_the_worker_answers_and_its_errors_are_clear():
    with node.Worker() as w:
        assert w.call("hello")["convnetjs"] == "0.3.0"
        with pytest.raises(RuntimeError, match="no net yet: send 'build'"):
            w.call("forward", x=node.b64(np.zeros((1, 28, 28, 1))), shape=[1, 28, 28, 1])
        with pytest.raises(RuntimeError, match="unknown op \"fly\""):
            w.call("fly")
        w.call("build", defs=[{"type": "input", "out_sx": 2, "out_sy": 2, "out_depth": 1},
                              {"type": "softmax", "num_classes": 3}])
        with pytest.raises(RuntimeError, match="got 3 numbers for images of shape"):
            w.call("forward", x=node.b64(np.zeros(3)), shape=[1, 2, 2, 1])
        out = w.call("forward", x=node.b64(np.zeros((2, 2, 2, 1))), shape=[2, 2, 2, 1])
        assert node.from_b64(out["logits"], out["shape"]).shape == (2, 3)
        w.proc.kill()
        w.proc.wait()
        with pytest.raises(RuntimeError, match="has exited"):
            w.call("hello")


@needs_convnetjs
@pytest.mark.slow
def test_the_worker_says_when_convnetjs_is_missing(tmp_path):
    folder = _js_copy(tmp_path)                              # the worker, without node_modules
    proc = subprocess.run([node.find_node(), str(folder / node.WORKER)], input="",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3 and "run `make setup`" in json.loads(proc.stdout)["error"]


def test_an_installed_labkit_without_the_clone_says_so(monkeypatch):
    monkeypatch.setattr(node.paths, "repo_root", lambda: None)
    with pytest.raises(node.NodeNotReady, match="clone the workbook"):
        node.js_dir()
    if node.find_node() is not None:                         # with Node, that is what stops it
        assert "clone the workbook" in node.problem()
