"""The book: every chapter with its outputs, as a static HTML site (``make book``).

``executed``  the executed copies in ``runs/executed/``: turning a kernel's messages into a
              notebook's outputs (``Recorder``), writing a copy with the run's machine, date and
              mode, and checking copies (missing, stale, incomplete) before a build
``run``       running a chapter with nbclient for ``make book``: full mode within a time budget,
              quick mode otherwise, said in the copy
``site``      the Sphinx + MyST-NB site, built from the executed copies without running anything
``widgets``   the widgets' saved state (kept from the kernel's comm messages) and its drawing as
              plain HTML on the pages, with a line where a control needs a live kernel

``make test`` writes the executed copies as a side effect of its nbval run
(``tests/executed_notebooks.py``), so the book costs no second run of the chapters.
``python -m labkit.book`` is the command line ``make book`` calls.
"""
