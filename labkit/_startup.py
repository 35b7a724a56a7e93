"""The entry point of the start-up hook: arm the legacy-toolkit shims, cheaply.

``python -m labkit compat --install-hook`` writes ``labkit_compat.pth`` into the
environment; Python runs its one line at every start, which calls :func:`install`. Nothing
heavy happens here: ``labkit.compat`` is imported only when a toolkit the registry marks as
needing it (``compat=True``: Theano, Lasagne, Chainer, MXNet, Paddle) is imported. ``LABKIT_NO_COMPAT=1`` turns this off
(the tests use it to show what fails without the shims).

The chain is one-way: this module uses ``labkit._hook`` (the mechanism) and ``labkit.compat``
(the shims); neither of them imports this one.
"""
from __future__ import annotations


def install() -> None:
    """Register ``compat.apply`` to run just before each legacy toolkit is first imported."""
    from labkit import _hook, settings, toolkits

    if settings.no_compat():
        return
    for name in toolkits.legacy_modules():
        _hook.before_import(name, _apply_compat)


def _apply_compat() -> None:
    from labkit import compat

    compat.apply()
