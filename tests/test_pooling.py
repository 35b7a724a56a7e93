"""labkit.pooling: the routing probe reads back each rule from the NumPy reference, and near ties
are found and priced. No toolkit here: the chapters' own networks run in tests/test_chapters.py."""
import numpy as np
import pytest

from labkit import lenet, pooling


def _numpy_lenet(ties):
    """The float64 NumPy reference behind the chapters' contract, routing ties by ``ties``: the
    routing probe runs on it exactly as on a chapter's cells."""
    def sgd_step(model, x, y, lr):
        _, g = lenet.loss_and_grads(model, x, y, ties=ties)
        model.update({k: model[k] - lr * g[k] for k in g})
    return {"build_lenet": dict, "load_canonical": lambda m, w: m.update({k: np.float64(v) for k, v in w.items()}),
            "export_canonical": dict, "sgd_step": sgd_step}


@pytest.mark.parametrize("ties", pooling.TIES)
def test_the_routing_probe_reads_back_every_rule(ties):
    """The reference under each rule, run through pool_routing, is named that rule and no other;
    each pattern's shares are the rule's (first and last differ, split halves, all doubles)."""
    routing = pooling.pool_routing(_numpy_lenet(ties))
    assert pooling.rule_of(routing) == ties, routing
    for tied in pooling.TIE_PATTERNS:
        share = routing["".join(map(str, tied))]["share"]
        assert np.allclose(share, pooling.expected_share(tied, ties), atol=1e-6), (tied, share)


def test_a_column_by_column_scan_is_told_from_first_and_last():
    col = {"".join(map(str, t)): {"rules": [r for r in pooling.RULES if np.array_equal(
        pooling.expected_share(t, r), pooling.expected_share(t, "first by column"))]} for t in pooling.TIE_PATTERNS}
    assert pooling.rule_of(col) == "first by column"
    assert pooling.rule_of({"01": {"rules": ["first"]}, "12": {"rules": ["last"]}}) == "none"
    with pytest.raises(ValueError, match="ties='middle'"):
        pooling.expected_share((0, 1), "middle")


def test_the_probe_case_holds_the_ties_it_says_and_no_others():
    w, x, y, windows = pooling.routing_case()
    a1 = pooling.pool_inputs(w, x)["pool1"][0]
    gaps = pooling.window_gaps(w, x, "pool1")[0, :4]
    for f, (tied, (r, c)) in enumerate(zip(pooling.TIE_PATTERNS, windows)):
        win = a1[f, r:r + 2, c:c + 2].ravel()
        assert (win[list(tied)] == np.float32(0.9)).all() and win.max() == np.float32(0.9)
        assert (np.delete(win, list(tied)) < 0.5).all()
        assert gaps[f, r // 2, c // 2] == 0
    assert (gaps == 0).sum() == 4 * 4           # each filter sees all four tied windows, no other tie


def test_a_flip_costs_what_moving_the_gradient_does():
    """Give pool2's first window an exact tie (0.9 twice): routing its gradient to the runner-up
    is then what the rule 'last' does instead of 'first', and flip_cost must price exactly that."""
    w, x, y, _ = pooling.routing_case()
    x[0, 0, 6, 6] = 0.9                   # conv1 (4, 4) -> pool1 (2, 2) -> conv2 (0, 0): pool2 window (0, 0)
    assert pooling.window_gaps(w, x)[0, 0, 0, 0] == 0
    _, first = lenet.loss_and_grads(w, x, y, ties="first")
    _, last = lenet.loss_and_grads(w, x, y, ties="last")
    moved = lenet.PROBE_LR * np.abs(last["conv2.weight"] - first["conv2.weight"]).max()
    assert moved > 1e-4
    assert pooling.flip_cost(w, x, y, (0, 0, 0, 0)) == pytest.approx(moved, rel=1e-12)
    with pytest.raises(ValueError, match="choose 'pool1' or 'pool2'"):
        pooling.window_gaps(w, x, "conv1")


def test_an_unknown_tie_rule_is_named():
    w = lenet.initial_weights()
    x, y = lenet.probe_batch()
    with pytest.raises(ValueError, match="ties='middle'.*'first'"):
        lenet.loss_and_grads(w, x[:2], y[:2], ties="middle")
