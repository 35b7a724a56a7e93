"""labkit.sidebyside: the chapters split by contract function, and the one-line differences
found in the source, each claim checked against the line it names."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from labkit import chapters, sidebyside

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture(scope="module")
def books():
    return sidebyside.read_all()


def test_every_chapter_splits_into_the_contract(books):
    assert sorted([c.notebook for c in books] + list(sidebyside.missing())) == list(sidebyside.lenet_chapters())
    assert len(books) >= 8
    for c in books:
        assert all(re.search(rf"^def {f}\(", c.code(f), re.M) for f in chapters.CONTRACT), c.notebook
        covered = sorted(n for spans in c.rows.values() for a, b in spans for n in range(a, b + 1))
        assert len(covered) == len(set(covered)), f"{c.notebook}: a line is shown in two rows"
        code_lines = {n for n, ln in enumerate(c.source.splitlines(), 1) if ln.strip() and not ln.startswith((" ", "#", ")", "]", "}"))}
        assert code_lines <= set(covered), f"{c.notebook}: lines {sorted(code_lines - set(covered))[:5]} in no row"


def test_helpers_go_with_the_function_that_uses_them():
    source = "import numpy as np\n\nK = 3\n\ndef helper(x):\n    return x * K\n\n" + "".join(
        f"def {f}(*a):\n    return {'helper(a)' if f == 'load_canonical' else 'None'}\n\n" for f in chapters.CONTRACT)
    rows = sidebyside.split(source)
    lines = source.splitlines()
    shown = lambda row: [lines[n - 1] for a, b in rows[row] for n in range(a, b + 1)]  # noqa: E731
    assert "K = 3" in shown("load_canonical") and "def helper(x):" in shown("load_canonical")
    assert shown(sidebyside.SETUP) == ["import numpy as np"]


@pytest.mark.parametrize("line, aspect, fires", [
    ("    return np.asarray(x).transpose(0, 2, 3, 1)", "images", True),
    ("    return x.permute(0, 2, 3, 1)", "images", True),
    ("    return x.transpose(0, 1, 3, 2)", "images", False),
    ("    h = T.nnet.conv2d(x, W, filter_flip=False)", "kernel flip", True),
    ("    w = w[:, :, ::-1, ::-1]", "kernel flip", True),
    ("    h = T.nnet.conv2d(x, W)  # filter_flip=False would be Caffe's", "kernel flip", False),
    ("    h = F.max_pooling_2d(h, 2, cover_all=False)", "pooling rounding", True),
    ("    h = nn.MaxPool2d(2, ceil_mode=True)(h)", "pooling rounding", True),
    ("    h = tf.nn.conv2d(x, k, 1, padding='VALID')", "pooling rounding", False),
])
def test_detectors(line, aspect, fires):
    source = "".join(f"def {f}(x):\n{line if f == 'predict_logits' else '    return x'}\n\n" for f in chapters.CONTRACT)
    chapter = sidebyside.Chapter("x.ipynb", "X", source, sidebyside.split(source))
    found = sidebyside.differences(chapter)[aspect]
    assert (found.line is not None) == fires, found


def test_each_claim_stands_on_its_line(books):
    """Every finding names a line of the chapter's tagged code that shows it; and the claims
    hang together: a channels-last flatten or kernel layout only where the images are NHWC."""
    hits = {aspect: 0 for aspect in sidebyside.DETECTORS}
    for c in books:
        lines = c.source.splitlines()
        found = sidebyside.differences(c)
        for aspect, f in found.items():
            if f.line is not None:
                hits[aspect] += 1
                assert lines[f.line - 1].strip() == f.evidence, (c.notebook, aspect)
                assert not f.evidence.startswith("#"), (c.notebook, aspect)
        if found["flatten order"].line or found["conv kernels"].line:
            assert found["images"].value.startswith("NHWC"), c.notebook
    assert all(hits.values()), f"a detector found nothing in any chapter: {hits}"


def test_rendering(books):
    page = sidebyside.html(only=[books[0].notebook], rows=["build_lenet"])
    assert "def build_lenet" in page._repr_html_() and "<table" in page._repr_html_()
    assert "def build_lenet" in sidebyside.text(rows=["build_lenet"], columns=True)
    with pytest.raises(ValueError, match="the rows are"):
        sidebyside.text(rows=["train"])
    with pytest.raises(ValueError, match="not a LeNet chapter"):
        sidebyside.read("02_glossary.ipynb")


def _slug(heading: str) -> str:
    """The anchor JupyterLab gives a heading: its text, markup removed, spaces as hyphens."""
    return re.sub(r"[`*]", "", heading.lstrip("#").strip()).replace(" ", "-")


def test_the_glossary_links_reach_their_targets():
    glossary = nbformat.read(NOTEBOOKS / "02_glossary.ipynb", as_version=4)
    links = [m for cell in glossary.cells if cell.cell_type == "markdown"
             for m in re.findall(r"\]\(([\w.]+\.ipynb)(?:#([^)]+))?\)", cell.source)]
    assert len(links) >= 10
    for target, anchor in links:
        assert (NOTEBOOKS / target).is_file(), target
        if anchor:
            headings = {_slug(ln) for cell in nbformat.read(NOTEBOOKS / target, as_version=4).cells
                        if cell.cell_type == "markdown" for ln in cell.source.splitlines() if ln.startswith("#")}
            assert anchor in headings, f"{target}#{anchor}: no such heading"
