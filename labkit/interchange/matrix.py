"""From chapter 31's measurements to tables: the agreement matrix, the speeds, and the review's
"exports to / imports from" facts.

Every cell comes from a measurement the chapter made (``measure``), never typed in. A row is
one toolkit's export; its columns are the steps the file went through:

* **native**: the toolkit's own LeNet (from its chapter's cells) on the probe batch,
* **export**: did its exporter write a file (else the error),
* **checker**: ``onnx.checker`` with shape inference,
* **onnxruntime**, **PyTorch (ours)**, **OpenCV**: the file's probe logits in each reader,

each against the NumPy reference's logits for the same weights, within ``lenet.LOGITS_ATOL``.
"""
from __future__ import annotations

from pathlib import Path

from labkit import lenet, tables

READERS = ("onnxruntime", "PyTorch (ours)", "OpenCV")
COLUMNS = ("native", "export", "checker", *READERS)


def _verdict(diff: float | None, error: str | None, atol: float) -> dict:
    if error is not None:
        return {"ok": False, "diff": None, "error": error}
    return {"ok": bool(diff <= atol), "diff": float(diff), "error": None}


def measure(exports: list[dict], weights: dict, *, readers: dict, atol: float = lenet.LOGITS_ATOL) -> dict:
    """``{toolkit: {column: {"ok", "diff", "error"}}}`` for each export (from the chapter's
    ``export_here``), every file run by each of ``readers`` (``{name: path -> logits}``; a
    reader may raise, or return ``{"error": ...}``)."""
    from labkit.interchange import onnxfiles

    x, _ = lenet.probe_batch()
    want = lenet.forward(weights, x)
    out = {}
    for e in exports:
        row = {}
        native = e.get("native_logits")
        row["native"] = (_verdict(lenet.max_abs_diff(native, want), None, atol) if native is not None
                         else _verdict(None, e.get("error") or "no native logits", atol))
        path = e.get("onnx")
        row["export"] = ({"ok": True, "diff": None, "error": None, "file": path} if path
                         else {"ok": False, "diff": None, "error": e.get("error") or "no file"})
        if path:
            try:
                info = onnxfiles.check(path)
                row["checker"] = {"ok": True, "diff": None, "error": None, "info": info}
            except Exception as err:
                row["checker"] = _verdict(None, f"{type(err).__name__}: {err}", atol)
            for name, read in readers.items():
                try:
                    got = read(path)
                    if isinstance(got, dict):
                        row[name] = _verdict(None, got["error"], atol) if "error" in got else \
                            _verdict(lenet.max_abs_diff(got["logits"], want), None, atol)
                    else:
                        row[name] = _verdict(lenet.max_abs_diff(got, want), None, atol)
                except Exception as err:
                    row[name] = _verdict(None, f"{type(err).__name__}: {' '.join(str(err).split())[:300]}", atol)
        out[e["toolkit"]] = row
    return out


def _cell(v: dict | None) -> str:
    if v is None:
        return ""
    if v["error"]:
        return "no: " + v["error"].split(":")[0]
    if v["diff"] is None:
        return "yes"
    return f"{'yes' if v['ok'] else 'NO'} ({v['diff']:.0e})"


def agreement_table(measured: dict) -> tables.Table:
    """The matrix: one row per toolkit, the columns of ``COLUMNS``; each cell "yes (max diff)" or
    "no: <error type>" (``errors`` has the full messages)."""
    return tables.Table(["toolkit", *COLUMNS], [[tk, *(_cell(row.get(c)) for c in COLUMNS)]
                                                for tk, row in measured.items()])


def errors(measured: dict) -> list[tuple[str, str, str]]:
    """``(toolkit, column, message)`` for every cell that failed with an error."""
    return [(tk, c, row[c]["error"]) for tk, row in measured.items() for c in COLUMNS
            if row.get(c) and row[c]["error"]]


