"""The review's Table 1 as data: GitHub stars, forks and contributors of twelve projects, as the
paper prints them, with the table's own anomalies flagged.

    >>> from labkit.review import table1
    >>> table1.ROWS[1].framework, table1.ROWS[1].stars, table1.ROWS[1].forks   # ('keras', 10875, 10875)
    >>> table1.from_csv(table1.to_csv(table1.ROWS)) == table1.ROWS             # True
    >>> [a.key for a in table1.anomalies()]

``TEXT`` is the table exactly as printed (the paper's spellings and thousands separators,
one tab between columns); ``ROWS`` is parsed from it, so the numbers have one home. Each row
keeps the paper's spelling (``framework``) and a normalised ``key`` beside it. The counts carry
no date in the paper: they are as of the manuscript (early 2017).
"""
from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import asdict, dataclass, fields

#: The caption printed above the table, and the one printed below it (they differ).
CAPTION_ABOVE = ("Table 1. Captures the ranking of the open software libraries based on the stars and "
                 "forks received by the community on github, an online repository for open source projects.")
CAPTION_BELOW = "Table 1. Open source projects ranked based on the stars and forks received by the users."

#: Table 1 as printed: header, then one row per project, columns separated by one tab.
TEXT = """\
Framework\tStars\tForks\tContributors\tLanguage
caffe\t15,057\t9,338\t222\tC++
keras\t10,875\t10,875\t327\tPython
mxnet\t7,471\t2,764\t250\tC++
torch\t6,163\t1,793\t113\tlua
convnetjs\t6,128\t1,198\t15\tjavascript
deeplearning4j\t5,090\t1,970\t103\tJava
TensorFLow\t4,505\t667\t573\tPython
Paddle\t4,069\t1,024\t53\tC++
DSSTNE\t3,531\t559\t22\tC++
Chainer\t1,983\t512\t96\tPython
DIGITS\t1,800\t1,052\t34\tPython
h2o\t1,628\t714\t70\tjava
"""

COLUMNS = ("Framework", "Stars", "Forks", "Contributors", "Language")


@dataclass(frozen=True)
class Row:
    """One row of Table 1: the paper's spelling, a normalised key, the three counts, the language as printed."""

    framework: str
    key: str
    stars: int
    forks: int
    contributors: int
    language: str


@dataclass(frozen=True)
class Anomaly:
    """Something wrong or missing in Table 1: which row (or ``"*"`` for the whole table), which
    column, what is odd, and how we know (a computation on the table, or a cited source)."""

    key: str
    column: str
    what: str
    reason: str


def normalise(name: str) -> str:
    """The key for a printed framework name: lower case, stripped (``'TensorFLow'`` -> ``'tensorflow'``)."""
    return name.strip().lower()


def _count(text: str, what: str) -> int:
    cleaned = text.strip().replace(",", "")
    if not cleaned.isdigit():
        raise ValueError(f"Table 1: {what} must be a whole number such as 15,057, got {text!r}")
    return int(cleaned)


def parse(text: str = TEXT) -> tuple[Row, ...]:
    """Rows from the printed form (header line, then tab-separated rows)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or tuple(c.strip() for c in lines[0].split("\t")) != COLUMNS:
        raise ValueError(f"Table 1 text must start with the header {' / '.join(COLUMNS)} (tab-separated)")
    rows = []
    for n, line in enumerate(lines[1:], 2):
        cells = line.split("\t")
        if len(cells) != len(COLUMNS):
            raise ValueError(f"Table 1 line {n}: expected {len(COLUMNS)} tab-separated cells, got "
                             f"{len(cells)} in {line!r}")
        name, stars, forks, contributors, language = (c.strip() for c in cells)
        rows.append(Row(name, normalise(name), _count(stars, f"line {n} stars"),
                        _count(forks, f"line {n} forks"), _count(contributors, f"line {n} contributors"),
                        language))
    return tuple(rows)


ROWS: tuple[Row, ...] = parse()


def row(key: str) -> Row:
    """The row for a framework, by printed name or key (``'TensorFLow'`` or ``'tensorflow'``)."""
    wanted = normalise(key)
    for r in ROWS:
        if r.key == wanted:
            return r
    raise KeyError(f"Table 1 has no row {key!r}; it has: {', '.join(r.key for r in ROWS)}")


# --- round trips ---------------------------------------------------------------------------------

_FIELDS = tuple(f.name for f in fields(Row))


def to_csv(rows=ROWS) -> str:
    """The rows as CSV text (a header of field names, counts as plain integers)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_FIELDS)
    for r in rows:
        writer.writerow([getattr(r, f) for f in _FIELDS])
    return out.getvalue()


def from_csv(text: str) -> tuple[Row, ...]:
    """Rows back from ``to_csv``'s text; a missing or unknown column is an error that names it."""
    reader = csv.DictReader(io.StringIO(text))
    missing = set(_FIELDS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"Table 1 CSV lacks column(s) {', '.join(sorted(missing))}; "
                         f"expected the header {','.join(_FIELDS)}")
    return tuple(Row(d["framework"], d["key"], _count(d["stars"], "stars"), _count(d["forks"], "forks"),
                     _count(d["contributors"], "contributors"), d["language"]) for d in reader)


