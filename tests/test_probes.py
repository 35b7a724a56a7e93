"""labkit.probes: the per-toolkit device questions that are not answered through the device table.

The toolkits' own GPU memory counters cannot be checked here (no GPU on this project's
machines): what is checked is the answer on a machine without one, where no counter has a
peak and nvidia-smi names no process.
"""
import shutil

from labkit import probes


def test_gpu_peak_without_a_gpu_says_where_it_looked():
    from labkit.compare import worker

    value, source = probes.gpu_peak_mib()
    if shutil.which("nvidia-smi"):
        assert source.startswith(("nvidia-smi", "torch", "tf", "jax", "paddle")), source
    else:
        assert value is None and source == "nvidia-smi, this process at the end"
    assert not hasattr(worker, "gpu_peak_mib"), "the worker asks labkit.probes, it keeps no copy"
