"""labkit.compare.fullrun (``make full``): choosing chapters, peak memory, one real notebook run."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from labkit.compare import fullrun


def test_chapters_by_name_number_or_file_and_a_clear_error():
    every = fullrun.chapters()
    assert every and all(p.suffix == ".ipynb" and p.stem[:2].isdigit() for p in every)
    assert [p.stem for p in fullrun.chapters(["10", "14_chainer.ipynb"])] == ["10_pytorch", "14_chainer"]
    with pytest.raises(ValueError, match="no chapter '99_nothing' in .* \\(there are: 00_setup"):
        fullrun.chapters(["99_nothing"])


def test_peak_memory_sees_a_child_process():
    code = "import time; b = bytearray(300 * 2**20); time.sleep(1.5)"
    with fullrun.PeakMemory(every=0.1) as mem:
        subprocess.run([sys.executable, "-c", code], check=True)
    assert mem.peak > 300 * 2**20


def test_others_cpu_counts_a_busy_process_outside_the_tree_and_not_the_chapters_own():
    """Load-proof: each spinner burns a fixed amount of CPU time, and the window lasts until it
    is done, so however busy the machine is, its seconds land on the right side."""
    import shlex

    import psutil

    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.0: pass"
    with fullrun.PeakMemory(every=0.1) as mine:           # the busy work is the chapter's own
        subprocess.run([sys.executable, "-c", spin], check=True)
    assert mine.mine >= 0.8, mine.cpu                     # counted as the chapter's (last sample may lag)
    with fullrun.PeakMemory(every=0.1) as loaded:         # someone else's: orphaned at once, outside the tree
        pid = int(subprocess.run(["sh", "-c", f"{shlex.quote(sys.executable)} -c {shlex.quote(spin)} "
                                  ">/dev/null 2>&1 </dev/null & echo $!"], capture_output=True, text=True,
                                 check=True).stdout)
        if psutil.pid_exists(pid):
            psutil.wait_procs([psutil.Process(pid)], timeout=60)
    assert loaded.others * loaded.spent >= 0.8, (loaded.others, loaded.spent)
    row = {"chapter": "91_x", "wall_s": 1.0, "peak_mib": 1.0, "accuracy": {}, "error": None}
    assert "(under load)" in fullrun.table([{**row, "others_cpu": 0.5}]).text()
    assert "(under load)" not in fullrun.table([{**row, "others_cpu": 0.0}]).text()


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_run_chapter_in_full_mode_reads_its_accuracy_and_reports_a_failing_cell(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_QUICK", "1")
    monkeypatch.setenv("LABKIT_RUNS", str(tmp_path / "reader-runs"))   # where the book's copies go
    ok = _notebook(tmp_path / "91_ok.ipynb", [
        "import os\nassert 'LABKIT_QUICK' not in os.environ, 'full mode has no LABKIT_QUICK'",
        "from labkit import records\nrecords.write_results('chainer', test_accuracy=0.9912)"])
    bad = _notebook(tmp_path / "92_bad.ipynb", ["1 / 0"])
    got = fullrun.run_chapter(ok, tmp_path / "runs")
    assert got["error"] is None and got["accuracy"] == {"chainer": 0.9912} and got["peak_mib"] > 10
    failed = fullrun.run_chapter(bad, tmp_path / "runs")
    assert "ZeroDivisionError" in failed["error"] and failed["accuracy"] == {}
    import os
    assert os.environ["LABKIT_QUICK"] == "1"              # the caller's environment is put back
    assert "FAILED: " in fullrun.table([got, failed]).text()
    from labkit.book import executed                       # the book's full-mode copies
    copies = tmp_path / "reader-runs" / "executed"
    info = executed.read_info(copies / ok.name)
    assert info["mode"] == "full" and info["runner"] == "make full (nbclient)" and info["errors"] == 0
    assert executed.problem(ok, copies) is None
    assert executed.read_info(copies / bad.name)["errors"] == 1   # kept, and the book's page check fails it
