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
