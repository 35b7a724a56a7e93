"""The 2017 review this workbook grows out of, as data: the code of its figures as printed
(``figures``)."""

from .figures import CAPTIONS, FIGURES, TAG, differences

__all__ = ["CAPTIONS", "FIGURES", "TAG", "differences"]
