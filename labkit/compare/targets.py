"""Benchmarks that print targets, never timed tests: time to accuracy and the share of GEMM.

    python -m labkit.compare.targets                          # every entry installed here
    python -m labkit.compare.targets --toolkits pytorch keras-jax --budget 120

Time to accuracy, as DAWNBench measured it: each toolkit trains its chapter's LeNet
(``make_train_step``, the Recipe, the same seeded batch order for all) on the full
Fashion-MNIST, evaluates the whole test set every ``--every`` steps, and stops at the target
(90% by default) or once its training clock passes the budget. The clock counts training
steps only, the first step (with any compiling) included; the evaluations are left out of
it and shown as the wall time beside it. One child per toolkit (``labkit.compare.trial``).

The second target is a share: the machine's float32 matrix-multiply rate is measured in
the same run at the same thread count (``labkit.compare.gemm``), and each toolkit's
training rate is printed as ``images/s x FLOP per image / GEMM rate``. The goal the issue
sets, at least 40% for the fastest toolkit, is printed beside it, not asserted.
"""
from __future__ import annotations

import sys

from labkit import tables
from labkit.toolkits import ENTRIES, resolve_entry

TARGET, BUDGET_S, EVERY = 0.90, 120.0, 100
GOAL_S, GOAL_SHARE = 30.0, 0.40      # the goals: the fastest within 30 s; 40% of the GEMM rate


def time_to_accuracy(toolkits=None, *, target: float = TARGET, budget_s: float = BUDGET_S, every: int = EVERY,
                     threads: int | None = None, records=None, show=None, notebooks=None) -> dict:
    """Run the time-to-accuracy trial for each entry; ``{name: result or {"error"}}``, recorded."""
    from labkit.compare import trial
    from labkit.compare.harness import check_threads
    from labkit.compare.measures import installed
    from labkit.records import record

    if not 0 < target < 1:
        raise ValueError(f"target is a test accuracy between 0 and 1 (e.g. 0.9), got {target!r}")
    if budget_s <= 0 or every < 1:
        raise ValueError(f"budget_s must be positive and every at least 1 step; got {budget_s!r} and {every!r}")
    threads = check_threads(threads)
    names = [n for n in (list(ENTRIES) if not toolkits else [resolve_entry(t) for t in toolkits])
             if installed(ENTRIES[n])]
    show = show or (lambda m: print(m, flush=True))
    out = {}
    for n in names:
        res = trial.run(n, "accuracy", threads=threads, target=target, budget_s=budget_s, every=every,
                        timeout=budget_s * 10 + 600, notebooks=notebooks, show=lambda m: show("    " + m))
        out[n] = res
        if "error" in res:
            show(f"{n}: FAILED: {res['error']}")
            continue
        record(n, "time_to_accuracy_s", res["train_s"] if res["reached"] else None, "s", target=target,
               reached=res["reached"], budget_s=budget_s, steps=res["steps"], accuracy=res["accuracy"],
               wall_s=res["wall_s"], curve=res["curve"], dataset=res["dataset"], every=every,
               train_images_per_s=res["images_per_s"], threads=threads, path=records,
               versions=res["versions"], quick=False)
    return out


def table(results: dict, gemm_gflops: float | None = None) -> tables.Table:
    """Per toolkit: seconds to the target (or not reached), steps, epochs, accuracy, images/s,
    and (given the GEMM rate) the training rate as a share of it."""
    from labkit.compare.gemm import share

    rows = []
    for n, r in sorted(results.items(), key=lambda kv: (not kv[1].get("reached"), kv[1].get("train_s", 1e9))):
        if "error" in r:
            rows.append([n, "failed", "", "", "", "", ""])
            continue
        when = f"{r['train_s']:.1f}" if r["reached"] else f"not in {r['budget_s']:g}"
        of_gemm = f"{100 * share(r['images_per_s'], gemm_gflops):.0f}%" if gemm_gflops else "-"
        rows.append([n, when, f"{r['wall_s']:.1f}", str(r["steps"]), f"{r['epochs']:.2f}", f"{r['accuracy']:.4f}",
                     f"{r['images_per_s']:,.0f}", of_gemm])
    return tables.Table(["toolkit", "s to target", "wall s", "steps", "epochs", "accuracy", "train img/s",
                         "of GEMM"], rows)


def verdicts(results: dict, gemm_gflops: float | None) -> list[str]:
    """The issue's two goals against this run, as sentences."""
    from labkit.compare.gemm import share

    done = {n: r for n, r in results.items() if "error" not in r}
    lines = []
    reached = {n: r["train_s"] for n, r in done.items() if r["reached"]}
    if reached:
        best = min(reached, key=reached.get)
        ok = "met" if reached[best] <= GOAL_S else "not met"
        lines.append(f"fastest to the target: {best} in {reached[best]:.1f} s of training (goal {GOAL_S:g} s: {ok})")
    else:
        lines.append("no toolkit reached the target within the budget")
    if done and gemm_gflops:
        fastest = max(done, key=lambda n: done[n]["images_per_s"])
        s = share(done[fastest]["images_per_s"], gemm_gflops)
        lines.append(f"fastest trainer: {fastest}, {done[fastest]['images_per_s']:,.0f} img/s = {100 * s:.0f}% of "
                     f"the {gemm_gflops:.1f} GFLOP/s GEMM rate (goal {100 * GOAL_SHARE:.0f}%: "
                     f"{'met' if s >= GOAL_SHARE else 'not met'})")
    return lines


def main(argv: list[str] | None = None) -> int:
    import argparse

    from labkit import machine
    from labkit.compare import gemm
    from labkit.compare.harness import check_threads

    p = argparse.ArgumentParser(prog="python -m labkit.compare.targets", description=__doc__.split("\n\n")[0])
    p.add_argument("--toolkits", nargs="+", metavar="NAME", help=f"some of: {', '.join(ENTRIES)}")
    p.add_argument("--target", type=float, default=TARGET, help=f"test accuracy to reach (default {TARGET})")
    p.add_argument("--budget", type=float, default=BUDGET_S, help=f"training seconds per toolkit (default {BUDGET_S:g})")
    p.add_argument("--every", type=int, default=EVERY, help=f"steps between evaluations (default {EVERY})")
    p.add_argument("--threads", type=int, help="threads per child (default: the CPUs usable here)")
    p.add_argument("--records", help="records file or folder (default: labkit.paths.runs_dir())")
    args = p.parse_args(argv)
    try:
        threads = check_threads(args.threads)
        results = time_to_accuracy(args.toolkits, target=args.target, budget_s=args.budget, every=args.every,
                                   threads=threads, records=args.records)
    except ValueError as err:
        p.error(str(err))
    rates = gemm.measure(threads)
    gemm.record_rates(rates, threads=threads, path=args.records)
    best = max((r["gflops"] for r in rates.values() if "gflops" in r), default=None)
    info = machine.machine_info(blas=False)
    print(f"\nTime to {100 * args.target:g}% test accuracy on Fashion-MNIST, {threads} thread(s); {info['cpu']}, "
          f"{info['usable_threads']} usable CPUs, Python {info['python']}\n")
    print(table(results, best).text())
    print("\n" + gemm.report({threads: rates}))
    print("\n" + "\n".join(verdicts(results, best)))
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
