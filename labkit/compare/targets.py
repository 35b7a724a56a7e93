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

The third is a ratio: a toolkit's tuned row (``Entry.tuned``) against the best configuration
known for that toolkit on this machine: the best of its rows in the latest comparison run,
and any faster thread count that ``labkit.compare.scaling`` recorded for those rows on the
same host and protocol (``tuned_vs_best``). The goal, at least 0.8x, is printed as met or
missed, never asserted: speeds depend on the load.
"""
from __future__ import annotations

import sys

from labkit import tables
from labkit.toolkits import ENTRIES, resolve_entry

TARGET, BUDGET_S, EVERY = 0.90, 120.0, 100
GOAL_S, GOAL_SHARE = 30.0, 0.40      # the goals: the fastest within 30 s; 40% of the GEMM rate
GOAL_TUNED = 0.8                     # and each tuned row at least 0.8x the best configuration known


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


def tuned_vs_best(run, known: dict | None = None) -> list[dict]:
    """For each chapter with a tuned row and more than one row in ``run`` (a
    ``labkit.compare.results.Run``): the tuned row's training images/s as a share of the best
    configuration known, the fastest of that chapter's rows in the run and of ``known``
    (``{row: {label: images/s}}``, other measured configurations of those rows, e.g.
    ``known_from_scaling``). One dict per tuned row, chapters in the run's order."""
    groups: dict[str, list[str]] = {}
    for n in run.toolkits:
        if n in ENTRIES and "train_images_per_s" in run.values.get(n, {}):
            groups.setdefault(ENTRIES[n].notebook, []).append(n)
    out = []
    for names in groups.values():
        tuned = [n for n in names if ENTRIES[n].tuned]
        if len(names) < 2 or not tuned:
            continue
        options = {(n, "this run"): run.values[n]["train_images_per_s"] for n in names}
        for n in names:
            options.update({(n, label): rate for label, rate in (known or {}).get(n, {}).items() if rate})
        best = max(options, key=options.get)
        for t in tuned:
            rate = run.values[t]["train_images_per_s"]
            ratio = rate / options[best]
            out.append({"tuned": t, "images_per_s": rate, "best": best[0], "best_where": best[1],
                        "best_images_per_s": options[best], "ratio": ratio, "met": ratio >= GOAL_TUNED})
    return out


def known_from_scaling(run, records=None) -> dict:
    """``{row: {label: images/s}}``: the training rates ``labkit.compare.scaling`` recorded for
    ``run``'s rows at other thread counts, on the same host and protocol as ``run`` (the newest
    record of each row and count)."""
    from labkit.records import read_records

    first = run.records[0] if run.records else {}
    host, quick = first.get("host"), first.get("quick")
    used = (first.get("threads") or {}).get("used")
    out: dict = {}
    for rec in read_records(records, metric="scaling_train_images_per_s"):
        t = (rec.get("threads") or {}).get("used")
        if rec["toolkit"] in run.values and rec.get("host") == host and rec.get("quick") == quick and t != used:
            out.setdefault(rec["toolkit"], {})[f"{t} threads (scaling run {rec.get('run', '?')})"] = rec["value"]
    return out


def tuned_lines(ratios: list[dict]) -> list[str]:
    """``tuned_vs_best`` as sentences, the goal marked met or missed."""
    if not ratios:
        return ["tuned against best: no chapter has a tuned row and another row in this run"]
    return [f"{r['tuned']}: {r['images_per_s']:,.0f} img/s = {r['ratio']:.2f}x the best known, "
            f"{r['best']} ({r['best_where']}) at {r['best_images_per_s']:,.0f} img/s "
            f"(goal {GOAL_TUNED:g}x: {'met' if r['met'] else 'missed'})" for r in ratios]


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
    from labkit.compare.results import load_run

    try:
        run = load_run(args.records)
    except LookupError as err:
        print(f"\ntuned against best: {err}")
    else:
        print(f"\nTuned rows against the best configuration known (comparison run {run.id}, {run.protocol} "
              "protocol, training images/s):")
        print("\n".join(tuned_lines(tuned_vs_best(run, known_from_scaling(run, args.records)))))
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
