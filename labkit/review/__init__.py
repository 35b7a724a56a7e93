"""The 2017 review this workbook grows out of, as data: the code of its figures as printed
(``figures``), the check that a chapter shows them faithfully (``lint``), its Table 1
(``table1``), its criteria as a matrix (``criteria``), every system it names and their state
today (``systems``), its errata (``errata``), its other claims set beside the workbook
(``claims``), and LeNet in the idioms of the systems that cannot run here (``idioms``)."""

from .figures import CAPTIONS, FIGURES, TAG, differences

__all__ = ["CAPTIONS", "FIGURES", "TAG", "differences", "claims", "criteria", "errata", "idioms", "lint",
           "systems", "table1"]


def __getattr__(name):
    """The submodules load on first use, so ``import labkit.review`` stays light."""
    if name in ("claims", "criteria", "errata", "idioms", "lint", "systems", "table1"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
