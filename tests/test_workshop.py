"""labkit.workshop (``make workshop``, ``make reset``): the plan from real warm-up records, its
errors, reset in a git clone and in a zip download (``labkit.pristine``), and one real warm-up."""
from __future__ import annotations

import math
import os
import shutil
import subprocess

import nbformat
import pytest

from labkit import paths, records, workshop

# Measured-looking quick-mode wall times (seconds): written as real records below.
WALL = {"00_setup": 20.0, "01_data": 61.0, "10_pytorch": 95.5, "11_keras": 170.0, "12_theano": 130.0,
        "14_chainer": 75.0, "40_compare": 290.0, "50_playground": 40.0}


def _warmup(path, walls, stamp="20261202T000000", error=None):
    for chapter, wall in walls.items():
        records.record("workshop", workshop.METRIC, wall, "s", versions={}, path=path, quick=True,
                       chapter=chapter, warmup=stamp, error=error if chapter == "11_keras" else None)


def test_the_plan_adds_measured_runs_to_the_stated_talk_times(tmp_path):
    path = tmp_path / "records.jsonl"
    _warmup(path, WALL)
    blocks, skipped, legacy, used = workshop.plan(path)
    by = {b.chapter: b for b in blocks}
    assert by["10_pytorch"].run_min == 2 and by["40_compare"].run_min == 5      # 95.5 s and 290 s, rounded up
    assert legacy == "14_chainer" and by["legacy"].name == "legacy toolkit (14_chainer)"   # the quickest
    assert used["40_compare"]["value"] == 290.0
    for chapter, b in by.items():
        if chapter:
            stem = "14_chainer" if chapter == "legacy" else chapter
            assert b.minutes == math.ceil(WALL[stem] / 60) + workshop.TALK_MIN[chapter]
    fixed = workshop.INTRO_MIN + 2 * workshop.BREAK_MIN + workshop.WRAP_MIN
    total = sum(b.minutes for b in blocks)
    assert total == fixed + sum(math.ceil(WALL[c] / 60) + workshop.TALK_MIN[k] for k, c in [
        ("00_setup", "00_setup"), ("01_data", "01_data"), ("10_pytorch", "10_pytorch"), ("11_keras", "11_keras"),
        ("legacy", "14_chainer"), ("40_compare", "40_compare"), ("50_playground", "50_playground")])
    assert skipped == [] and total <= workshop.MINUTES
    text = workshop.plan_text(path)
    assert f"total: {total} min of 180 ({180 - total} spare" in text and "0:00" in text
    assert "short of time? skip, in this order:" in text and "  - 50_playground:" in text
    assert "  - 14_chainer: " in text


def test_a_short_day_drops_chapters_in_the_skip_order_and_factor_scales_runs(tmp_path):
    path = tmp_path / "records.jsonl"
    _warmup(path, WALL)
    blocks, skipped, legacy, _ = workshop.plan(path, minutes=120, legacy="12")
    assert legacy == "12_theano" and skipped[:2] == ["50_playground", "12_theano"]
    assert sum(b.minutes for b in blocks) <= 120
    slow = workshop.plan(path, factor=2.0).blocks
    assert {b.chapter: b.run_min for b in slow}["40_compare"] == math.ceil(290 * 2 / 60)
    with pytest.raises(ValueError, match="not a legacy chapter; pick one of .*12_theano"):
        workshop.plan(path, legacy="10")
    with pytest.raises(ValueError, match="factor must be positive"):
        workshop.plan(path, factor=0)


def test_the_latest_warmup_wins_and_a_failed_chapter_is_flagged(tmp_path):
    path = tmp_path / "records.jsonl"
    _warmup(path, WALL)
    _warmup(path, {"11_keras": 30.0}, stamp="20261202T010000", error="AssertionError: accuracy 0.1")
    blocks = workshop.plan(path).blocks
    keras = next(b for b in blocks if b.chapter == "11_keras")
    assert keras.run_min == 1 and "FAILED in the warm-up (AssertionError: accuracy 0.1)" in keras.note


def test_no_record_says_run_make_workshop_first(tmp_path, monkeypatch, capsys):
    with pytest.raises(workshop.WorkshopError, match="no warm-up record in .*run `make workshop` first"):
        workshop.plan(tmp_path / "none.jsonl")
    partial = tmp_path / "partial.jsonl"
    _warmup(partial, {"00_setup": 10.0, "14_chainer": 60.0})
    with pytest.raises(workshop.WorkshopError, match="no warm-up time for chapter 01_data .*warm 01_data"):
        workshop.plan(partial)
    monkeypatch.setenv("LABKIT_RUNS", str(tmp_path / "empty"))
    assert workshop.main(["plan"]) == 2
    assert "run `make workshop` first" in capsys.readouterr().err


