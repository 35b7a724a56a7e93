"""labkit.compare: one quick run of every installed toolkit, its records, and the agreement matrix.

The quick run happens once for the module (every toolkit, one child process each, one after
another) and writes its records to a temporary file; the tests then read them back. Speeds
are printed by the harness, never asserted: they depend on the machine and its load.
"""
import json
import os
import subprocess
import sys

import pytest

from labkit import chapters, child, compare, lenet, records, tables, toolkits
from labkit.compare import measures
from labkit.machine import usable_cpus

CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    path = tmp_path_factory.mktemp("compare") / "records.jsonl"
    out = compare.run(quick=True, records=path)
    return out, path


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_quick_run_covers_every_installed_toolkit(quick):
    out, path = quick
    assert not out["errors"], "\n\n".join(out["errors"].values())
    r = compare.load_run(path)
    table = compare.results_table(r).text()
    for name in compare.ENTRIES:
        if name in out["missing"]:
            if CI:
                pytest.fail(f"{name} is not installed, so it is missing from the comparison table; "
                            "CI installs every toolkit (make setup / requirements.lock)")
            continue
        assert name in r.values, f"{name} is installed but not in the comparison:\n{table}"
        assert any(row[0] == name for row in compare.results_table(r).rows)
    if out["missing"]:
        pytest.skip(f"not installed here (CI fails on this): {', '.join(out['missing'])}")


METRICS = {"train_images_per_s", "infer_images_per_s@1", "infer_images_per_s@256", "time_to_first_result_s",
           "peak_memory_mib", "test_accuracy", "train_wall_s", "lines_of_code", "installed_mb", "gpu_support"}


@pytest.mark.slow
def test_records_round_trip(quick):
    out, path = quick
    raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert raw == records.read_records(path)                     # every line is one whole record
    r = compare.load_run(path)
    assert r.id == out["run"] and r.protocol == "quick"
    for name, res in out["results"].items():
        v = r.values[name]
        assert set(v) == METRICS, (name, sorted(v))
        assert v["train_images_per_s"] == pytest.approx(res["train_images_per_s"])
        assert v["infer_images_per_s@256"] == pytest.approx(res["infer"]["256"]["median"])
        assert v["test_accuracy"] == res["test_accuracy"]
        rec = r.extra[name]["train_images_per_s"]
        assert rec["toolkit"] == name and rec["quick"] is True and rec["cpu"]
        assert rec["threads"]["used"] == usable_cpus()          # the default: every usable CPU
        assert rec["versions"], f"{name}: no versions recorded"
        assert v["lines_of_code"] > 10 and v["installed_mb"] > 1 and v["peak_memory_mib"] > 50
        assert 0 < v["time_to_first_result_s"] < compare.QUICK.timeout
    # every number a table shows comes from the records
    for row in compare.results_table(r).rows:
        if row[0] in r.values:
            assert row[2] == tables.num(r.values[row[0]]["train_images_per_s"])


@pytest.mark.slow
def test_accuracy_after_the_budget_clears_the_floor(quick):
    out, path = quick
    r = compare.load_run(path)
    for name in r.values:
        floor = r.extra[name]["test_accuracy"]["floor"]
        assert r.values[name]["test_accuracy"] >= floor, (name, r.values[name]["test_accuracy"], floor)


@pytest.mark.slow
def test_agreement_matrix_within_tolerance(quick):
    out, path = quick
    r = compare.load_run(path)
    n = len(r.values) + 1                                        # and the NumPy reference
    assert len(r.pairs) == n * (n - 1) // 2
    for (a, b), d in r.pairs.items():
        assert d["logits"] <= lenet.LOGITS_ATOL, f"probe logits of {a} and {b} differ by {d['logits']:.2g}"
        assert d["step"] <= lenet.STEP_ATOL, f"after one SGD step, {a} and {b} differ by {d['step']:.2g}"
    text = compare.agreement_table(r, "step").text()
    assert all(name in text for name in r.values)


def test_a_wrong_conversion_fails_the_agreement_check():
    results = compare.wrong_conversions()
    assert len(results) == len(compare.WRONG_CONVERSIONS) >= 2
    for w in results:
        assert w["logits_max_diff"] > lenet.LOGITS_ATOL, w
        assert w["step_max_diff"] > lenet.STEP_ATOL, w
        with pytest.raises(AssertionError):
            lenet.check_logits(lenet.reference()["logits"] + w["logits_max_diff"])


