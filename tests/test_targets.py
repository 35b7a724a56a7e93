"""labkit.compare.targets: the verdicts and table from results, bad arguments, one real short trial."""
from __future__ import annotations

import pytest

from labkit.compare import targets


def _r(reached, train_s, img_s, acc=0.9):
    return {"reached": reached, "train_s": train_s, "wall_s": train_s + 3, "steps": 500, "epochs": 0.53,
            "accuracy": acc, "images_per_s": img_s, "budget_s": 120.0}


def test_verdicts_name_the_fastest_and_the_share_of_gemm():
    res = {"pytorch": _r(True, 25.0, 3295), "chainer": _r(False, 121.0, 900, 0.85), "mxnet": {"error": "x"}}
    lines = targets.verdicts(res, 104.0)
    assert lines[0] == "fastest to the target: pytorch in 25.0 s of training (goal 30 s: met)"
    assert lines[1] == ("fastest trainer: pytorch, 3,295 img/s = 42% of the 104.0 GFLOP/s GEMM rate "
                        "(goal 40%: met)")
    assert targets.verdicts({"chainer": _r(False, 121.0, 900)}, None) == [
        "no toolkit reached the target within the budget"]
    rows = targets.table(res, 104.0).rows
    assert [r[0] for r in rows] == ["pytorch", "chainer", "mxnet"]
    assert rows[1][1] == "not in 120" and rows[0][-1] == "42%" and rows[2][1] == "failed"


def test_bad_targets_are_refused_before_any_work():
    with pytest.raises(ValueError, match="target is a test accuracy between 0 and 1"):
        targets.time_to_accuracy(["pytorch"], target=90)
    with pytest.raises(ValueError, match="budget_s must be positive"):
        targets.time_to_accuracy(["pytorch"], budget_s=0)


@pytest.mark.slow
def test_a_short_real_trial_reaches_a_low_target(tmp_path):
    pytest.importorskip("torch")
    out = targets.time_to_accuracy(["pytorch"], target=0.5, budget_s=60, every=20, threads=1,
                                   records=tmp_path, show=lambda m: None)["pytorch"]
    assert "error" not in out, out
    assert out["reached"] and out["accuracy"] >= 0.5 and out["steps"] % 20 == 0
    assert out["dataset"] == "fashion-mnist" and out["curve"][-1][0] == out["steps"]


def _run(rates: dict, records=None):
    from labkit.compare.results import Run

    return Run("r1", "quick", records or [], {n: {"train_images_per_s": v} for n, v in rates.items()}, {}, {}, {}, [])


def test_each_tuned_row_is_held_to_the_best_known_configuration_of_its_toolkit():
    run = _run({"pytorch": 1000.0, "pytorch-tuned": 900.0, "mxnet": 500.0, "mxnet-tuned": 800.0,
                "chainer": 300.0, "keras-jax": 700.0, "keras-torch": 650.0})
    got = {r["tuned"]: r for r in targets.tuned_vs_best(run)}
    assert set(got) == {"pytorch-tuned", "mxnet-tuned"}          # chainer-tuned did not run; Keras has no tuned row
    assert got["pytorch-tuned"]["ratio"] == pytest.approx(0.9) and got["pytorch-tuned"]["met"]
    assert got["pytorch-tuned"]["best"] == "pytorch"
    assert got["mxnet-tuned"]["ratio"] == 1.0 and got["mxnet-tuned"]["best"] == "mxnet-tuned"
    known = {"mxnet-tuned": {"1 threads (scaling run s)": 1200.0}, "pytorch": {"1 threads": 100.0}}
    got = {r["tuned"]: r for r in targets.tuned_vs_best(run, known)}
    assert got["mxnet-tuned"]["ratio"] == pytest.approx(800 / 1200) and not got["mxnet-tuned"]["met"]
    assert got["mxnet-tuned"]["best_where"] == "1 threads (scaling run s)"
    assert got["pytorch-tuned"]["ratio"] == pytest.approx(0.9)        # a slower known configuration changes nothing
    lines = targets.tuned_lines(targets.tuned_vs_best(run, known))
    assert lines == ["pytorch-tuned: 900 img/s = 0.90x the best known, pytorch (this run) at 1,000 img/s "
                     "(goal 0.8x: met)",
                     "mxnet-tuned: 800 img/s = 0.67x the best known, mxnet-tuned (1 threads (scaling run s)) at "
                     "1,200 img/s (goal 0.8x: missed)"]
    assert targets.tuned_lines(targets.tuned_vs_best(_run({"pytorch-tuned": 5.0}))) == [
        "tuned against best: no chapter has a tuned row and another row in this run"]


def test_scaling_records_count_only_from_the_same_host_protocol_and_other_thread_counts(tmp_path):
    from labkit import records

    def rec(name, value, threads, quick=True):
        return records.record(name, "scaling_train_images_per_s", value, "img/s", threads=threads, run="s1",
                              path=tmp_path, quick=quick)

    base = rec("mxnet", 1.0, 2)                 # the run's own thread count: not another configuration
    rec("mxnet-tuned", 1500.0, 1)
    rec("mxnet-tuned", 999.0, 1, quick=False)   # another protocol
    rec("theano", 50.0, 1)                      # not in the run
    run = _run({"mxnet": 500.0, "mxnet-tuned": 800.0}, records=[base])
    assert targets.known_from_scaling(run, tmp_path) == {"mxnet-tuned": {"1 threads (scaling run s1)": 1500.0}}
