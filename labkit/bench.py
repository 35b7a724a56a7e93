"""``python -m labkit bench``: how long labkit itself takes to import and to load the data.

Figures are printed, never asserted: they depend on the machine and on what else runs.
Targets: ``import labkit`` under 0.3 s with no toolkit imported, a cached dataset in under 1 s.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

from labkit import machine, toolkits

#: Modules importing labkit must not pull in: every toolkit the registry knows, and matplotlib.
HEAVY = tuple(m for m in toolkits.modules() if "." not in m) + ("matplotlib",)
IMPORT_TARGET_S, LOAD_TARGET_S = 0.3, 1.0

_PROBE = "import json, sys, {module}; print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))"


def import_time(module: str = "labkit", repeats: int = 5) -> dict:
    """Import figures from ``repeats`` fresh interpreters (``python -X importtime``), medians.

    ``seconds``: importing ``module`` itself (cumulative, wherever it happened: the compat
    start-up hook imports the ``labkit`` package at interpreter start); ``hook``: the start-up
    hook ``labkit._hook``; ``wall``: the whole ``python -c "import module"`` process;
    ``heavy``: toolkit modules found in ``sys.modules`` afterwards (any run).
    """
    runs = {"seconds": [], "hook": [], "wall": []}
    heavy: set[str] = set()
    for _ in range(repeats):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-X", "importtime", "-c",
                              _PROBE.format(module=module, heavy=HEAVY)],
                             capture_output=True, text=True, check=True)
        runs["wall"].append(time.perf_counter() - t)
        heavy.update(json.loads(out.stdout.strip().splitlines()[-1]))
        cumulative = {}
        for line in out.stderr.splitlines():
            parts = line.split("|")
            if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
                cumulative[parts[2].strip()] = int(parts[1]) / 1e6
        runs["seconds"].append(cumulative.get(module, 0.0))
        runs["hook"].append(cumulative.get("labkit._hook", 0.0))
    result = {key: statistics.median(values) for key, values in runs.items()}
    result["heavy"] = sorted(heavy)
    return result


def _pick_dataset() -> tuple[str, str]:
    """The dataset to time and why: cached MNIST, else cached (or locally buildable)
    Fashion-MNIST, else the MNIST sample."""
    from labkit import data

    for name in ("mnist", "fashion-mnist"):
        npz, meta = data.npz_paths(name)
        if npz.is_file() and meta.is_file():
            return name, f"cached {name}" + ("" if name == "mnist" else " (MNIST is not cached here)")
    try:
        t = time.perf_counter()
        data.load("fashion-mnist", download=False, progress=False)
        first = time.perf_counter() - t
        return "fashion-mnist", (f"cached fashion-mnist (MNIST is not cached here; building the "
                                 f"cache from local files took {first:.2f} s)")
    except data.DataError:
        return "mnist", "the MNIST 5,000-digit sample (no full dataset is cached or local here)"


def load_time(name: str, repeats: int = 5) -> tuple[float, float, str]:
    """Median and best seconds for ``data.load(name)`` in this process, and the source used."""
    from labkit import data

    times, ds = [], None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.LabkitDataWarning)
        for _ in range(repeats):
            t = time.perf_counter()
            ds = data.load(name, download=False, progress=False)
            times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), ds.describe()


def main() -> None:
    import numpy as np

    import labkit

    mark = lambda ok: "ok" if ok else "SLOW"  # noqa: E731
    print(f"labkit {labkit.__version__}, Python {platform.python_version()}, numpy {np.__version__}")
    print(f"{machine.cpu_model()}, {os.cpu_count()} cores, {platform.platform()}")
    print()
    imp = import_time("labkit")
    ok = imp["seconds"] < IMPORT_TARGET_S and not imp["heavy"]
    print(f"import labkit          {imp['seconds'] * 1000:7.1f} ms  (median of 5 fresh interpreters, "
          f"python -X importtime; target < {IMPORT_TARGET_S * 1000:.0f} ms, no toolkit: {mark(ok)})")
    print(f"  toolkits imported:   {', '.join(imp['heavy']) if imp['heavy'] else 'none'} "
          f"(checked: {', '.join(HEAVY)})")
    print(f"  start-up hook        {imp['hook'] * 1000:7.1f} ms  (labkit._hook, run by every Python "
          f"start in this environment); whole process {imp['wall'] * 1000:.0f} ms")
    imp = import_time("labkit.data", repeats=3)
    print(f"import labkit.data     {imp['seconds'] * 1000:7.1f} ms  (numpy included; median of 3; "
          f"toolkits: {', '.join(imp['heavy']) or 'none'})")
    name, why = _pick_dataset()
    median, best, described = load_time(name)
    print(f"load({name!r}){' ' * max(1, 15 - len(name))}{median * 1000:7.1f} ms  (median of 5, best "
          f"{best * 1000:.1f} ms; target < {LOAD_TARGET_S * 1000:.0f} ms: {mark(median < LOAD_TARGET_S)})")
    print(f"  timed: {why}")
    print(f"  {described}")


if __name__ == "__main__":
    main()
