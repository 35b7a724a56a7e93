"""``python -m labkit``: a small command line for the workbook.

    python -m labkit doctor [TOOLKIT ...]  toolkits, versions and devices, as one table
    python -m labkit data [NAME ...]     where each dataset would load from; --fetch to fetch it
    python -m labkit compat              what the legacy-toolkit shims do here
    python -m labkit compat --install-hook
    python -m labkit compare [--quick]   every toolkit's LeNet, one protocol, one process each
    python -m labkit bench               labkit's own start-up and data-loading figures
    python -m labkit workshop warm|plan|reset   the workshop kit (WORKSHOP.md)
"""
from __future__ import annotations

import argparse
import sys


def _doctor(args) -> int:
    from labkit import device

    print(device.report_text(args.toolkits or None))
    return 0


def _data(args) -> int:
    from labkit import data

    names = args.names or list(data.DATASETS)
    status = 0
    for name in names:
        try:
            if args.fetch:
                ds = data.load(name)
                print(f"{name}: {ds.describe()}")
            else:
                print(data.status_text(name))
        except data.DataError as err:
            print(f"{name}: {err}", file=sys.stderr)
            status = 1
    return status


def _compat(args) -> int:
    from labkit import compat

    if args.install_hook:
        path = compat.install_startup_hook()
        print(f"compat: start-up hook written to {path}")
        return 0
    compat.apply()
    for name, what in compat.report():
        print(f"{name:22s} {what}")
    return 0


def _bench(args) -> int:
    from labkit import bench

    bench.main()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("doctor", help="toolkits, versions and devices")
    p.add_argument("toolkits", nargs="*", help="toolkit names (default: every toolkit labkit knows)")
    p.set_defaults(fn=_doctor)
    p = sub.add_parser("data", help="dataset sources and cache")
    p.add_argument("names", nargs="*", help="dataset names (default: all)")
    p.add_argument("--fetch", action="store_true", help="load (and cache) each dataset now")
    p.set_defaults(fn=_data)
    p = sub.add_parser("compat", help="legacy-toolkit shims")
    p.add_argument("--install-hook", action="store_true",
                   help="write the start-up hook into this environment's site-packages")
    p.set_defaults(fn=_compat)
    # listed for --help; its own options are parsed by labkit.compare (see main below)
    sub.add_parser("compare", help="every toolkit's LeNet under one protocol (compare --help)")
    sub.add_parser("bench", help="labkit's own benchmarks").set_defaults(fn=_bench)
    sub.add_parser("workshop", help="warm the caches, plan the day, reset the notebooks (workshop --help)")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:
        from labkit import compare

        return compare.main(argv[1:])
    if argv[:1] == ["workshop"]:
        from labkit import workshop

        return workshop.main(argv[1:])
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
