"""The review's criteria as a matrix over every system it names: measured where this workbook can
measure (from the comparison's run records), cited fact otherwise, and "not measurable here"
said as such. No figure is typed in: measured cells come from ``labkit.compare.load_run``.

    >>> from labkit.review import criteria
    >>> criteria.matrix()                    # without comparison records: "run chapter 40 to measure"
    >>> criteria.matrix(run=compare.load_run())
"""
from __future__ import annotations

from labkit.review import systems, table1

#: The criteria as the review's "How to Evaluate a Toolkit" section names them, in its order.
CRITERIA = ("Language", "Documentation", "Development Environment", "Execution Speed", "Training Speed",
            "GPU Support", "Maturity Level", "Model Library", "Github Commits", "Github Contributors")

#: Table 1's counts that the text never defines as criteria.
TABLE_ONLY = ("Stars", "Forks")

#: Columns kept for the ONNX chapter to fill (what each system exports to / imports from ONNX).
ONNX_COLUMNS = ("exports to ONNX", "imports from ONNX")
ONNX_CHAPTER = "31"

NOT_HERE = "not measurable here"
RUN_40 = "run chapter 40 to measure"

#: What a cell of each measurable criterion shows, and the run metric(s) it comes from.
MEASURED = {
    "Execution Speed": "inference images/s at each batch of lenet.INFER_BATCHES",
    "Training Speed": "training images/s at the Recipe's batch",
    "Development Environment": "time to first result (s) and lines of its LeNet",
    "GPU Support": "whether labkit.device saw a GPU in the child process",
}


def entries_for(system: systems.System) -> list[str]:
    """The comparison rows (``labkit.toolkits.ENTRIES``) of the chapter that runs ``system``."""
    from labkit.toolkits import ENTRIES

    chapter = systems.runs_here(system)
    return [name for name, e in ENTRIES.items() if chapter and e.notebook == chapter and not e.tuned]


def _measured(criterion: str, run, names: list[str]) -> str | None:
    """The cell for a measurable criterion from ``run``; None when the run has none of ``names``."""
    from labkit import lenet, tables

    got = [n for n in names if n in run.values]
    if not got:
        return None
    cells = []
    for n in got:
        v = run.values[n]
        if criterion == "Training Speed":
            cell = f"{tables.num(v['train_images_per_s'])} img/s"
        elif criterion == "Execution Speed":
            cell = " / ".join(tables.num(v[f"infer_images_per_s@{b}"]) for b in lenet.INFER_BATCHES) + " img/s"
        elif criterion == "Development Environment":
            cell = f"{tables.num(v['time_to_first_result_s'])} s, {int(v['lines_of_code'])} lines"
        else:
            cell = "GPU seen" if v["gpu_support"] else "no GPU seen"
        cells.append(f"{n}: {cell}" if len(got) > 1 else cell)
    return "; ".join(cells)


def run_note(run) -> str:
    """Where and when a run was measured: its id, protocol, CPU, host, date (from its records)."""
    first = run.records[0]
    return (f"measured in comparison run {run.id} ({run.protocol} protocol) on {first.get('cpu', '?')}, "
            f"host {first.get('host', '?')}, {first.get('time', '?')[:10]}")


def _interchange(criterion: str, names: list[str], facts: dict | None) -> str:
    """An ONNX column from chapter 31's measured facts (``labkit.interchange.matrix.load_facts``)."""
    if not names:
        return NOT_HERE
    if facts is None:
        return f"run chapter {ONNX_CHAPTER} to measure"
    key = "exports to" if criterion.startswith("exports") else "imports from"
    cells = []
    for n in names:
        if n not in facts:
            cells.append(f"{n}: not tried" if len(names) > 1 else "not tried")
            continue
        got = ", ".join(facts[n].get(key, [])) or "no"
        cells.append(f"{n}: {got}" if len(names) > 1 else got)
    return "; ".join(cells) + f" (chapter {ONNX_CHAPTER}, {facts.get('measured', '?')})"


def cell(system: systems.System, criterion: str, run=None, facts: dict | None = None) -> str:
    """One cell of the matrix: measured, cited, or said to be not measurable here. ``facts``:
    chapter 31's interchange facts, for the ONNX columns."""
    row = None
    if system.table1:
        row = table1.row(system.table1)
    if criterion in ("Github Contributors", "Stars", "Forks"):
        if row is None:
            return "not in Table 1"
        value = {"Github Contributors": row.contributors, "Stars": row.stars, "Forks": row.forks}[criterion]
        return f"{value:,} (Table 1, 2017)"
    if criterion == "Github Commits":
        return "not in Table 1 (the text defines it, the table has no column)"
    if criterion in ONNX_COLUMNS:
        return _interchange(criterion, entries_for(system), facts)
    if criterion == "Language":
        return f"Table 1: {row.language}" if row else "not in Table 1"
    if criterion == "Maturity Level":
        last = system.last_release
        if last == "ongoing":
            last = f"ongoing; pinned here: {systems.version_here(system) or '-'}"
        return f"{system.status}; last release {last} (looked {systems.LOOKED})"
    if criterion == "Model Library":
        from labkit.toolkits import ENTRIES

        libs = {ENTRIES[n].model_library for n in entries_for(system) if ENTRIES[n].model_library}
        if libs:
            return "; ".join(lib[1] for lib in sorted(libs, key=str))
        return "none named" if entries_for(system) else NOT_HERE
    if criterion == "Documentation":
        return "a judgement, not measured"
    if criterion in MEASURED:
        names = entries_for(system)
        if not names:
            return NOT_HERE
        if run is None:
            return RUN_40
        return _measured(criterion, run, names) or RUN_40
    raise ValueError(f"unknown criterion {criterion!r}; the review's are: {', '.join(CRITERIA)}")


def columns() -> tuple[str, ...]:
    return CRITERIA + TABLE_ONLY + ONNX_COLUMNS


def matrix(run=None, *, only=None, facts=None):
    """The criteria (and Table 1's stars and forks, and the ONNX columns) over every system the
    review names. ``run``: a ``labkit.compare.Run`` whose records fill the measured cells;
    ``facts``: chapter 31's interchange facts (``latest_facts()``) for the ONNX columns;
    ``only``: criteria to show (default all)."""
    from labkit import tables

    cols = list(only or columns())
    unknown = [c for c in cols if c not in columns()]
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; choose from: {', '.join(columns())}")
    rows = [[s.name, *(cell(s, c, run, facts) for c in cols)] for s in systems.SYSTEMS]
    return tables.Table(["system", *cols], rows)


def latest_run():
    """The latest comparison run in this machine's records, or None when there is none."""
    from labkit import compare

    try:
        return compare.load_run()
    except LookupError:
        return None


def latest_facts():
    """Chapter 31's last interchange facts on this machine, or None when it has not run."""
    from labkit.interchange import matrix as interchange

    try:
        return interchange.load_facts()
    except LookupError:
        return None
