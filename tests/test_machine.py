"""labkit.machine: the machine a figure was measured on, and the CPU's estimated peak."""
from __future__ import annotations

import os
import sys

import pytest

from labkit import device, machine


CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz
cpu MHz\t\t: 2600.000
flags\t\t: fpu sse avx avx2 fma avx512f

processor\t: 1
model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz
"""


def test_machine_info():
    m = machine.machine_info()
    assert m["cpu"] and m["threads"] == os.cpu_count() and m["python"]
    assert m["hostname"] and m["labkit"]
    import numpy
    assert m["numpy"] == numpy.__version__
    if sys.platform.startswith("linux"):
        assert m["memory"] > m["memory_available"] > 0
        assert 1 <= m["usable_threads"] <= m["threads"]
    pytest.importorskip("threadpoolctl")
    assert m["blas"] and all(b["internal_api"] for b in m["blas"])
    text = device.DeviceTable([], m).text()
    assert text.startswith("CPU ") and "NumPy" in text and "GPU" in text



def test_peak_estimate_from_cpuinfo():
    p = machine.peak_gflops(CPUINFO)
    assert (p["cores"], p["lanes"], p["fma_units"], p["ghz"]) == (2, 16, 2, 2.6)
    assert p["gflops"] == pytest.approx(2 * 2 * 16 * 2 * 2.6)
    no_mhz = machine.peak_gflops(CPUINFO.replace("cpu MHz\t\t: 2600.000\n", "").replace("avx512f", ""), cores=4)
    assert (no_mhz["simd"], no_mhz["ghz"], no_mhz["clock_from"]) == ("AVX2", 2.4, "the model name")
    assert no_mhz["gflops"] == pytest.approx(4 * 2 * 8 * 2 * 2.4)
    here = machine.peak_gflops()
    assert here["gflops"] is None or here["gflops"] > 0


def test_gpu_memory_of_a_process_from_nvidia_smi_lines():
    lines = "4242, 1024\n77, 5\n4242, 512\n"          # nvidia-smi --query-compute-apps=pid,used_memory
    assert machine.gpu_memory_mib(4242, lines) == 1536.0
    assert machine.gpu_memory_mib(1, lines) is None and machine.gpu_memory_mib(1, "") is None
    if machine.nvidia_smi() is None:                   # no driver here: nothing to ask, no crash
        assert machine.gpu_memory_mib(os.getpid()) is None
