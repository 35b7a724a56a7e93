"""labkit: what every chapter of the deep-learning toolkits workbook shares.

Data loaders (``labkit.data``), the device table (``labkit.device``), timers and run
records (``labkit.timing``), the shims for 2015-2020 toolkits (``labkit.compat``) and the
reference LeNet (``labkit.lenet``). Importing ``labkit`` imports no deep-learning toolkit:
each module imports what it needs when a function asks for it.
"""
import os

__version__ = "0.1.0"


def quick_mode() -> bool:
    """True when ``LABKIT_QUICK`` asks for the short path the tests take (``1``, ``true``, ``yes``)."""
    return os.environ.get("LABKIT_QUICK", "").strip().lower() in {"1", "true", "yes", "on"}
