"""labkit.placement: the device a toolkit runs on, chosen from its device probe."""
import pytest

from labkit import device, placement
from labkit.device import Row

def _answer(gpu, devices=(), error=None):
    """A probe's answer as data (what ``device.probe`` returns), for a machine we are not on."""
    return Row("PyTorch", "torch", True, "2.13.0", gpu=gpu, devices=list(devices), error=error)


def test_select_picks_a_gpu_the_probe_reports_and_the_cpu_otherwise():
    on_gpu = placement.select("pytorch", "auto", row=_answer(True, ["NVIDIA H200"]))
    assert (on_gpu.kind, on_gpu.name, on_gpu.gpu) == ("gpu", "NVIDIA H200", True)
    assert placement.select("torch", "gpu", row=_answer(True, ["NVIDIA H200"])).gpu
    assert placement.select("torch", "cpu", row=_answer(True, ["NVIDIA H200"])).kind == "cpu"   # asked: CPU
    cpu = placement.select("torch", "auto", row=_answer(False))
    assert (cpu.kind, cpu.gpu) == ("cpu", False)
    assert cpu.message.startswith("no GPU found; running on CPU")
    assert "cannot tell" in placement.select("torch", row=_answer(None)).message


def test_select_refuses_gpu_where_none_is_seen_and_bad_names():
    with pytest.raises(RuntimeError, match=r"device='gpu' asked, but PyTorch 2.13.0 sees no GPU\. Install a CUDA"):
        placement.select("torch", "gpu", row=_answer(False))
    with pytest.raises(RuntimeError, match="cannot run here: ImportError: boom"):
        placement.select("torch", "auto", row=_answer(None, error="ImportError: boom"))
    with pytest.raises(ValueError, match="device must be one of auto, cpu, gpu, got 'cuda'"):
        placement.select("torch", "cuda")
    with pytest.raises(ValueError, match="unknown toolkit 'nosuchkit'"):
        placement.select("nosuchkit", "cpu")


def test_select_reads_labkit_device(monkeypatch):
    monkeypatch.setenv("LABKIT_DEVICE", " CPU ")
    assert placement.select("torch", row=_answer(True, ["NVIDIA H200"])).kind == "cpu"
    monkeypatch.setenv("LABKIT_DEVICE", "tpu")
    with pytest.raises(ValueError, match="got 'tpu' from LABKIT_DEVICE"):
        placement.select("torch", row=_answer(False))


def test_select_on_a_real_cpu_only_toolkit_says_no_gpu_was_found():
    """OpenCV's PyPI wheel has no CUDA on any machine, so this holds with or without a GPU."""
    pytest.importorskip("cv2")
    choice = placement.select("opencv", "auto", row=device.probe("opencv", isolate=False))
    assert choice.kind == "cpu" and choice.message == "no GPU found; running on CPU (OpenCV sees no GPU)"
    with pytest.raises(RuntimeError, match="OpenCV .* sees no GPU. OpenCV's PyPI wheels are CPU-only"):
        placement.select("opencv", "gpu", row=device.probe("opencv", isolate=False))