def test_caches_say_where_and_how_big(tmp_path, monkeypatch):
    (tmp_path / "ind" / "fx").mkdir(parents=True)
    (tmp_path / "ind" / "fx" / "k.py").write_bytes(b"x" * 3000)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "ind"))
    monkeypatch.setenv("THEANO_FLAGS", f"floatX=float32,base_compiledir={tmp_path / 'none'}")
    got = {c["cache"]: c for c in workshop.caches()}
    assert got["torch.compile cache"]["bytes"] == 3000
    assert got["Theano compile cache"] == {"cache": "Theano compile cache", "path": str(tmp_path / "none"),
                                           "bytes": None, "note": "THEANO_FLAGS=base_compiledir=..."}
    assert got["labkit data cache"]["path"] == str(paths.cache_dir())
    before = [dict(got["torch.compile cache"], bytes=None)]
    table = workshop.caches_table([got["torch.compile cache"]], before).text()
    assert "filled now" in table and "0.0 MiB" in table
    grown = workshop.caches_table([got["torch.compile cache"]], [dict(got["torch.compile cache"], bytes=1000)])
    assert "was warm, +0.0 MiB" in grown.text()


# --- reset (labkit.pristine, through the workshop command) --------------------------------------

@pytest.fixture
def clone(tmp_path):
    if shutil.which("git") is None or not (paths.repo_root() / ".git").exists():
        pytest.skip("git is not installed, or this workbook is not a git clone")
    target = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(paths.repo_root()), str(target)], check=True)
    return target


def test_reset_saves_the_learners_copy_then_restores_the_committed_one(clone, capsys):
    nb_path = clone / "notebooks" / "10_pytorch.ipynb"
    pristine = nb_path.read_bytes()
    nb = nbformat.reads(pristine.decode(), as_version=4)
    nb.cells[1].source += "\n# my own note, an hour of work"
    nbformat.write(nb, nb_path)
    learners = nb_path.read_bytes()
    (clone / "notebooks" / "01_data.ipynb").unlink()                    # deleted by accident
    (clone / "notebooks" / "Untitled.ipynb").write_text("{}")          # the learner's own
    assert workshop.main(["reset", "--notebooks", str(clone / "notebooks")]) == 0
    said = capsys.readouterr().out
    assert nb_path.read_bytes() == pristine
    assert (clone / "notebooks" / "01_data.ipynb").is_file()
    saved = list((clone / "runs" / "notebook-backups").glob("*/10_pytorch.ipynb"))
    assert len(saved) == 1 and saved[0].read_bytes() == learners
    assert (clone / "notebooks" / "Untitled.ipynb").read_text() == "{}"
    assert "2 notebook(s) restored from git HEAD" in said and "Untitled.ipynb" in said
    status = subprocess.run(["git", "-C", str(clone), "status", "--porcelain", "notebooks"],
                            capture_output=True, text=True, check=True).stdout
    assert status.strip() == "?? notebooks/Untitled.ipynb"
    nb_path.write_bytes(learners)                                   # a second reset: a second folder
    workshop.main(["reset", "--notebooks", str(clone / "notebooks")])
    saved = sorted((clone / "runs" / "notebook-backups").glob("*/10_pytorch.ipynb"))
    assert len(saved) == 2 and all(p.read_bytes() == learners for p in saved)


def test_reset_without_git_clears_outputs_and_keeps_edits(tmp_path, capsys):
    folder = tmp_path / "zip" / "notebooks"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 41 + 1  # my edit", execution_count=3,
                                                                    outputs=[nbformat.v4.new_output(
                                                                        "execute_result", {"text/plain": "42"},
                                                                        execution_count=3)])])
    nbformat.write(nb, folder / "10_pytorch.ipynb")
    ran = (folder / "10_pytorch.ipynb").read_bytes()
    (folder / "broken.ipynb").write_text("{not json")
    assert workshop.main(["reset", "--notebooks", str(folder)]) == 0
    said = capsys.readouterr().out
    assert "not part of a git clone" in said and "outputs are cleared instead" in said
    assert "left alone: broken.ipynb" in said and (folder / "broken.ipynb").read_text() == "{not json"
    cell = nbformat.read(folder / "10_pytorch.ipynb", as_version=4).cells[0]
    assert cell.source == "x = 41 + 1  # my edit" and cell.outputs == [] and cell.execution_count is None
    saved = list((tmp_path / "zip" / "runs" / "notebook-backups").glob("*/10_pytorch.ipynb"))
    assert len(saved) == 1 and saved[0].read_bytes() == ran


# --- warm: one real chapter ----------------------------------------------------------------------

@pytest.mark.slow
def test_warm_runs_a_chapter_in_quick_mode_and_records_its_time(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("LABKIT_QUICK", raising=False)
    said = []
    rows = workshop.warm(["02"], show=said.append)
    assert [r["chapter"] for r in rows] == ["02_glossary"] and rows[0]["error"] is None
    recs = records.read_records(workshop.records_file(), metric=workshop.METRIC)
    assert [(r["chapter"], r["quick"]) for r in recs] == [("02_glossary", True)]
    assert recs[0]["value"] == pytest.approx(rows[0]["wall_s"], abs=0.01) and recs[0]["value"] > 0
    assert any("(first warm-up)" in m for m in said) and any("labkit data cache" in m for m in said)
    workshop.warm(["02"], show=said.append)
    assert any("(previous warm-up:" in m for m in said)
    assert len(records.read_records(workshop.records_file(), metric=workshop.METRIC)) == 2
    assert "LABKIT_QUICK" not in os.environ                  # the caller's environment is put back
