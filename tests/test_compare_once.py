"""labkit.compare.once: the test session's one quick comparison run, shared by whoever asks."""
from __future__ import annotations

import json
import threading
import time

import pytest

from labkit.compare import once
from labkit.records import read_records, record

EVERY = ["pytorch", "keras-tensorflow", "pytorch-tuned"]


def test_only_the_default_quick_run_is_shared(monkeypatch, tmp_path):
    monkeypatch.delenv(once.VAR, raising=False)
    assert not once.applies(None, True, None, None, "auto", EVERY)          # a reader: never
    monkeypatch.setenv(once.VAR, str(tmp_path))
    assert once.applies(None, True, None, None, "auto", EVERY)
    assert once.applies(EVERY, True, None, None, "auto", EVERY)              # every row, named
    assert not once.applies(None, False, None, None, "auto", EVERY)         # full runs always run
    assert not once.applies(["pytorch"], True, None, None, "auto", EVERY)   # rows chosen
    assert not once.applies(None, True, 1, None, "auto", EVERY)             # threads chosen
    assert not once.applies(None, True, None, tmp_path, "auto", EVERY)      # another folder
    assert not once.applies(None, True, None, None, "cpu", EVERY)           # a device chosen


def _runner(calls):
    def run(path):
        calls.append(path)
        time.sleep(0.3)                     # long enough for a second caller to arrive and wait
        record("pytorch", "test_accuracy", 0.9, "fraction", run="R1", path=path)
        return {"run": "R1", "results": {"pytorch": {"test_accuracy": 0.9}}, "errors": {}, "missing": [],
                "pairs": {("numpy-reference", "pytorch"): {"logits": 1e-7, "step": 2e-8}}}
    return run


def test_the_first_caller_runs_every_later_one_waits_and_gets_the_same_result(monkeypatch, tmp_path):
    monkeypatch.setenv(once.VAR, str(tmp_path / "shared"))
    calls, outs, shown = [], {}, []

    def ask(name):
        outs[name] = once.shared_run(_runner(calls), tmp_path / name / "records.jsonl", shown.append)

    threads = [threading.Thread(target=ask, args=(n,)) for n in ("fixture", "chapter")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1, "the run happened more than once"
    assert outs["fixture"] == outs["chapter"] and outs["chapter"]["pairs"][("numpy-reference", "pytorch")]
    for name in ("fixture", "chapter"):       # each caller's records file holds the run, as if it had run
        recs = read_records(tmp_path / name / "records.jsonl")
        assert [(r["run"], r["metric"], r["value"]) for r in recs] == [("R1", "test_accuracy", 0.9)]
    assert len(shown) == 1 and "already made" in shown[0]
    assert json.loads((tmp_path / "shared" / once.RESULT).read_text())["run"] == "R1"


def test_a_run_that_raised_is_not_kept_and_the_next_caller_runs_it(monkeypatch, tmp_path):
    monkeypatch.setenv(once.VAR, str(tmp_path / "shared"))

    def broken(path):
        raise RuntimeError("a child crashed")
    with pytest.raises(RuntimeError, match="crashed"):
        once.shared_run(broken, tmp_path / "a.jsonl", print)
    calls = []
    assert once.shared_run(_runner(calls), tmp_path / "b.jsonl", print)["run"] == "R1" and len(calls) == 1
