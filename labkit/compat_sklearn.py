"""What Nolearn 0.6.1 (2019) needs from the Python and scikit-learn of its day.

``labkit.compat`` arms both just before ``nolearn`` is imported and records what they did;
this module holds their bodies, so that ``compat`` stays one screenful of shims.

* ``collections_abc_aliases()``: ``nolearn.lasagne`` does ``from collections import
  Iterable``. The abstract base classes moved to ``collections.abc`` in Python 3.3 and
  their old ``collections`` aliases were removed in Python 3.10. We put back the one alias
  Nolearn uses (``ABC_ALIASES``), pointing at the same class.
* ``install_cross_validation()``: ``nolearn.lasagne`` imports ``KFold`` and
  ``StratifiedKFold`` from ``sklearn.cross_validation``, a module scikit-learn deprecated
  in 0.18 and removed in 0.20 (2018) in favour of ``sklearn.model_selection``. The two old
  classes took the data at construction and *were* the iterable of ``(train, test)``
  index pairs: ``KFold(n, n_folds)``, ``StratifiedKFold(y, n_folds)``. We provide them
  with those signatures, computed by today's ``model_selection`` splitters.

* ``nolearn_params(base)``: scikit-learn's ``get_params`` now reads every ``__init__``
  argument back as an attribute, and ``clone`` now demands that the constructor keep each
  parameter as the very object it was given. ``NeuralNet`` fails both: it never stores its
  removed arguments ``loss`` and ``X_tensor_type`` (which must be None), and it re-wraps
  ``layers`` in a new list. Without this, ``get_params``, ``clone``, ``cross_val_score`` and
  ``GridSearchCV`` all raise. We give the class those two attributes (None) and keep
  ``layers`` as given when it already is Nolearn's own list type.

None changes what any other library sees: the alias is the very class of
``collections.abc``, and the module is only added where scikit-learn has none of that name.
"""
from __future__ import annotations

import functools
import inspect
import operator
import sys
import types

#: The ``collections`` names Nolearn 0.6.1 imports (``nolearn/lasagne/base.py``); it needs no other.
ABC_ALIASES = ("Iterable",)

MODULE = "sklearn.cross_validation"


def collections_abc_aliases() -> str:
    """Restore ``collections.Iterable`` (removed in Python 3.10) as ``collections.abc.Iterable``."""
    import collections
    import collections.abc

    added = [name for name in ABC_ALIASES if not hasattr(collections, name)]
    for name in added:
        setattr(collections, name, getattr(collections.abc, name))
    return ("restored " + ", ".join(f"collections.{n}" for n in added)) if added else "nothing to do"


def _folds(n_folds) -> int:
    try:
        n_folds = operator.index(n_folds)
    except TypeError:
        raise TypeError(f"n_folds must be a whole number of folds, not {n_folds!r}") from None
    if n_folds < 2:
        raise ValueError(f"n_folds={n_folds}: cross-validation needs at least 2 folds "
                         "(Nolearn's TrainSplit asks for round(1 / eval_size); use eval_size <= 0.5)")
    return n_folds


class KFold:
    """scikit-learn 0.17's ``cross_validation.KFold(n, n_folds=3, shuffle=False,
    random_state=None)``: iterating gives ``n_folds`` pairs of (train, test) index arrays over
    ``range(n)``. Computed by ``sklearn.model_selection.KFold``: consecutive folds, the first
    ``n % n_folds`` one sample larger, as 0.17 did."""

    def __init__(self, n, n_folds=3, shuffle=False, random_state=None):
        try:
            self.n = operator.index(n)
        except TypeError:
            raise TypeError(f"KFold(n, n_folds): n is the number of samples (an int), not {type(n).__name__}; "
                            "the old API took the count, today's model_selection.KFold takes the data "
                            "in split()") from None
        self.n_folds = _folds(n_folds)
        if self.n_folds > self.n:
            raise ValueError(f"cannot split {self.n} samples into {self.n_folds} folds: need n >= n_folds")
        self.shuffle, self.random_state = shuffle, random_state

    def _splitter(self):
        from sklearn import model_selection

        return model_selection.KFold(self.n_folds, shuffle=self.shuffle,
                                     random_state=self.random_state if self.shuffle else None)

    def __iter__(self):
        import numpy as np

        yield from self._splitter().split(np.zeros((self.n, 1)))

    def __len__(self):
        return self.n_folds

    def __repr__(self):
        return f"sklearn.cross_validation.KFold(n={self.n}, n_folds={self.n_folds}, shuffle={self.shuffle})"