KERAS_CONVERSION_CHECK = """
import json, sys
import numpy as np
from labkit import chapters, lenet
ns = chapters.load(sys.argv[1])
w = lenet.initial_weights()
x, _ = lenet.probe_batch()
model = ns["build_lenet"]()
ns["load_canonical"](model, w)                  # the chapter's conversion, fc1 permutation included
right = lenet.max_abs_diff(ns["predict_logits"](model, x), lenet.reference()["logits"])
back = max(lenet.max_abs_diff(v, w[k]) for k, v in ns["export_canonical"](model).items())
fc1 = [l for l in model.layers if getattr(l, "kernel", None) is not None and tuple(l.kernel.shape) == (800, 500)]
fc1[0].kernel.assign(w["fc1.weight"].T)         # the same weights, fc1's inputs left in Caffe's order
wrong = lenet.max_abs_diff(ns["predict_logits"](model, x), lenet.reference()["logits"])
print(json.dumps({"right": right, "back": back, "wrong": wrong, "fc1_layers": len(fc1)}))
"""


@pytest.mark.slow
def test_the_keras_chapters_conversion_passes_where_the_wrong_one_fails():
    """The Keras chapter's own load_canonical (its fc1 input permutation) gives the reference's
    logits and exports the weights back unchanged; the same weights with fc1's inputs left in
    Caffe's (channel, row, column) order do not."""
    rows = measures.hwc_rows()
    assert sorted(rows) == list(range(800)) and not (rows == range(800)).all()
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    proc = subprocess.run([sys.executable, "-c", KERAS_CONVERSION_CHECK, str(chapters.notebook_for("keras-torch"))],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["fc1_layers"] == 1, got
    assert got["right"] <= lenet.LOGITS_ATOL and got["back"] == 0, got
    assert got["wrong"] > 100 * lenet.LOGITS_ATOL, got


def test_lines_of_code_skip_blanks_comments_and_docstrings():
    src = '"""module doc"""\n\n# a comment\ndef f(x):\n    """doc\n    string"""\n    return (x +\n            1)  # tail\n'
    assert compare.lines_of_code(src) == 3



def test_installed_size_counts_what_a_toolkit_requires():
    lasagne = compare.installed_size(compare.ENTRIES["lasagne"].dists)
    theano = compare.installed_size(compare.ENTRIES["theano"].dists)
    if not theano["distributions"]:
        pytest.skip("Theano is not installed here")
    assert set(theano["distributions"]) <= set(lasagne["distributions"])
    assert "numpy" not in lasagne["distributions"]
    assert lasagne["bytes"] >= theano["bytes"] > theano["python_bytes"] > 0


def test_child_environment_fixes_the_thread_count():
    env = child.toolkit_env(compare.ENTRIES["keras-jax"].env, 3)
    assert env["KERAS_BACKEND"] == "jax"
    assert all(env[v] == "3" for v in child.THREAD_VARS)


def test_unknown_toolkit_is_named():
    with pytest.raises(ValueError, match="labkit.compare knows: pytorch"):
        compare.run(["cntk"], quick=True)
    with pytest.raises(SystemExit):
        compare.main(["--toolkits", "cntk"])
    assert toolkits.resolve_entry("Torch") == "pytorch" and toolkits.resolve_entry("caffe") == "caffe-style"


def test_load_run_without_records_says_what_to_do(tmp_path):
    with pytest.raises(LookupError, match="labkit compare --quick"):
        compare.load_run(tmp_path / "none.jsonl")


@pytest.mark.parametrize("threads", [0, -2, 1.5])
def test_a_thread_count_below_one_is_refused(threads, tmp_path):
    with pytest.raises(ValueError, match="threads must be a positive whole number"):
        compare.run(["pytorch"], quick=True, threads=threads, records=tmp_path)
    with pytest.raises(SystemExit):
        compare.main(["--toolkits", "pytorch", "--threads", "0", "--records", str(tmp_path)])
    assert not (tmp_path / "records.jsonl").exists()


def test_an_unwritable_records_place_fails_before_any_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match="cannot write run records"):
        compare.run(["pytorch"], quick=True, records=blocker / "sub" / "records.jsonl")


def test_without_the_notebooks_it_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("LABKIT_NOTEBOOKS", raising=False)
    with pytest.raises(LookupError, match="no chapter 10_pytorch.ipynb"):
        compare.run(["pytorch"], quick=True, notebooks=tmp_path, records=tmp_path)
    monkeypatch.setattr("labkit.chapters.paths.repo_root", lambda: None)      # an installed labkit
    with pytest.raises(LookupError, match="installed on its own"):
        compare.run(["pytorch"], quick=True, records=tmp_path)
