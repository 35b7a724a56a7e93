"""labkit.compare.scaling: the wait policy recorded, thread counts checked, the table from results."""
from __future__ import annotations

import pytest

from labkit.compare import scaling
from labkit.machine import usable_cpus


def _result(train, b1, b256):
    return {"train_images_per_s": train, "infer": {"1": {"median": b1}, "256": {"median": b256}}}


def test_wait_policy_records_each_variable_as_set_or_unset():
    assert scaling.wait_policy({"OMP_WAIT_POLICY": "passive", "PATH": "/bin"}) == {
        "OMP_WAIT_POLICY": "passive", "KMP_BLOCKTIME": "unset", "GOMP_SPINCOUNT": "unset"}


def test_thread_counts_default_and_errors():
    assert scaling.thread_counts() == sorted({1, usable_cpus()})
    assert scaling.thread_counts([4, 1, 4]) == [1, 4]
    with pytest.raises(ValueError, match="threads must be a positive whole number, got 0"):
        scaling.thread_counts([0])


def test_table_puts_thread_counts_side_by_side_with_the_speedup():
    runs = {1: {"results": {"pytorch": _result(1000, 400, 2000), "chainer": _result(500, 100, 800)}},
            2: {"results": {"pytorch": _result(1500, 420, 3600)}}}          # chainer failed at 2 threads
    t = scaling.table(runs)
    assert t.columns[:4] == ["toolkit", "train @1", "train @2", "train x"]
    assert t.rows[0][:4] == ["pytorch", "1,000", "1,500", "1.50"]
    assert t.rows[0][-3:] == ["2,000", "3,600", "1.80"]
    assert t.rows[1][:4] == ["chainer", "500", "-", "-"]
