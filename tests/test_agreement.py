"""labkit.agreement: the second weight set, the loss-curve batches and float64 reference, the run
records. The chapters' own runs (a toolkit per child) are in tests/test_chapters.py."""
import numpy as np
import pytest

from labkit import agreement, lenet, toolkits

#: The rows whose settings are keyword options of the chapter's functions and tuned: run here
#: as the comparison runs them (tests/test_chapters.py runs one row per chapter and environment).
#: Rows kept out of chapter 40's quick run for their cost (quick=False: torch.compile, measured
#: at 502 s here under load) are left to tests/test_compare.py, whose session run checks their
#: probe logits, one step and their first losses against every other row's.
TUNED = [e.name for e in toolkits.ENTRIES.values() if e.options and e.tuned and not e.adapter and e.quick]


def test_the_second_weight_set_differs_from_the_shared_one_and_has_biases():
    w, shared = agreement.other_weights(), lenet.initial_weights()
    assert {k: v.shape for k, v in w.items()} == lenet.PARAM_SHAPES
    assert all(v.dtype == np.float32 for v in w.values())
    for k in w:
        assert not np.array_equal(w[k], shared[k]), k
        if k.endswith(".bias"):
            assert 0 < np.abs(w[k]).max() <= agreement.BIAS_SCALE and np.abs(w[k]).min() > 0
    assert np.array_equal(agreement.other_weights()["fc1.bias"], w["fc1.bias"])     # seeded


def test_the_loss_batches_are_full_and_cross_into_the_next_epoch():
    b = agreement.loss_batches()
    assert len(b) == agreement.LOSS_STEPS
    assert all(x.shape == (agreement.LOSS_BATCH, 1, 28, 28) and x.dtype == np.float32 for x, _ in b)
    assert all(0 <= x.min() and x.max() <= 1 for x, _ in b)
    per_epoch = lenet.QUICK.n_train // agreement.LOSS_BATCH
    first = np.concatenate([x for x, _ in b[:per_epoch]]).reshape(per_epoch * agreement.LOSS_BATCH, -1)
    assert len(np.unique(first, axis=0)) > 0.95 * len(first)        # one epoch: (nearly) no repeats
    assert not np.array_equal(b[0][0], b[per_epoch][0])              # the next epoch is reshuffled


def test_the_float64_losses_follow_caffes_rule():
    """Two steps: the first loss is the reference loss at the shared weights; the second is the
    loss after one step of lenet.caffe_sgd (the rule every chapter's make_train_step is held to)."""
    got = agreement.reference_losses(2)
    (x0, y0), (x1, y1) = agreement.loss_batches(2)
    w0 = lenet.initial_weights()
    assert got[0] == pytest.approx(lenet.softmax_cross_entropy(lenet.forward(w0, x0), y0), rel=1e-12)
    w1 = lenet.caffe_sgd(w0, x0, y0, lenet.FULL, [agreement.LOSS_LR])
    assert got[1] == pytest.approx(lenet.softmax_cross_entropy(lenet.forward(w1, x1), y1), rel=1e-12)
    assert np.array_equal(agreement.loss_gap(list(got)), [0, 0])
    assert agreement.loss_gap([got[0] + 1e-6, got[1]])[0] == pytest.approx(1e-6, rel=1e-6)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="flat list of 1 to"):
        agreement.loss_gap([[1.0, 2.0]])
    with pytest.raises(ValueError, match="3 losses against a reference of 2"):
        agreement.loss_gap([1.0, 2.0, 3.0], reference=[1.0, 2.0])
    with pytest.raises(ValueError, match="steps=0"):
        agreement.measure({}, 0)
    with pytest.raises(KeyError, match="no comparison row 'torch7'.*pytorch"):
        agreement.run_chapter("torch7")


def test_a_record_keeps_the_curve_and_the_newest_wins(tmp_path):
    losses = list(agreement.reference_losses(2))
    result = {"losses": losses, "other_weights": {"logits_max_diff": 1e-7}, "pool_routing": {},
              "extra_seconds": {"losses": 1.0}}
    agreement.write_record("pytorch", result, path=tmp_path)
    agreement.write_record("pytorch", {**result, "losses": [losses[0] + 2e-7, losses[1]]}, path=tmp_path)
    rec = agreement.latest_records(tmp_path)["pytorch"]
    assert rec["metric"] == agreement.RECORD_METRIC and rec["value"] == pytest.approx(2e-7, rel=1e-6)
    assert rec["losses"][1] == losses[1] and rec["other_weights"] == {"logits_max_diff": 1e-7}


def _good_result(steps=2):
    """What run_chapter returns for a row that agrees exactly (the reference itself)."""
    zero = {k: 0.0 for k in lenet.PARAM_SHAPES}
    routing = {"pair": {"rules": ["first", "first by column"]}}
    return {"logits_max_diff": 0.0, "step_max_diff": zero, "train_step_max_diff": zero, "step_rel_diff": zero,
            "train_step_rel_diff": zero, "losses": list(agreement.reference_losses(steps)),
            "other_weights": {"images": "x", "logits_max_diff": 0.0, "step_max_diff": zero, "step_rel_diff": zero},
            "pool_routing": routing}


def test_failures_name_what_a_row_got_wrong():
    good = _good_result()
    assert agreement.failures(good, 2) == []
    assert agreement.failures(good, 3)[0].startswith("loss curve vs float64: 2 of 3 steps")
    bad = {**good, "logits_max_diff": 1e-3,
           "train_step_max_diff": {**good["train_step_max_diff"], "fc1.weight": 1e-4},
           "losses": [good["losses"][0] + 1e-3, good["losses"][1]], "pool_routing": {"p": {"rules": []}}}
    got = agreement.failures(bad, 2)
    assert got[0] == f"probe logits differ by 0.001 (> {lenet.LOGITS_ATOL:g})"
    assert "steps of make_train_step" in got[1] and "fc1.weight" in got[1]
    assert got[2].startswith("loss curve vs float64: 2 of 2 steps, gap 0.001 at step 1")
    assert got[3].startswith("a tied max-pooling window routes its gradient by no known rule")
    assert len(got) == 4


def test_the_tuned_rows_are_the_ones_with_options():
    assert "mxnet-tuned" in TUNED and "pytorch-tuned" not in TUNED


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", TUNED)
def test_a_tuned_row_agrees_as_the_comparison_runs_it(name):
    """The child binds the row's options (``worker.contract``), so pytorch-tuned's LeNet is
    channels-last and torch.compile'd, mxnet-tuned's a static hybridized block, in every check:
    probe, SGD step, make_train_step, 50 losses against float64, second weight set, pooling ties.
    Measured 2026-12-02 (AMD EPYC, 2 cores shared with four other jobs, so inflated): pytorch-tuned
    502 s (its child: loss curve 159 s, second weight set 45 s, pooling routing 59 s; each new
    model compiles afresh), mxnet-tuned 16 s; both pass (loss gaps 2.3e-7 and 2.7e-5)."""
    entry = toolkits.ENTRIES[name]
    result = agreement.run_chapter(name, timeout=840)
    agreement.write_record(name, result)
    assert result["row"] == name and result["options"] == entry.options
    assert agreement.failures(result, entry.loss_steps or agreement.LOSS_STEPS) == []