def exports_imports(measured: dict, imports: dict | None = None) -> dict:
    """For the review's criteria matrix: per toolkit, the formats its LeNet was **measured** to
    travel to and from in chapter 31. ``{toolkit: {"exports to": [...], "imports from": [...],
    "notes": [...]}}``: "ONNX" under "exports to" when its exporter wrote a file that passed the
    checker and agreed in onnxruntime; under "imports from" for the readers (``imports``:
    ``{toolkit: {"ONNX": verdict}}``) that ran every checked file in agreement."""
    facts = {}
    for tk, row in measured.items():
        ok = all(row.get(c, {}).get("ok") for c in ("export", "checker", "onnxruntime"))
        notes = [] if ok else [f"ONNX export: {(row.get(c) or {}).get('error') or 'disagrees'}"
                               for c in ("export", "checker", "onnxruntime") if not (row.get(c) or {}).get("ok")][:1]
        facts[tk] = {"exports to": ["ONNX"] if ok else [], "imports from": [], "notes": notes}
    for tk, formats in (imports or {}).items():
        entry = facts.setdefault(tk, {"exports to": [], "imports from": [], "notes": []})
        for fmt, verdict in formats.items():
            if verdict.get("ok"):
                entry["imports from"].append(fmt)
                if verdict.get("via"):
                    entry["notes"].append(f"{fmt} read by {verdict['via']}")
            else:
                entry["notes"].append(f"{fmt} import: {verdict.get('error') or 'disagrees'}")
    return facts


def reader_verdicts(measured: dict, reader: str) -> dict:
    """One reader's record over every file that passed the checker: ok when it ran all in agreement;
    the first failure otherwise (for ``exports_imports``' ``imports``)."""
    cells = [(tk, row[reader]) for tk, row in measured.items() if row.get("checker", {}).get("ok") and reader in row]
    bad = [(tk, c) for tk, c in cells if not c["ok"]]
    if not cells:
        return {"ok": False, "error": "no checked file to read"}
    if bad:
        tk, c = bad[0]
        return {"ok": False, "error": f"{len(bad)} of {len(cells)} files fail (first: {tk}: {c['error'] or 'disagrees'})"}
    return {"ok": True, "error": None, "files": len(cells), "via": reader}


def speed_table(native: dict, onnx: dict) -> tables.Table:
    """Images/s at each of ``lenet.INFER_BATCHES``: the toolkit's own inference beside onnxruntime
    on its file. ``native`` and ``onnx``: ``{toolkit: {batch: images/s}}``."""
    rows = []
    for tk in dict.fromkeys([*native, *onnx]):
        row = [tk]
        for b in lenet.INFER_BATCHES:
            n, o = (native.get(tk) or {}).get(b), (onnx.get(tk) or {}).get(b)
            row += [tables.num(n) if n else "", tables.num(o) if o else "",
                    f"{o / n:.2f}x" if n and o else ""]
        rows.append(row)
    head = ["toolkit"] + [f"{w} b{b}" for b in lenet.INFER_BATCHES for w in ("native", "onnxruntime", "ratio")]
    return tables.Table(head, rows)


def record_speeds(native: dict, onnx: dict, files: dict, **common) -> list[dict]:
    """Each figure of ``speed_table`` as a run record (``labkit.records``): metric
    ``infer_images_per_s`` with ``runtime`` "native" or "onnxruntime", the batch, and the file."""
    from labkit.records import record

    out = []
    for runtime, table in (("native", native), ("onnxruntime", onnx)):
        for tk, by_batch in table.items():
            for b, value in (by_batch or {}).items():
                out.append(record(tk, "infer_images_per_s", float(value), "img/s", batch_size=int(b),
                                  runtime=runtime, chapter="31_onnx", onnx_file=files.get(tk), **common))
    return out


FACTS_FILE = "interchange.json"


def save_facts(facts: dict, path=None) -> Path:
    """Write ``exports_imports``' facts to ``runs/onnx/interchange.json`` (or ``path``), dated."""
    import json
    from datetime import date

    from labkit.paths import runs_dir

    target = Path(path) if path else runs_dir() / "onnx" / FACTS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"measured": date.today().isoformat(), "facts": facts}, indent=1))
    return target


def load_facts(path=None) -> dict:
    """The facts chapter 31 last saved (``save_facts``): ``{toolkit: {"exports to", "imports from",
    "notes"}}``, plus ``"measured"``, the date. LookupError, saying what to run, when there are none."""
    import json

    from labkit.paths import runs_dir

    target = Path(path) if path else runs_dir() / "onnx" / FACTS_FILE
    if not target.is_file():
        raise LookupError(f"no interchange facts at {target}: run notebooks/31_onnx.ipynb (it measures which "
                          "toolkits' LeNet exports to ONNX and which readers take it back) first")
    saved = json.loads(target.read_text())
    return {**saved["facts"], "measured": saved["measured"]}
