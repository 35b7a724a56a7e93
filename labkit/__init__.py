"""labkit: what every chapter of the deep-learning toolkits workbook shares.

Importing ``labkit`` imports no deep-learning toolkit: each module imports what it needs
when a function asks for it. ``CONTRIBUTING.md`` in the workbook has the map of modules.
"""
__version__ = "0.1.0"


def quick_mode() -> bool:
    """True when ``LABKIT_QUICK`` asks for the short path the tests take (see labkit.settings)."""
    from labkit import settings

    return settings.quick()
