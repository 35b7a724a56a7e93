"""Chapter 31's exports, each group in a fresh process of its own, and OpenCV's reading of a file.

The export code is the chapter's: its cells tagged ``onnx-export`` define ``GROUPS`` (which
toolkits export together, by Keras backend) and ``export_here()``, and every export builds its
network from that toolkit's own chapter (``labkit.chapters.load``). ``export_all`` starts one
child per group (``labkit.child``), with ``KERAS_BACKEND`` set, and gathers what each
returned::

    python -m labkit.interchange.run export notebooks/31_onnx.ipynb --backend torch --out r.json
    python -m labkit.interchange.run opencv runs/onnx/pytorch.onnx --out r.json

OpenCV runs in a child too: its ONNX reader can kill the process that calls it (a
floating-point exception, SIGFPE, on some graphs of newer opsets), and a notebook must survive
that to report it.
"""
from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

from labkit.toolkits import ENTRIES

TAG = "onnx-export"
#: The groups, by Keras backend (one process each): the backends of the comparison's Keras rows.
BACKENDS = tuple(e.env["KERAS_BACKEND"] for e in ENTRIES.values() if "KERAS_BACKEND" in e.env)


def export_all(notebook: str | os.PathLike, backends=BACKENDS, *, show=None, timeout: float = 900,
               threads: int | None = None, parallel: bool = True) -> dict:
    """Run ``export_here()`` of the chapter's ``onnx-export`` cells once per Keras backend, each in a
    fresh process, side by side unless ``parallel=False`` (most of their time is imports).
    ``{backend: [one dict per toolkit] or {"error": why the child failed}, backend + ":seconds": s}``."""
    from concurrent.futures import ThreadPoolExecutor

    from labkit import child

    notebook = Path(notebook).resolve()
    with tempfile.TemporaryDirectory(prefix="labkit-onnx-") as tmp:
        def one(backend):
            out = Path(tmp) / f"{backend}.json"
            env = {"KERAS_BACKEND": backend, "LABKIT_NOTEBOOKS": str(notebook.parent)}
            return child.run(f"exports ({backend} process)", ["-m", __name__, "export", str(notebook),
                                                              "--backend", backend, "--out", str(out)],
                             out, env=child.toolkit_env(env, threads), timeout=timeout, show=show,
                             cwd=notebook.parent)

        with ThreadPoolExecutor(max_workers=len(backends) if parallel else 1) as pool:
            outcomes = dict(zip(backends, pool.map(one, backends)))
    results = {}
    for backend, outcome in outcomes.items():
        results[backend] = outcome.result if outcome.ok else {"error": outcome.error()}
        results[backend + ":seconds"] = round(outcome.seconds, 1)
    return results


def opencv_logits(path: str | os.PathLike, images, *, timeout: float = 120) -> dict:
    """``{"logits": array}`` from OpenCV's dnn module reading the ONNX file in a child process, or
    ``{"error": what went wrong}`` (an exception, or the signal that killed the child)."""
    import numpy as np

    from labkit import child

    with tempfile.TemporaryDirectory(prefix="labkit-opencv-") as tmp:
        x = Path(tmp) / "images.npy"
        np.save(x, np.asarray(images, np.float32))
        out = Path(tmp) / "out.json"
        outcome = child.run(f"OpenCV reading {Path(path).name}", ["-m", __name__, "opencv", str(path), str(x),
                                                                  "--out", str(out)],
                            out, env=child.toolkit_env({}, None), timeout=timeout)
    if outcome.ok:
        res = outcome.result
        return {"logits": np.asarray(res["logits"], np.float32)} if "logits" in res else res
    rc = outcome.returncode
    if rc is not None and rc < 0:
        name = signal.Signals(-rc).name
        return {"error": f"OpenCV's dnn module killed the process reading {Path(path).name} ({name})"}
    return {"error": outcome.error()}


def _opencv_child(path: str, images: str) -> dict:
    import numpy as np

    from labkit.interchange import onnxfiles

    x = np.load(images)
    try:
        net = onnxfiles.opencv_net(path)
        order, fixed = onnxfiles.layout(path)
        return {"logits": onnxfiles.opencv_run(net, x, order, fixed).tolist()}
    except Exception as err:
        return {"error": f"{type(err).__name__}: {' '.join(str(err).split())[:500]}"}


def main(argv=None) -> int:
    import argparse

    from labkit import chapters, child

    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("command", choices=["export", "opencv"])
    parser.add_argument("path", help="export: the chapter notebook; opencv: the ONNX file")
    parser.add_argument("images", nargs="?", help="opencv: a .npy of float32 NCHW images")
    parser.add_argument("--backend", choices=BACKENDS, help="export: the Keras backend (and so the group)")
    parser.add_argument("--out", required=True, help="write the result there as JSON")
    args = parser.parse_args(argv)
    if args.command == "opencv":
        child.write_result(args.out, _opencv_child(args.path, args.images))
        return 0
    if args.backend and os.environ.get("KERAS_BACKEND") != args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    ns = chapters.load(args.path, TAG, contract=("export_here",))
    child.write_result(args.out, ns["export_here"]())
    return 0


if __name__ == "__main__":
    sys.exit(main())
