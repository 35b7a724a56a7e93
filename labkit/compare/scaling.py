"""Thread scaling: every toolkit at 1 thread and at all the machine's threads, as one table.

    python -m labkit.compare.scaling                      # quick protocol, 1 and every usable CPU
    python -m labkit.compare.scaling --full --threads 1 2 4 --toolkits pytorch mxnet

The CPU tables of convnet-benchmarks (2014-2016) put one row per framework and one column
per thread count. This does the same with the comparison itself: ``labkit.compare.run`` once
per thread count (one child per toolkit, the thread count in every thread variable), then
training images/s and inference images/s at batch 1 and 256 side by side, with the speed-up
from 1 thread to the most.

OpenMP's waiting policy changes these numbers: a thread that spins while it waits for work
(``OMP_WAIT_POLICY=active``, Intel's ``KMP_BLOCKTIME``, GNU's ``GOMP_SPINCOUNT``) answers
sooner but burns a core another process could use. The children inherit them from this
process; the table's header records them as set (or unset). Quick protocol by default
(seconds per toolkit); ``--full`` for the full one. Figures are printed and recorded.
"""
from __future__ import annotations

import os
import sys

from labkit import lenet, tables

#: The variables that decide how OpenMP threads wait, recorded beside every scaling run.
WAIT_VARS = ("OMP_WAIT_POLICY", "KMP_BLOCKTIME", "GOMP_SPINCOUNT")
_B = lenet.INFER_BATCHES


def wait_policy(env: dict | None = None) -> dict[str, str]:
    """Each of WAIT_VARS as set in ``env`` (default: this process's environment), or 'unset'."""
    env = os.environ if env is None else env
    return {v: env.get(v, "unset") for v in WAIT_VARS}


def thread_counts(counts=None) -> list[int]:
    """``counts`` checked and sorted, default 1 and every usable CPU."""
    from labkit.compare.harness import check_threads
    from labkit.machine import usable_cpus

    return sorted({check_threads(t) for t in (counts or (1, usable_cpus()))})


def measure(toolkits=None, *, counts=None, quick: bool = True, records=None, show=None, notebooks=None) -> dict:
    """``{threads: labkit.compare.run(...) result}`` for each thread count, and a 'scaling'
    record per toolkit and count carrying the wait policy."""
    from labkit.compare.harness import run
    from labkit.records import record

    counts = thread_counts(counts)
    policy = wait_policy()
    by_threads = {}
    for t in counts:
        by_threads[t] = out = run(toolkits, quick=quick, threads=t, records=records, show=show, notebooks=notebooks)
        for n, res in out["results"].items():
            record(n, "scaling_train_images_per_s", res["train_images_per_s"], "img/s", threads=t, run=out["run"],
                   infer={b: res["infer"][str(b)]["median"] for b in _B}, wait_policy=policy, path=records,
                   versions=res["versions"], quick=quick)
    return by_threads


def table(by_threads: dict) -> tables.Table:
    """One row per toolkit: train, infer@1 and infer@256 images/s at each thread count, and the
    speed-up from the fewest threads to the most."""
    counts = sorted(by_threads)
    names = list(dict.fromkeys(n for t in counts for n in by_threads[t]["results"]))
    cols = ["toolkit"]
    for what in ["train", *(f"infer b{b}" for b in _B)]:
        cols += [f"{what} @{t}" for t in counts] + ([f"{what} x"] if len(counts) > 1 else [])
    rows = []
    for n in names:
        row = [n]
        for key in ["train", *_B]:
            vals = []
            for t in counts:
                res = by_threads[t]["results"].get(n)
                vals.append(None if res is None else res["train_images_per_s"] if key == "train"
                            else res["infer"][str(key)]["median"])
            row += [f"{v:,.0f}" if v else "-" for v in vals]
            if len(counts) > 1:
                row.append(f"{vals[-1] / vals[0]:.2f}" if vals[0] and vals[-1] else "-")
        rows.append(row)
    return tables.Table(cols, rows)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from labkit import machine
    from labkit.toolkits import ENTRIES

    p = argparse.ArgumentParser(prog="python -m labkit.compare.scaling", description=__doc__.split("\n\n")[0])
    p.add_argument("--toolkits", nargs="+", metavar="NAME", help=f"some of: {', '.join(ENTRIES)}")
    p.add_argument("--threads", type=int, nargs="+", help="thread counts (default: 1 and every usable CPU)")
    p.add_argument("--full", action="store_true", help="the full protocol (default: the quick one)")
    p.add_argument("--records", help="records file or folder (default: labkit.paths.runs_dir())")
    args = p.parse_args(argv)
    try:
        by_threads = measure(args.toolkits, counts=args.threads, quick=not args.full, records=args.records)
    except ValueError as err:
        p.error(str(err))
    info = machine.machine_info(blas=False)
    print(f"\nLeNet images/s by thread count ({'full' if args.full else 'quick'} protocol, batch "
          f"{lenet.FULL.batch_size} training); {info['cpu']}, {info['usable_threads']} usable CPUs, "
          f"Python {info['python']}")
    print("OpenMP waiting: " + ", ".join(f"{k}={v}" for k, v in wait_policy().items()) + "\n")
    print(table(by_threads).text())
    failed = {n for out in by_threads.values() for n in out["errors"]}
    if failed:
        print(f"\nfailed: {', '.join(sorted(failed))} (see the lines above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
