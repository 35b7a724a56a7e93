"""labkit.records: run records (round trip, filters, damaged files, concurrent writers, tables)
and ``write_results``, the one way a chapter records its figures."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from labkit import lenet, records
from labkit.records import read_records, record, records_table, write_results

ROOT = Path(__file__).resolve().parent.parent


def test_record_round_trip_and_filters(tmp_path):
    import numpy as np

    path = tmp_path / "runs"
    a = record("torch", "train_throughput", np.float32(4321.5), "img/s", device="cpu", threads=2,
               path=path, batch_size=64)
    record("jax", "train_throughput", 3200, "img/s", path=path)
    record("torch", "test_accuracy", 0.91, "fraction", path=path, versions={"torch": "x"})
    assert (path / "records.jsonl").read_text().count("\n") == 3
    recs = read_records(path)
    assert [r["toolkit"] for r in recs] == ["torch", "jax", "torch"]
    assert recs[0] == a and a["value"] == 4321.5 and a["batch_size"] == 64
    for key in ("time", "versions", "cpu", "threads", "quick", "host", "python", "labkit", "device"):
        assert key in a
    assert a["time"].endswith("Z") and a["threads"]["used"] == 2 and a["threads"]["cpu_count"] >= 1
    assert set(recs[2]["versions"]) == {"torch"}
    assert len(read_records(path, toolkit="torch")) == 2
    assert [r["metric"] for r in read_records(path, toolkit="torch", unit="fraction")] == ["test_accuracy"]
    assert len(read_records(path, value=lambda v: v > 1000)) == 2
    assert read_records(path, no_such_field=1) == []
    assert read_records(tmp_path / "nowhere") == []


def test_record_goes_to_labkit_runs_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_RUNS", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("LABKIT_QUICK", "1")
    record("chainer", "epoch_seconds", 12.5, "s")
    recs = read_records()
    assert len(recs) == 1 and recs[0]["quick"] is True
    assert (tmp_path / "elsewhere" / "records.jsonl").exists()


def test_record_refuses_to_overwrite_its_own_fields(tmp_path):
    with pytest.raises(ValueError, match="host"):
        record("torch", "m", 1, "s", path=tmp_path, host="mine")


def test_truncated_last_line_is_skipped_and_later_records_are_not_lost(tmp_path):
    record("torch", "m", 1, "s", path=tmp_path)
    record("torch", "m", 2, "s", path=tmp_path)
    with open(tmp_path / "records.jsonl", "a") as f:
        f.write('{"toolkit": "torch", "metric": "m", "val')      # a writer died here
    with pytest.warns(RuntimeWarning, match="line\\(s\\) 3"):
        assert [r["value"] for r in read_records(tmp_path)] == [1, 2]
    record("torch", "m", 3, "s", path=tmp_path)                   # lands on a line of its own
    with pytest.warns(RuntimeWarning):
        assert [r["value"] for r in read_records(tmp_path)] == [1, 2, 3]


def test_concurrent_writers_do_not_interleave_lines(tmp_path):
    code = ("import sys; from labkit.records import record\n"
            "for i in range(50): record('w' + sys.argv[1], 'm', i, 's', path=sys.argv[2], pad='x' * 20000)\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(k), str(tmp_path)], cwd=ROOT)
             for k in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    lines = (tmp_path / "records.jsonl").read_text().splitlines()
    assert len(lines) == 200
    recs = [json.loads(line) for line in lines]
    for k in range(4):
        assert [r["value"] for r in recs if r["toolkit"] == f"w{k}"] == list(range(50))


def test_records_table(tmp_path):
    record("torch", "train_throughput", 4321.5, "img/s", device="cpu", threads=2, path=tmp_path)
    record("jax", "test_accuracy", 0.9123, "fraction", path=tmp_path, versions={"jax": "0.7.1"})
    t = records_table(read_records(tmp_path))
    assert t.columns == records.DEFAULT_COLUMNS and len(t.rows) == 2
    text = t.text()
    assert "4,322" in text and "0.912" in text and "img/s" in text and "0.7.1" in text
    assert text.splitlines()[0].split() == records.DEFAULT_COLUMNS
    html = t._repr_html_()
    assert html.count("<tr") == 3 and "4,322" in html
    t2 = records_table(read_records(tmp_path), columns=["toolkit", "value", "host"])
    assert t2.rows[1][:2] == ["jax", "0.912"]


def test_write_results_uses_the_shared_names_and_batches(tmp_path):
    written = write_results("pytorch", train=3000.0, infer={1: 900.0, 256: 12000.0}, test_accuracy=0.9,
                            train_wall_s=12.0, path=tmp_path, device="cpu", variant="eager", quick=False)
    got = [(r["metric"], r.get("batch_size"), r["value"]) for r in written]
    assert got == [("train_images_per_s", lenet.FULL.batch_size, 3000.0), ("infer_images_per_s", 1, 900.0),
                   ("infer_images_per_s", 256, 12000.0), ("test_accuracy", None, 0.9), ("train_wall_s", None, 12.0)]
    assert all(r["variant"] == "eager" and r["quick"] is False for r in written)
    assert read_records(tmp_path) == written


def test_write_results_wants_every_inference_batch(tmp_path):
    with pytest.raises(ValueError, match=r"missing \[1\]"):
        write_results("keras-tensorflow", infer={256: 5000.0}, path=tmp_path)
    assert read_records(tmp_path) == []


def test_record_takes_the_mode_as_an_argument(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_QUICK", "1")
    assert record("torch", "m", 1, "s", path=tmp_path)["quick"] is True
    assert record("torch", "m", 1, "s", path=tmp_path, quick=False)["quick"] is False
