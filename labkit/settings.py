"""Every ``LABKIT_*`` environment variable the workbook reads, read here and nowhere else.

One rule for switches: ``1``, ``true``, ``yes`` and ``on`` (any case, spaces ignored) mean on;
anything else, or the variable unset, means off.

========================  ================================================================
variable                  meaning
========================  ================================================================
``LABKIT_QUICK``          the tests' short path: small data, short training (switch)
``LABKIT_OFFLINE``        never download datasets or chapter notebooks (switch; a
                          notebook already in the cache is still used)
``LABKIT_NO_COMPAT``      do not arm the legacy-toolkit shims at start-up (switch)
``LABKIT_DATA``           a folder of dataset files to use first
``LABKIT_MIRRORS``        download mirrors replacing the built-in ones (spaces or commas)
``LABKIT_CACHE``          the data cache folder
``LABKIT_RUNS``           the run-records folder
``LABKIT_PROGRESS``       how ``LiveProgress`` shows itself: notebook, text or off
``LABKIT_NOTEBOOKS``      where the chapter notebooks are (an installed labkit has none)
``LABKIT_NOTEBOOKS_URL``  the base URL an installed labkit fetches a chapter notebook
                          from (``NAME.ipynb`` is added; default: the repository's
                          ``notebooks/`` on GitHub, ``labkit.chapters_fetch``)
``LABKIT_DEVICE``         where a toolkit runs: auto (a GPU where it sees one), cpu or gpu
``LABKIT_BINDER``         1: run as on Binder (a chapter too big for its memory limit
                          takes its lighter default); 0: never; unset: found out
                          (``labkit.hosting``, which reads it with the other hosting
                          variables it can be handed)
``LABKIT_SKIP_JVM``       (read by ``make setup`` only) leave H2O and ND4J out of the
                          install
``LABKIT_WHEELS``         where ``make caffe`` keeps the real-Caffe wheel it built (and
                          the workshop's cache table looks)
``LABKIT_SOURCE``         (read by the chapters' Colab install cell only) the pip
                          requirement labkit is installed from there instead of the
                          repository: a folder, a wheel, or ``labkit @ git+https://...``
                          of a fork
========================  ================================================================

This module imports only ``os``: the start-up hook reads it in every Python process.
"""
from __future__ import annotations

import os

TRUE = frozenset({"1", "true", "yes", "on"})


def truthy(value: str | None) -> bool:
    """The one rule for switches: '1', 'true', 'yes', 'on' (any case) are on."""
    return (value or "").strip().lower() in TRUE


def flag(name: str) -> bool:
    """Is the switch ``name`` on in the environment?"""
    return truthy(os.environ.get(name))


def text(name: str) -> str | None:
    """The variable's value with surrounding spaces removed, or None when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def quick() -> bool:
    """``LABKIT_QUICK``: the tests' short path."""
    return flag("LABKIT_QUICK")


def offline() -> bool:
    """``LABKIT_OFFLINE``: datasets and chapter notebooks are never downloaded."""
    return flag("LABKIT_OFFLINE")


def no_compat() -> bool:
    """``LABKIT_NO_COMPAT``: the start-up hook leaves the legacy toolkits unshimmed."""
    return flag("LABKIT_NO_COMPAT")


def data_dir() -> str | None:
    """``LABKIT_DATA``: a folder of dataset files the reader names."""
    return text("LABKIT_DATA")


def mirrors() -> list[str] | None:
    """``LABKIT_MIRRORS``: base URLs, separated by spaces or commas; None when unset."""
    value = text("LABKIT_MIRRORS")
    return value.replace(",", " ").split() if value else None


def cache_dir() -> str | None:
    """``LABKIT_CACHE``: the data cache folder."""
    return text("LABKIT_CACHE")


def runs_dir() -> str | None:
    """``LABKIT_RUNS``: the run-records folder."""
    return text("LABKIT_RUNS")


def progress_mode() -> str | None:
    """``LABKIT_PROGRESS``: 'notebook', 'text' or 'off' (checked by LiveProgress)."""
    return text("LABKIT_PROGRESS")


def notebooks_dir() -> str | None:
    """``LABKIT_NOTEBOOKS``: the folder of chapter notebooks."""
    return text("LABKIT_NOTEBOOKS")


def notebooks_url() -> str | None:
    """``LABKIT_NOTEBOOKS_URL``: the base URL chapter notebooks are fetched from."""
    return text("LABKIT_NOTEBOOKS_URL")
