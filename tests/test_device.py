"""labkit.device: rows for missing and broken toolkits, adapters' answers, the table, the doctor.

Missing and broken toolkits are real modules (or real absences) on sys.path, made in
tmp_path; no toolkit's behaviour is mocked. Real toolkits are probed once, by the
doctor subprocess, and OpenCV (a 0.1 s import) in this process.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from labkit import device, toolkits
from labkit.device import Row, Toolkit

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake_modules(tmp_path, monkeypatch):
    """Write modules into tmp_path (on sys.path for this process and its probe children)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.fixture
def registry(monkeypatch):
    """Add adapters to the registry (labkit.toolkits.TOOLKITS) for one test."""
    def add(key: str, tk: Toolkit) -> None:
        monkeypatch.setitem(toolkits.TOOLKITS, key, tk)
    return add


def test_missing_toolkit_is_a_row_not_a_crash(registry):
    registry("ghost", Toolkit("Ghost", "labkit_test_no_such_module", optional="optional"))
    for isolate in (False, True):
        table = device.table(["ghost"], isolate=isolate, machine=False)
        row = table["ghost"]
        assert (row.installed, row.version, row.gpu, row.error) == (False, None, None, None)
        assert "not installed" in table.text() and "Ghost" in table.text()
        assert "not installed" in table._repr_html_()


def test_import_error_is_a_row_with_its_first_line(fake_modules, registry):
    name = fake_modules("labkit_test_broken", """
        raise RuntimeError("broken <on purpose> at import\\nsecond line of the message")
    """)
    registry("broken", Toolkit("Broken", name))
    for isolate in (False, True):
        row = device.probe("broken", isolate=isolate)
        assert row.installed and row.isolated is isolate
        assert row.error == "RuntimeError: broken <on purpose> at import"
        assert row.gpu is None and row.devices == []
    table = device.DeviceTable([row])
    assert "import failed: RuntimeError: broken <on purpose> at import" in table.text()
    assert "broken &lt;on purpose&gt; at import" in table._repr_html_()
    assert name not in sys.modules


def test_answers_of_a_working_adapter_in_and_out_of_process(fake_modules, registry):
    # The adapter's questions live in the module itself, so a child process can import them.
    name = fake_modules("labkit_test_fake_tk", """
        __version__ = "1.2.3"
        def gpus(m): return ["Fake GPU", "Fake GPU"]
        def cuda(m): return 12040
        def cudnn(m): return 1 // 0
        def notes(m): return "fake notes"
    """)
    import importlib
    mod = importlib.import_module(name)
    registry("fake", Toolkit("Fake", name, ("faketk",), mod.gpus, mod.cuda, mod.cudnn, mod.notes))
    for isolate in (False, True):
        row = device.probe("faketk", isolate=isolate)
        assert (row.version, row.gpu, row.devices, row.cuda, row.cudnn) == (
            "1.2.3", True, ["Fake GPU", "Fake GPU"], "12.4", None)
        # one failing question is reported in the notes and does not hide the others
        assert row.notes == "fake notes; cudnn: ZeroDivisionError: integer division or modulo by zero"
        assert row.isolated is isolate and row.seconds is not None
    assert "2 x Fake GPU" in device.DeviceTable([row]).text()


def test_default_probes_imported_toolkits_here_and_others_in_a_child(fake_modules, registry):
    name = fake_modules("labkit_test_lazy_tk", "__version__ = '0.1'\n")
    registry("lazy", Toolkit("Lazy", name))
    assert device.probe("lazy").isolated is True
    assert name not in sys.modules          # the caller's process did not import it
    __import__(name)
    assert device.probe("lazy").isolated is False


@pytest.mark.parametrize("source, expected", [
    ("import os; os._exit(3)", "probe process exited with code 3"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "probe process killed by SIGKILL"),
])
def test_a_probe_that_kills_its_process_is_a_row(fake_modules, registry, source, expected):
    registry("crash", Toolkit("Crash", fake_modules("labkit_test_crash_tk", source)))
    row = device.probe("crash", isolate=True)
    assert row.installed and row.error.startswith(expected)


def test_a_probe_that_hangs_times_out(fake_modules, registry):
    registry("slow", Toolkit("Slow", fake_modules("labkit_test_hang_tk", "import time; time.sleep(60)")))
    start = time.perf_counter()
    row = device.probe("slow", isolate=True, timeout=1)
    assert row.error == "probe timed out after 1 s"
    assert time.perf_counter() - start < 30


def test_opencv_probed_in_this_process_agrees_with_opencv():
    cv2 = pytest.importorskip("cv2")
    row = device.table(["opencv"], machine=False)["cv2"]
    assert row.isolated is False and row.error is None
    assert row.version == cv2.__version__
    assert row.gpu is (cv2.cuda.getCudaEnabledDeviceCount() > 0)


def _row(key, gpu, cuda=None):
    return Row(toolkits.TOOLKITS[key].name, key, True, "1.0", gpu=gpu, cuda=cuda)


def test_gpu_hints(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    cpu_rows = [_row("torch", False), _row("jax", False), Row("MXNet", "mxnet", False)]
    no_driver = " ".join(device.gpu_hints(cpu_rows, driver=False))
    assert "nvidia-smi" in no_driver and "Colab" in no_driver
    with_driver = " ".join(device.gpu_hints(cpu_rows, driver=True))
    assert "CPU builds" in with_driver and "PyTorch 1.0 (a CPU-only build)" in with_driver
    assert "jax[cuda12]" in with_driver and "MXNet" not in with_driver   # not installed: no hint
    mixed = device.gpu_hints([_row("torch", True, "12.4"), _row("tensorflow", False)], driver=True)
    assert len(mixed) == 1 and "tensorflow[and-cuda]" in mixed[0]
    assert device.gpu_hints([_row("torch", True, "12.4")], driver=True) == []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert "hides every GPU" in device.gpu_hints([_row("torch", True, "12.4")], driver=True)[0]


def test_table_keeps_hints_and_shows_them_in_full_only_when_asked(registry):
    registry("ghost", Toolkit("Ghost", "labkit_test_no_such_module"))
    rows = [_row("torch", False), _row("jax", True, "12.4")]
    hints = device.gpu_hints(rows, driver=True)
    short = device.DeviceTable(rows, hints=hints, show_hints=False).text()
    assert "GPU hints: 1 (in this table's .hints" in short and "CPU-only" not in short
    full = device.DeviceTable(rows, hints=hints).text()
    assert "GPU hints:\n  - PyTorch 1.0 (a CPU-only build) sees no GPU." in full
    table = device.table(["ghost"], machine=False)
    assert table.show_hints is False and table.hints == device.gpu_hints(table.rows)
    assert "GPU hints" not in device.DeviceTable(rows[1:], hints=[]).text()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_doctor_prints_the_table():
    """The one test that imports every real toolkit (each in its own process): 10-40 s here."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "labkit", "doctor"], capture_output=True, text=True,
                          cwd=ROOT, timeout=580)
    took = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "Toolkit" in out and "CUDA" in out and "CPU " in out
    for tk in toolkits.TOOLKITS.values():
        assert tk.name in out
    torch_line = next(line for line in out.splitlines() if line.startswith("PyTorch "))
    if toolkits.installed("torch"):
        assert toolkits.version_of("torch") in torch_line
    print(f"\npython -m labkit doctor took {took:.1f} s\n{out}")