class StratifiedKFold:
    """scikit-learn 0.17's ``cross_validation.StratifiedKFold(y, n_folds=3, shuffle=False,
    random_state=None)``: ``n_folds`` (train, test) pairs, each fold keeping the class shares
    of ``y``. Computed by ``sklearn.model_selection.StratifiedKFold`` (since 0.22 it deals
    samples to folds slightly differently from 0.17, so which sample lands in which fold can
    differ; the class shares and the fold sizes are what Nolearn relies on)."""

    def __init__(self, y, n_folds=3, shuffle=False, random_state=None):
        import numpy as np

        self.y = np.asarray(y)
        if self.y.ndim != 1:
            raise ValueError(f"StratifiedKFold(y, n_folds): y must be one label per sample (1-D), "
                             f"got shape {self.y.shape}")
        self.n_folds = _folds(n_folds)
        self.shuffle, self.random_state = shuffle, random_state

    def __iter__(self):
        import numpy as np
        from sklearn import model_selection

        splitter = model_selection.StratifiedKFold(self.n_folds, shuffle=self.shuffle,
                                                   random_state=self.random_state if self.shuffle else None)
        yield from splitter.split(np.zeros((len(self.y), 1)), self.y)

    def __len__(self):
        return self.n_folds

    def __repr__(self):
        return f"sklearn.cross_validation.StratifiedKFold(labels={len(self.y)}, n_folds={self.n_folds})"


def install_cross_validation() -> str:
    """Make ``import sklearn.cross_validation`` give ``KFold`` and ``StratifiedKFold`` above,
    unless this scikit-learn still has a module of that name."""
    import importlib.util

    import sklearn

    if MODULE in sys.modules:
        return "nothing to do: sklearn.cross_validation is already loaded"
    if importlib.util.find_spec(MODULE) is not None:
        return f"nothing to do: scikit-learn {sklearn.__version__} still has sklearn.cross_validation"
    module = types.ModuleType(MODULE, "scikit-learn < 0.20's cross_validation.KFold and StratifiedKFold, "
                                      "provided by labkit.compat_sklearn for Nolearn 0.6.1.")
    module.KFold, module.StratifiedKFold = KFold, StratifiedKFold
    sys.modules[MODULE] = module
    sklearn.cross_validation = module
    return (f"added sklearn.cross_validation (KFold, StratifiedKFold with their 0.17 signatures) "
            f"over scikit-learn {sklearn.__version__}'s model_selection")


#: ``NeuralNet.__init__`` arguments Nolearn 0.6.1 removed and never stores (None is their only value).
REMOVED_PARAMS = ("loss", "X_tensor_type")


def nolearn_params(base) -> str:
    """Let ``nolearn.lasagne.base.NeuralNet`` pass today's ``get_params`` and ``clone`` checks."""
    net = base.NeuralNet
    if getattr(net, "_labkit_params", False):
        return "nothing to do"
    for name in REMOVED_PARAMS:
        if not hasattr(net, name):
            setattr(net, name, None)
    init, get_params, keeps = net.__init__, net.get_params, base._list
    signature = inspect.signature(init)

    @functools.wraps(init)           # keeps the signature get_params reads the parameter names from
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        for name, given in signature.bind(self, *args, **kwargs).arguments.items():
            stored = vars(self).get(name, given)
            if stored is not given and _equal(stored, given):   # `x or []`, the list re-wrapped
                setattr(self, name, given)

    @functools.wraps(get_params)
    def get_params_same_layers(self, deep=True):
        params = get_params(self, deep=deep)
        if isinstance(self.layers, keeps):  # Nolearn re-wraps it on every call: hand out the one list
            params["layers"] = self.layers
        return params

    net.__init__, net.get_params, net._labkit_params = __init__, get_params_same_layers, True
    return ("NeuralNet: " + ", ".join(REMOVED_PARAMS) + " read as None; parameters kept as the "
            "objects given, so get_params and clone work")


def _equal(a, b) -> bool:
    """Equal objects of related types (what scikit-learn's ``clone`` once accepted in place of the same)."""
    if not (isinstance(a, type(b)) or isinstance(b, type(a))):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):      # arrays and other things without one truth value
        return False
