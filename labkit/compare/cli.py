"""``python -m labkit compare``: the comparison from a terminal."""
from __future__ import annotations

import sys

from labkit import settings
from labkit.chapters import ChaptersNotFound
from labkit.placement import DEVICES
from labkit.compare.harness import run
from labkit.compare.results import agreement_worst, load_run, results_table
from labkit.records import records_path
from labkit.toolkits import ENTRIES


def main(argv: list[str] | None = None) -> int:
    import argparse

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m labkit compare",
                                     description="Every toolkit's LeNet under one protocol, each in its own process.")
    parser.add_argument("--quick", action="store_true", help="the tests' short protocol (default: full)")
    parser.add_argument("--toolkits", nargs="+", metavar="NAME", help=f"some of: {', '.join(ENTRIES)}")
    parser.add_argument("--threads", type=int, help="threads per toolkit (default: the CPUs usable here)")
    parser.add_argument("--device", choices=DEVICES, default=None,
                        help="where each toolkit runs (default: $LABKIT_DEVICE, else auto: a GPU where the "
                             "toolkit sees one, else the CPU, said plainly)")
    parser.add_argument("--records", help="records file or folder (default: labkit.paths.runs_dir())")
    parser.add_argument("--notebooks", metavar="DIR",
                        help="the chapter notebooks' folder (default: $LABKIT_NOTEBOOKS, else the workbook clone's)")
    args = parser.parse_args(argv)
    try:
        out = run(args.toolkits, quick=args.quick, threads=args.threads, records=args.records,
                  notebooks=args.notebooks, device=args.device or settings.text("LABKIT_DEVICE") or "auto")
    except (ValueError, ChaptersNotFound, OSError) as err:
        parser.error(str(err))
    r = load_run(args.records, out["run"])
    if r.values:
        print("\n" + results_table(r).text())
        print("\nLargest pairwise difference: probe logits {logits:.1e}, after one SGD step {step:.1e}"
              .format(**agreement_worst(r)))
    print(f"\nrecords: run {out['run']} in {records_path(args.records)}")
    return 1 if out["errors"] else 0
