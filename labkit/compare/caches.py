"""Time to first result with each toolkit's compile cache cold, then warm.

    python -m labkit.compare.caches                       # every comparison entry installed here
    python -m labkit.compare.caches --toolkits theano keras-jax --threads 2

Some toolkits compile the network before its first step and can keep what they compiled on
disk for the next process: Theano's C modules (``base_compiledir``), torch.compile's
Inductor kernels, XLA's executables for JAX and TensorFlow (``labkit.toolkits.COMPILE_CACHES``
says which variable points each at a folder, and what a reader gets by default). For each
entry this starts two children (``labkit.compare.trial``, mode ``first``) with a fresh,
empty temporary folder as the cache: the first finds it empty (cold), the second finds
what the first left (warm). Each child reports seconds from its spawn to the chapter's
cells loaded, to the first logits, and to the first training step done.

The operating system's file cache is warm in both runs once the toolkit was imported
before, so "cold" here is a cold compile cache, not a cold disk. Figures are printed and
recorded, never asserted.
"""
from __future__ import annotations

import sys
import tempfile

from labkit import tables
from labkit.toolkits import COMPILE_CACHES, ENTRIES, resolve_entry


def cache_env(name: str, folder: str) -> tuple[dict, list[str]]:
    """The environment pointing every compile cache entry ``name`` uses at ``folder``, and the
    TOOLKITS keys of those caches ({} and [] for an entry with none)."""
    import os

    entry = ENTRIES[resolve_entry(name)]
    env, which = {}, []
    for key in dict.fromkeys(entry.modules):
        cache = COMPILE_CACHES.get(key)
        if cache is None:
            continue
        which.append(key)
        for var, value in cache.env.items():
            value = value.format(dir=os.path.join(folder, key))
            before = env.get(var, os.environ.get(var, ""))
            joiner = "," if var == "THEANO_FLAGS" else " "      # Theano's flags are comma-separated
            env[var] = joiner.join(v for v in (before, value) if v) if var.endswith("FLAGS") else value
    return env, which


def measure(toolkits=None, *, threads: int | None = None, records=None, show=None, notebooks=None) -> dict:
    """Cold and warm time to first result for ``toolkits`` (default: every installed entry)."""
    from labkit.compare import trial
    from labkit.compare.harness import check_threads
    from labkit.compare.measures import installed
    from labkit.records import record

    threads = check_threads(threads)
    names = list(ENTRIES) if not toolkits else [resolve_entry(t) for t in toolkits]
    names = [n for n in names if installed(ENTRIES[n])]
    show = show or (lambda m: print(m, flush=True))
    out = {}
    for n in names:
        with tempfile.TemporaryDirectory(prefix=f"labkit-cache-{n}-") as folder:
            env, which = cache_env(n, folder)
            runs = {}
            for state in ("cold", "warm"):
                show(f"{n}: {state} ({', '.join(which) or 'no compile cache'}) ...")
                runs[state] = trial.run(n, "first", threads=threads, env=env, notebooks=notebooks,
                                        show=lambda m: show("    " + m))
        out[n] = {"caches": which, **runs}
        for state, res in runs.items():
            if "error" in res:
                show(f"{n}: {state} run failed: {res['error']}")
                continue
            record(n, "time_to_first_step_s", res["first_step_s"], "s", cache=state, caches=which,
                   import_s=res["import_s"], first_logits_s=res["first_logits_s"], step_only_s=res["step_only_s"],
                   threads=threads, path=records, versions=res["versions"], quick=False)
    return out


def table(results: dict) -> tables.Table:
    """One row per entry: cold and warm seconds to the first logits and to the first step."""
    rows = []
    for n, r in results.items():
        cells = []
        for state in ("cold", "warm"):
            got = r[state]
            cells += ["failed", "failed"] if "error" in got else [f"{got['first_logits_s']:.1f}",
                                                                 f"{got['first_step_s']:.1f}"]
        rows.append([n, ", ".join(r["caches"]) or "none", *cells])
    return tables.Table(["toolkit", "compile cache", "cold: logits s", "cold: first step s", "warm: logits s",
                         "warm: first step s"], rows)


def what_readers_get(results: dict) -> list[str]:
    """The plain sentence for each cache in the run: which state a reader's first run meets."""
    seen = dict.fromkeys(k for r in results.values() for k in r["caches"])
    return [f"{k}: {COMPILE_CACHES[k].default}." for k in seen]


def main(argv: list[str] | None = None) -> int:
    import argparse

    from labkit import machine

    p = argparse.ArgumentParser(prog="python -m labkit.compare.caches", description=__doc__.split("\n\n")[0])
    p.add_argument("--toolkits", nargs="+", metavar="NAME", help=f"some of: {', '.join(ENTRIES)}")
    p.add_argument("--threads", type=int, help="threads per child (default: the CPUs usable here)")
    p.add_argument("--records", help="records file or folder (default: labkit.paths.runs_dir())")
    args = p.parse_args(argv)
    try:
        results = measure(args.toolkits, threads=args.threads, records=args.records)
    except ValueError as err:
        p.error(str(err))
    info = machine.machine_info(blas=False)
    print(f"\nTime to first result, seconds from spawning the child; {info['cpu']}, "
          f"{info['usable_threads']} usable CPUs, Python {info['python']}\n")
    print(table(results).text())
    print("\nWhat a reader's first run gets:\n" + "\n".join("  " + s for s in what_readers_get(results)))
    return 1 if any("error" in r[s] for r in results.values() for s in ("cold", "warm")) else 0


if __name__ == "__main__":
    sys.exit(main())
