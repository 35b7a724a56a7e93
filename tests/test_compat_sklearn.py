"""labkit.compat_sklearn: scikit-learn 0.17's KFold and StratifiedKFold signatures over today's
model_selection, and the collections alias, without Nolearn (the shims against Nolearn itself
are in tests/test_compat.py)."""

import numpy as np
import pytest

from labkit import compat_sklearn as cs


def test_kfold_old_signature_is_the_iterable_of_index_pairs():
    folds = list(cs.KFold(10, 3))
    assert len(cs.KFold(10, 3)) == 3 and [len(test) for _, test in folds] == [4, 3, 3]
    assert np.array_equal(np.sort(np.concatenate([test for _, test in folds])), np.arange(10))
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == 10


def test_kfold_shuffles_reproducibly():
    a = [test.tolist() for _, test in cs.KFold(12, 3, shuffle=True, random_state=0)]
    b = [test.tolist() for _, test in cs.KFold(12, 3, shuffle=True, random_state=0)]
    assert a == b and a != [test.tolist() for _, test in cs.KFold(12, 3)]


def test_stratified_kfold_keeps_class_shares_as_nolearn_uses_it():
    y = np.array([0] * 40 + [1] * 10)
    train, valid = next(iter(cs.StratifiedKFold(y, round(1.0 / 0.2))))   # nolearn's TrainSplit(eval_size=0.2)
    assert len(valid) == 10 and np.bincount(y[valid]).tolist() == [8, 2]
    assert len(train) == 40


@pytest.mark.parametrize("call, message", [
    (lambda: cs.KFold(np.zeros(5), 2), "n is the number of samples"),
    (lambda: cs.KFold(5, 1), "at least 2 folds"),
    (lambda: cs.KFold(3, 4), "cannot split 3 samples into 4 folds"),
    (lambda: cs.KFold(5, 2.5), "whole number of folds"),
    (lambda: cs.StratifiedKFold(np.zeros((4, 2)), 2), "one label per sample"),
])
def test_bad_arguments_say_what_was_wrong(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


def test_collections_alias_is_the_abc_itself():
    import collections

    first = cs.collections_abc_aliases()
    assert collections.Iterable is collections.abc.Iterable
    assert cs.collections_abc_aliases() == "nothing to do"
    assert first in ("restored collections.Iterable", "nothing to do")
