"""labkit.exercises: every solution in the chapters passes its check, a wrong answer fails, the
check never prints the answer, and every chapter's check cell runs unanswered."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from labkit import exercises, lenet
from labkit.exercises import check

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOLUTION = re.compile(r"<details><summary>Solution to exercise \d+ \((?P<key>[\d.]+)\)</summary>\s*```python\n(?P<code>.*?)```",
                      re.S)
SLOW = {"10.4", "10.5", "20.3"}          # they import PyTorch (20.3 through labkit.caffe.solver)


def _solutions() -> dict[str, str]:
    found = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                for m in SOLUTION.finditer(cell.source):
                    found[m["key"]] = m["code"]
    return found


def _run(code: str, answer_only: bool = False):
    """Run a solution's code; return what its last line (the check call) returns, or the answer
    it passes."""
    tree = ast.parse(code)
    last = tree.body.pop()
    namespace: dict = {}
    exec(compile(tree, "<solution>", "exec"), namespace)
    expr = last.value.args[1] if answer_only else last.value
    return eval(compile(ast.Expression(expr), "<solution>", "eval"), namespace)


r = lenet.FULL
#: For each exercise, answers a reader might plausibly give that must fail.
WRONG = {
    "01.3": [lambda x: np.swapaxes(x, 1, 3), lambda x: x.reshape(x.shape[0], x.shape[2], x.shape[3], x.shape[1])],
    "10.4": [lambda s: r.base_lr * (1 + r.gamma * s) ** -r.power, lambda s: (1 + r.gamma * (s + 1)) ** -r.power],
    "10.5": [lambda x: 1.5 * (x + 2), lambda x: 2 / 3 * (x + 2)],
    "12.2": [lambda w: w, lambda w: w[::-1, ::-1, ::-1, ::-1], lambda w: w.transpose(0, 1, 3, 2)],
    "13.1": [lambda w: w[:, :, ::-1]],
    "14.1": [(800, 1250), (1250, 1250), 1250],
    "14.5": [lambda w: w, lambda w: w.reshape(500, 4, 4, 50).transpose(0, 3, 1, 2).reshape(500, 800)],
    "16.3": [(800, 1250), "1250, 800"],
    "18.1": [(500, 50, 4, 4), (500, 5, 5, 50)],
    "20.1": [((20, 12, 12), 800), ((20, 11, 11), 800)],
    "20.3": [lambda i: 0.01 * 0.1 ** sum(i > s for s in (5000, 7500)), lambda i: 0.01],
}


def _param(keys):
    return [pytest.param(k, marks=pytest.mark.slow) if k in SLOW else k for k in sorted(keys)]


def test_every_check_has_a_solution_and_wrong_answers():
    assert set(_solutions()) == set(exercises.EXERCISES), "a check without a solution cell, or the reverse"
    assert set(WRONG) == set(exercises.EXERCISES)


@pytest.mark.parametrize("key", _param(exercises.EXERCISES))
def test_the_solution_passes(key):
    verdict = _run(_solutions()[key])
    assert verdict.ok, verdict


@pytest.mark.parametrize("key", _param(exercises.EXERCISES))
def test_wrong_answers_fail_with_a_hint_and_without_the_answer(key):
    right = _run(_solutions()[key])
    assert right.ok
    for answer in WRONG[key]:
        verdict = check(key, answer)
        assert not verdict.ok and verdict.status == "wrong", (key, answer, verdict)
        assert len(verdict.message) > 20, verdict
    answer = _run(_solutions()[key], answer_only=True)
    if not callable(answer):      # an answer that is a value: no message may contain it
        values = {str(answer), *(str(v) for v in np.ravel(np.asarray(answer, dtype=object)) if not isinstance(v, tuple))}
        values |= {str(v) for part in answer if isinstance(part, tuple) for v in (part,)} if isinstance(answer, tuple) else set()
        for wrong in WRONG[key]:
            message = str(check(key, wrong))
            echoed = set(re.findall(r"\d+", str(wrong)))     # the reader's own numbers may be repeated
            assert not [v for v in values - echoed if re.search(rf"(?<![\d.]){re.escape(v)}(?![\d.])", message)], (key, message)


def test_unanswered_and_unknown():
    verdict = check("01.3", None)
    assert verdict.status == "unanswered" and not verdict and "not answered yet" in str(verdict)
    with pytest.raises(KeyError, match="checked exercises are"):
        check("99.9", 1)


def test_a_reader_function_that_raises_is_reported_not_raised():
    def broken(x):
        raise RuntimeError("oops")
    verdict = check("01.3", broken)
    assert not verdict and "RuntimeError: oops" in str(verdict)


def test_every_check_cell_in_the_chapters_runs_unanswered():
    cells = [cell.source for path in sorted(NOTEBOOKS.glob("*.ipynb"))
             for cell in nbformat.read(path, as_version=4).cells
             if cell.cell_type == "code" and "labkit.exercises" in cell.source or
             (cell.cell_type == "code" and re.search(r"^check\(\"", cell.source, re.M))]
    called = set()
    for source in cells:
        for key in re.findall(r"check\(\"([\d.]+)\", None\)", source):
            assert check(key, None).status == "unanswered"
            called.add(key)
    assert called == set(exercises.EXERCISES)
