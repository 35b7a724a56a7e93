"""labkit.toolkits: the one registry of toolkits and comparison rows, and what it promises."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from labkit import chapters, device, probes, toolkits

ROOT = Path(__file__).resolve().parent.parent


def test_resolve_names_and_aliases():
    assert toolkits.resolve("pytorch") == toolkits.resolve("torch") == "torch"
    assert toolkits.resolve("cv2") == toolkits.resolve("OpenCV") == "opencv"
    assert toolkits.resolve("TF") == "tensorflow"
    with pytest.raises(ValueError, match="unknown toolkit 'cntk'.*torch, tensorflow"):
        toolkits.resolve("cntk")
    with pytest.raises(ValueError):
        device.table(["cntk"])


def test_every_adapter_names_a_module_and_a_gpu_hint():
    for key, tk in toolkits.TOOLKITS.items():
        assert tk.module and tk.name and tk.gpu_hint, key
        assert toolkits.resolve(tk.module) == key


def test_version_strings():
    assert probes.cuda_str(12040) == "12.4" and probes.cuda_str(11080) == "11.8"
    assert probes.cuda_str("12.1") == "12.1" and probes.cuda_str("False") is None
    assert probes.cudnn_str(90100) == "9.1.0" and probes.cudnn_str(8902) == "8.9.2"
    assert probes.cudnn_str(None) is None


def test_entry_names_and_aliases():
    assert toolkits.resolve_entry("Torch") == "pytorch" and toolkits.resolve_entry("jax") == "keras-jax"
    with pytest.raises(ValueError, match="labkit.compare knows: pytorch"):
        toolkits.resolve_entry("cntk")


def test_every_entry_names_a_chapter_that_defines_the_contract():
    for name, entry in toolkits.ENTRIES.items():
        assert entry.device in toolkits.TOOLKITS, name
        assert entry.shown and entry.modules and entry.dists, name
        source = chapters.tagged_source(ROOT / "notebooks" / entry.notebook)
        defined = {n.name for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert set(chapters.CONTRACT) <= defined, (name, sorted(set(chapters.CONTRACT) - defined))
    for key, tk in toolkits.TOOLKITS.items():
        assert tk.runs_in in toolkits.RUNS_IN, key
        assert tk.chapter is None or (ROOT / "notebooks" / tk.chapter).is_file(), key


def test_no_other_labkit_module_lists_toolkit_import_names():
    """The registry is the one list: no other module spells two or more toolkits' names in a tuple,
    list, set or dict of strings (a docstring or a message may name them)."""
    names = {tk.module for tk in toolkits.TOOLKITS.values()} | set(toolkits.ENTRIES)
    offenders = []
    for path in sorted((ROOT / "labkit").rglob("*.py")):
        if path.name in ("toolkits.py", "probes.py") or "playground" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                items = node.elts
            elif isinstance(node, ast.Dict):
                items = node.keys
            else:
                continue
            hits = {n.value for n in items if isinstance(n, ast.Constant) and n.value in names}
            if len(hits) >= 2:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {sorted(hits)}")
    assert not offenders, offenders


def test_the_startup_hook_watches_the_legacy_toolkits():
    assert set(toolkits.legacy_modules()) == {"theano", "lasagne", "chainer", "mxnet", "paddle", "caffe",
                                                  "nolearn"}


def test_a_bare_folder_named_like_a_toolkit_is_not_the_toolkit(tmp_path, monkeypatch):
    """A folder called ``caffe`` on sys.path (``runs/caffe/`` when the current folder is
    ``runs/``) is a namespace package to Python, not real Caffe: the comparison once ran a row
    for it in a clone without ``make caffe``."""
    from labkit import toolkits

    (tmp_path / "labkit_no_such_toolkit").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not toolkits.installed("labkit_no_such_toolkit")
    (tmp_path / "labkit_no_such_toolkit" / "__init__.py").write_text("")
    assert toolkits.installed("labkit_no_such_toolkit")          # a real package is
