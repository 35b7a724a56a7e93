"""What the comparison measures without running a toolkit: lines of code, installed size,
model library, and what a deliberately wrong weight conversion does to the agreement check.
"""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import numpy as np

from labkit import lenet, toolkits
from labkit.toolkits import Entry

#: Distributions every toolkit needs anyway, left out of its installed size.
COMMON_DISTS = {"numpy", "setuptools", "pip", "wheel", "packaging", "typing-extensions"}


def installed(entry: Entry) -> bool:
    """Are the entry's modules importable here (looked up, not imported)? For a row that runs
    in Node: are Node and its pinned packages ready (``labkit.node.problem``)?"""
    if runs_in(entry) == "node":
        from labkit import node

        return node.problem() is None
    return all(toolkits.installed(m) for m in entry.modules)


def runs_in(entry: Entry) -> str:
    """Where the row's toolkit runs: one of ``labkit.toolkits.RUNS_IN``."""
    return toolkits.TOOLKITS[entry.device].runs_in


def entry_size(entry: Entry) -> dict:
    """``installed_size`` of the row's distributions, or of its npm packages for a Node row."""
    if runs_in(entry) == "node":
        from labkit import node

        return node.installed_size(entry.dists)
    return installed_size(entry.dists)


def lines_of_code(source: str) -> int:
    """Lines holding code: blank lines, comments and docstrings do not count."""
    lines: set[int] = set()
    prev = tokenize.NEWLINE
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.ENDMARKER):
            if tok.type != tokenize.NL:
                prev = tok.type
            continue
        # a string that starts a statement is a docstring (or a bare string): not code
        if not (tok.type == tokenize.STRING and prev in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)):
            lines.update(range(tok.start[0], tok.end[0] + 1))
        prev = tok.type
    return len(lines)


def _dist(name: str):
    import importlib.metadata as md

    for alt in name.split("|"):
        try:
            return md.distribution(alt)
        except md.PackageNotFoundError:
            continue
    return None


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_size(dists: tuple) -> dict:
    """Bytes on disk of ``dists`` and everything they require (transitively, as installed here,
    extras left out), NumPy and the packaging tools excepted. Also how much of it is Python
    source and how much native code (.so/.pyd/.dll/.dylib): the review's 'language' criterion
    as it shows on disk."""
    from packaging.requirements import Requirement

    seen: dict[str, object] = {}
    todo = list(dists)
    while todo:
        d = _dist(todo.pop())
        if d is None:
            continue
        key = _norm(d.metadata["Name"])
        if key in seen or key in COMMON_DISTS:
            continue
        seen[key] = d
        for text in d.requires or []:
            try:
                req = Requirement(text)
            except Exception:
                continue
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    total = py = native = 0
    for d in seen.values():
        for f in d.files or []:
            try:
                size = f.locate().stat().st_size
            except OSError:
                continue
            total += size
            if f.suffix == ".py":
                py += size
            elif f.suffix in (".so", ".pyd", ".dll", ".dylib") or ".so." in f.name:
                native += size
    return {"bytes": total, "python_bytes": py, "native_bytes": native,
            "distributions": sorted(seen)}


def model_library(entry: Entry) -> str:
    if not entry.model_library:
        return "none"
    package, what = entry.model_library
    if package is None:
        return what
    from importlib.util import find_spec

    top = package.split(".")[0]
    try:
        spec = find_spec(top)
    except (ImportError, ValueError):
        spec = None
    found = spec is not None
    if found and "." in package:   # look for the subpackage's folder, without importing the parent
        found = any((Path(p) / package.split(".", 1)[1].replace(".", "/")).exists()
                    for p in (spec.submodule_search_locations or []))
    return f"{package}: {what} ({'installed here' if found else 'not installed here'})"


# --- deliberately wrong conversions ---------------------------------------------------------

def hwc_rows() -> np.ndarray:
    """For fc1 input i in (channel, row, col) order, the index a (row, col, channel) flatten uses."""
    c, h, w = lenet.LAYERS[3].out_shape
    return np.arange(c * h * w).reshape(h, w, c).transpose(2, 0, 1).ravel()


WRONG_CONVERSIONS = {
    "fc1 flatten order (channels-last, rows not permuted)": (
        "A channels-last toolkit (Keras, TensorFlow) flattens pool2's output in (row, column, "
        "channel) order. Copying the canonical fc1 weights without permuting their 800 inputs "
        "connects every weight to the wrong feature: the shapes still fit, nothing complains.",
        lambda p: {**p, "fc1.weight": p["fc1.weight"][:, hwc_rows()]},
        lambda p: {**p, "fc1.weight": p["fc1.weight"][:, np.argsort(hwc_rows())]}),
    "conv kernels transposed (h and w swapped)": (
        "Going from (out, in, h, w) to (h, w, in, out) is a transpose(2, 3, 1, 0); writing (3, 2, 1, 0) "
        "swaps each 5x5 kernel's rows and columns. Square kernels hide it from every shape check.",
        lambda p: {**p, **{k: p[k].transpose(0, 1, 3, 2) for k in ("conv1.weight", "conv2.weight")}},
        lambda p: {**p, **{k: p[k].transpose(0, 1, 3, 2) for k in ("conv1.weight", "conv2.weight")}}),
}


def wrong_conversions() -> list[dict]:
    """What the agreement check says about a toolkit that made each mistake in WRONG_CONVERSIONS.

    The toolkit is simulated with the NumPy reference: loading the shared weights with the
    mistake is the same as running the reference on weights laid out wrongly, and exporting
    with the same mistake undoes the layout (not the effect) after the step.
    """
    w = lenet.initial_weights()
    x, y = lenet.probe_batch()
    ref = lenet.reference()
    out = []
    for name, (why, load_wrong, export_wrong) in WRONG_CONVERSIONS.items():
        p = load_wrong(w)
        logits = lenet.forward(p, x)
        after = export_wrong(lenet.sgd_step(p, x, y, lenet.PROBE_LR))
        out.append({"conversion": name, "why": why,
                    "logits_max_diff": lenet.max_abs_diff(logits, ref["logits"]),
                    "step_max_diff": max(lenet.max_abs_diff(after[k], ref["step"][k]) for k in lenet.PARAM_SHAPES),
                    "accuracy_on_probe": float((logits.argmax(1) == ref["logits"].argmax(1)).mean())})
    return out
