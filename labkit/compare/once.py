"""One quick comparison run for a whole test session, shared by everyone who asks for it.

``make test`` needs the comparison's quick run twice: ``tests/test_compare.py`` checks its
records, and chapter 40 shows them. Each run costs about four minutes on a 2-core machine,
so the test session sets ``$LABKIT_COMPARE_ONCE`` to a folder (``tests/conftest.py``) and
the first default quick run made in that session (``compare.run()`` with no rows, threads,
device or folder chosen, or with every row named) runs *every* row once, the rows that
only full runs take included, and keeps its records and result there. Every later such
call, in any process of the session, waits for it (a file lock) and gets the same result,
with the run's records appended to its own records file, as if it had run.

A reader never has the variable set, so a reader's ``compare.run()`` always runs. Any call
that chooses rows, threads, a device or a notebooks folder always runs too.
"""
from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path

VAR = "LABKIT_COMPARE_ONCE"
RESULT = "result.json"
RECORDS = "records.jsonl"


def folder() -> Path | None:
    """The session's shared folder, or None when sharing is off (always, for a reader)."""
    value = os.environ.get(VAR, "").strip()
    return Path(value) if value else None


def applies(toolkits, quick: bool, threads, notebooks, device: str, every: list[str]) -> bool:
    """Whether this call is the session's default quick run, which may be shared."""
    return (folder() is not None and quick and threads is None and notebooks is None and device == "auto"
            and (not toolkits or list(toolkits) == list(every)))


@contextmanager
def _locked(where: Path):
    where.mkdir(parents=True, exist_ok=True)
    with open(where / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)        # blocks while another process runs it
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _dump(out: dict) -> str:
    return json.dumps({**out, "pairs": [[a, b, d] for (a, b), d in out["pairs"].items()]})


def _load(text: str) -> dict:
    out = json.loads(text)
    out["pairs"] = {(a, b): d for a, b, d in out["pairs"]}
    return out


def shared_run(run, records, show) -> dict:
    """``run(records_path)`` once per session (every row); afterwards its saved result, with
    its records appended to ``records`` (a file or folder, as ``compare.run`` takes)."""
    from labkit.records import records_path

    where = folder()
    with _locked(where):
        if (where / RESULT).is_file():
            out = _load((where / RESULT).read_text())
            show(f"compare run {out['run']}: this test session's quick run, already made (every row, once "
                 f"per session: ${VAR}); its records are copied here")
        else:
            (where / RECORDS).unlink(missing_ok=True)      # what a run that raised left half-written
            out = run(where / RECORDS)
            (where / RESULT).write_text(_dump(out))
    target = records_path(records)
    if target != where / RECORDS:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a") as f:
            f.write((where / RECORDS).read_text())
    return out
