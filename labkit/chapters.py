"""Reuse a chapter's own LeNet code outside its notebook.

Each LeNet chapter tags with ``lenet`` the code cells that define its network. Together
they define six functions, the same names in every toolkit:

=====================================  ==================================================
``build_lenet()``                      the model, in the toolkit's own idiom
``load_canonical(model, params)``      shared weights (canonical layout) into the model
``export_canonical(model)``            the model's weights, back in the canonical layout
``predict_logits(model, x)``           logits (N, 10) for float32 NCHW images
``sgd_step(model, x, y, lr)``          one plain SGD step
``make_train_step(model, recipe)``     ``step(x, y, lr) -> loss`` with the chapter's recipe
=====================================  ==================================================

The notebook stays the one place where a toolkit's LeNet is written; the agreement tests
and the comparison harness run those very cells in a fresh process of their own::

    python -m labkit.chapters agreement notebooks/10_pytorch.ipynb
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

CONTRACT = ("build_lenet", "load_canonical", "export_canonical", "predict_logits", "sgd_step",
            "make_train_step")
TAG = "lenet"


def tagged_source(notebook: str | Path, tag: str = TAG) -> str:
    """The code of every cell tagged ``tag``, in order, with IPython-only lines removed."""
    path = Path(notebook)
    try:
        nb = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no notebook at {path}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not a readable notebook (line {err.lineno}: {err.msg})") from None
    cells = [c for c in nb.get("cells", [])
             if c.get("cell_type") == "code" and tag in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise LookupError(f"{path.name} has no code cells tagged {tag!r}")
    parts = []
    for cell in cells:
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        parts.append("\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))))
    return "\n\n".join(parts) + "\n"


def load(notebook: str | Path, tag: str = TAG) -> dict:
    """Execute the tagged cells in a fresh namespace and return it (checked for the contract)."""
    source = tagged_source(notebook, tag)
    namespace: dict = {"__name__": f"labkit_chapter_{Path(notebook).stem}"}
    exec(compile(source, f"{notebook}[{tag} cells]", "exec"), namespace)
    missing = [name for name in CONTRACT if not callable(namespace.get(name))]
    if missing:
        raise LookupError(f"{Path(notebook).name}: its {tag!r} cells do not define {missing}")
    return namespace


def agreement(namespace: dict) -> dict:
    """Probe logits and one SGD step from the shared weights, against the NumPy reference."""
    from labkit import lenet

    x, y = lenet.probe_batch()
    model = namespace["build_lenet"]()
    namespace["load_canonical"](model, lenet.initial_weights())
    logits = namespace["predict_logits"](model, x)
    namespace["sgd_step"](model, x, y, lenet.PROBE_LR)
    after = namespace["export_canonical"](model)
    ref = lenet.reference()
    return {
        "logits_max_diff": lenet.max_abs_diff(logits, ref["logits"]),
        "step_max_diff": {k: lenet.max_abs_diff(after[k], ref["step"][k]) for k in lenet.PARAM_SHAPES},
    }


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m labkit.chapters")
    parser.add_argument("command", choices=["agreement", "source"])
    parser.add_argument("notebook")
    args = parser.parse_args(argv)
    if args.command == "source":
        print(tagged_source(args.notebook), end="")
        return 0
    t0 = time.perf_counter()
    ns = load(args.notebook)
    result = agreement(ns)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
