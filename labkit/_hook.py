"""A tiny import hook: run a function just before, or just after, a named module is imported.

This file imports only the standard library, because it is loaded at interpreter start-up
(``labkit._startup``, run by the ``labkit_compat.pth`` file that ``python -m labkit compat
--install-hook`` writes into the environment). It knows nothing about toolkits and imports
nothing of labkit: ``labkit._startup`` and ``labkit.compat`` register what to do.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Callable

_before: dict[str, list[Callable[[], None]]] = {}
_after: dict[str, list[Callable[[object], None]]] = {}


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the real loader of a watched module."""

    _busy: set[str] = set()

    def find_spec(self, fullname, path, target=None):
        if fullname not in _before and fullname not in _after:
            return None
        if fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            while _before.get(fullname):      # a callback may register more for this name
                for fn in _before.pop(fullname):
                    fn()
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None or fullname not in _after:
            return spec
        spec.loader = _AfterLoader(spec.loader, _after.pop(fullname))
        return spec


class _AfterLoader(importlib.abc.Loader):
    def __init__(self, loader, callbacks):
        self._loader = loader
        self._callbacks = callbacks

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        for fn in self._callbacks:
            fn(module)

    def __getattr__(self, name):  # is_package, get_source, ... for tools that ask
        return getattr(self._loader, name)


_FINDER = _Finder()


def before_import(name: str, fn: Callable[[], None]) -> None:
    """Call ``fn()`` before ``name`` is first imported (at once if it already has been)."""
    if name in sys.modules:
        fn()
    else:
        _before.setdefault(name, []).append(fn)
        _ensure_installed()


def after_import(name: str, fn: Callable[[object], None]) -> None:
    """Call ``fn(module)`` once ``name`` has been imported (at once if it already has been)."""
    if name in sys.modules:
        fn(sys.modules[name])
    else:
        _after.setdefault(name, []).append(fn)
        _ensure_installed()


def _ensure_installed() -> None:
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