def to_json(rows=ROWS) -> str:
    return json.dumps([asdict(r) for r in rows], indent=1, ensure_ascii=False)


def from_json(text: str) -> tuple[Row, ...]:
    try:
        return tuple(Row(**d) for d in json.loads(text))
    except TypeError as e:
        raise ValueError(f"Table 1 JSON: each item needs exactly the fields {', '.join(_FIELDS)} ({e})") from None


def to_text(rows=ROWS) -> str:
    """The printed form again (thousands separators, tabs): ``to_text(ROWS) == TEXT``."""
    lines = ["\t".join(COLUMNS)]
    lines += [f"{r.framework}\t{r.stars:,}\t{r.forks:,}\t{r.contributors:,}\t{r.language}" for r in rows]
    return "\n".join(lines) + "\n"


# --- anomalies -----------------------------------------------------------------------------------

def anomalies(rows=ROWS, *, defined_criteria=(), named_in_text=()) -> list[Anomaly]:
    """What is odd in the table, found by computing on it (so an edited table gives other flags).

    ``defined_criteria``: the criteria the review's text defines (``labkit.review.criteria``),
    to find one the table lacks a column for; ``named_in_text``: ``(key, name)`` of the systems
    the text describes (``labkit.review.systems``), to find those the table leaves out.
    """
    found = []
    for r in rows:
        if r.forks == r.stars:
            found.append(Anomaly(r.key, "Forks", f"forks = stars = {r.stars:,}",
                                 "a project forked by every one of its stargazers is implausible: most "
                                 "likely the stars figure copied into the forks column (a copy error)"))
    others = [r.contributors / r.stars for r in rows]
    med = statistics.median(others)
    for r in rows:
        ratio = r.contributors / r.stars
        if ratio > 4 * med:
            found.append(Anomaly(r.key, "Stars", f"{r.contributors:,} contributors to {r.stars:,} stars: "
                                 f"{ratio:.3f} per star, {ratio / med:.0f}x the table's median {med:.3f}",
                                 "contributors out of all proportion to stars: the "
                                 "star and fork counts cannot be those of the repository whose contributors "
                                 "were counted on"))
    by_stars = sorted(rows, key=lambda r: -r.stars)
    by_forks = sorted(rows, key=lambda r: -r.forks)
    if list(rows) == by_stars and by_stars != by_forks:
        found.append(Anomaly("*", "Stars", "rows are in descending order of stars alone",
                             "both captions say 'ranked based on the stars and forks', but the fork "
                             f"order differs (by forks: {', '.join(r.key for r in by_forks[:4])}, ...)"))
    cases = {r.language.lower(): set() for r in rows}
    for r in rows:
        cases[r.language.lower()].add(r.language)
    for lang, spellings in cases.items():
        if len(spellings) > 1:
            found.append(Anomaly("*", "Language", f"{lang!r} spelled {' and '.join(sorted(spellings))}",
                                 "the same language written two ways in one column"))
    for r in rows:
        if r.framework not in (r.framework.lower(), r.framework.upper(), r.framework.capitalize()):
            found.append(Anomaly(r.key, "Framework", f"printed {r.framework!r}",
                                 "mixed capitals that are not the project's own spelling"))
    columns = {c.lower() for c in COLUMNS}
    for crit in defined_criteria:
        if crit.lower().startswith("github ") and crit[7:].lower() not in columns:
            found.append(Anomaly("*", crit, f"no {crit[7:].lower()} column",
                                 f"the text defines '{crit}' as a criterion, but Table 1 has no such column"))
    keys = {r.key for r in rows}
    absent = [name for key, name in named_in_text if key not in keys]
    if absent:
        found.append(Anomaly("*", "Framework", f"{len(absent)} systems the text describes are not in the "
                             f"table: {', '.join(absent)}",
                             "the text gives them sections or remarks, the table no counts"))
    return found


#: What the table alone cannot show, from a source outside the paper.
TENSORFLOW_FORKS_SOURCE = ("Delip Rao, 'The Unreasonable Popularity of TensorFlow' (2016): TensorFlow was the "
                           "most forked GitHub project of 2015, http://deliprao.com/archives/168")


def cited_anomalies(rows=ROWS) -> list[Anomaly]:
    """Anomalies that need a fact from outside the paper (the fact cited, the comparison computed)."""
    tf = next((r for r in rows if r.key == "tensorflow"), None)
    if tf is None:
        return []
    more = [r.key for r in rows if r.forks > tf.forks]
    return [Anomaly("tensorflow", "Forks", f"{tf.forks:,} forks, fewer than {len(more)} of the other "
                    f"{len(rows) - 1} projects ({', '.join(more)})",
                    TENSORFLOW_FORKS_SOURCE + "; figures this low cannot be tensorflow/tensorflow's in "
                    "2017 (which repository the review counted is not confirmed)")]
