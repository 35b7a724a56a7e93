"""``python -m labkit.book``: the book (``make book``).

    python -m labkit.book [--budget SECONDS] [--quick] [--rerun] [--out DIR]

Every chapter in ``notebooks/`` without a fresh, complete executed copy in ``runs/executed/``
(``make test`` leaves one of each, in quick mode) runs first: in full mode when it finishes
within ``--budget`` seconds (default 900), else in quick mode; ``--quick`` skips full mode,
``--rerun`` runs every chapter again. Then the site is built into ``build/book/html``
(``--out``) from the copies, without running anything. Exit 1 when a chapter has no copy
or a cell of one failed (the site is still built when every chapter has a copy).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from labkit import chapters, paths
    from labkit.book import executed, run, site

    p = argparse.ArgumentParser(prog="python -m labkit.book", description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=900, help="seconds a chapter may take in full mode (default 900)")
    p.add_argument("--quick", action="store_true", help="run missing chapters in quick mode only")
    p.add_argument("--rerun", action="store_true", help="run every chapter again, fresh copies or not")
    p.add_argument("--out", type=Path, default=None, help="where the site goes (default build/book)")
    args = p.parse_args(argv)
    if args.budget <= 0:
        p.error(f"--budget must be a positive number of seconds, not {args.budget:g}")
    notebooks, copies = chapters.notebooks_dir(), executed.executed_dir()
    out = args.out or (paths.repo_root() or Path.cwd()) / "build" / "book"
    failed = []
    for chapter in executed.chapters(notebooks):
        why = f"{chapter.name}: --rerun" if args.rerun else executed.problem(chapter, copies)
        if why is None:
            print(f"{chapter.name}: fresh copy ({(executed.read_info(copies / chapter.name) or {}).get('mode')} mode)")
            continue
        print(f"{why}; it runs now")
        if run.run_for_book(chapter, copies, budget_s=args.budget, quick_only=args.quick) is None:
            failed.append(chapter.name)
    errors = [c.name for c in executed.chapters(notebooks)
              if (executed.read_info(copies / c.name) or {}).get("errors")]
    if failed:
        print(f"no book: these chapters did not finish within {args.budget:g} s: {', '.join(failed)}", file=sys.stderr)
        return 1
    t0 = time.monotonic()
    try:
        html_dir = site.build(notebooks, copies, out)
    except executed.BookError as err:
        print(f"no book: {err}", file=sys.stderr)
        return 1
    print(f"the book: {html_dir / 'index.html'} (built in {time.monotonic() - t0:.0f} s)")
    if errors:
        print(f"cells failed in: {', '.join(errors)} (their pages show the errors)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
