"""The machine a figure was measured on: CPU, threads, memory, OS, GPUs, and the CPU's peak.

    >>> from labkit import machine
    >>> machine.machine_info()         # one dict: what every run record and table shows
    >>> machine.peak_gflops()          # the float32 peak estimated from /proc/cpuinfo

Nothing here imports a toolkit. ``nvidia-smi`` is asked when it is on PATH.
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from functools import lru_cache

from labkit import tables


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def cpuinfo_blocks(text: str | None = None) -> list[dict]:
    """``/proc/cpuinfo`` (or ``text`` in its format) as one dict of fields per processor."""
    text = _read("/proc/cpuinfo") if text is None else text
    return [dict(re.findall(r"^([^:\n]+?)\s*:\s*(.*)$", b, re.M)) for b in text.split("\n\n") if b.strip()]


def cpu_flags(block: dict) -> set[str]:
    """The instruction-set flags of one processor block (x86 ``flags``, Arm ``Features``)."""
    return set((block.get("flags") or block.get("Features") or "").split())


def simd(flags: set[str]) -> tuple[str, int, int]:
    """(widest vector extension, float32 lanes, FMA units per core assumed) for these flags.

    Lanes: 16 with AVX-512, 8 with AVX2 or AVX, 4 with SSE/NEON. FMA units: 2 assumed on
    AVX-512 parts (server Xeons have two 512-bit FMA units; some desktop parts one) and on
    AVX2 parts with FMA (Haswell and later); AVX without FMA counts one add and one
    multiply unit, the same as one FMA.
    """
    if "avx512f" in flags:
        return "AVX-512", 16, 2
    if "avx2" in flags:
        return "AVX2", 8, 2 if "fma" in flags else 1
    if "avx" in flags:
        return "AVX", 8, 1
    return ("NEON" if "asimd" in flags else "SSE"), 4, 1


def _cpuinfo() -> dict:
    blocks = cpuinfo_blocks()
    first = blocks[0] if blocks else {}
    flags = cpu_flags(first)
    cores = {(b.get("physical id"), b.get("core id")) for b in blocks if "core id" in b}
    widest = simd(flags)[0] if flags else None
    name = first.get("model name")
    if name is None and platform.system() == "Darwin":
        try:
            name = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                  text=True, timeout=5).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            pass
    n_cores = len(cores) or None
    if n_cores is None:
        try:
            import psutil

            n_cores = psutil.cpu_count(logical=False)
        except ImportError:
            pass
    return {"cpu": name or platform.processor() or platform.machine(), "simd": widest, "cores": n_cores}


def cpu_model() -> str:
    """The processor's name as the system reports it (``/proc/cpuinfo`` on Linux)."""
    return _cpuinfo()["cpu"]


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask; os.cpu_count() where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _cgroup_limits() -> tuple[float | None, int | None]:
    """(CPUs, bytes) a container may use, when a cgroup limits them (Binder, Docker)."""
    cpus = mem = None
    quota = _read("/sys/fs/cgroup/cpu.max").split()
    if len(quota) == 2 and quota[0] != "max":
        cpus = int(quota[0]) / int(quota[1])
    limit = _read("/sys/fs/cgroup/memory.max").strip() or _read(
        "/sys/fs/cgroup/memory/memory.limit_in_bytes").strip()
    if limit.isdigit() and int(limit) < 1 << 60:
        mem = int(limit)
    return cpus, mem


def _memory() -> tuple[int | None, int | None]:
    text = _read("/proc/meminfo")
    vals = {k: int(v) * 1024 for k, v in re.findall(r"^(MemTotal|MemAvailable):\s*(\d+) kB", text, re.M)}
    if vals:
        return vals.get("MemTotal"), vals.get("MemAvailable")
    try:
        import psutil

        vm = psutil.virtual_memory()
        return vm.total, vm.available
    except ImportError:
        return None, None


def nvidia_smi(*args: str, timeout: float = 15) -> str | None:
    """``nvidia-smi``'s output (with ``args``), or None when it is not on PATH or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def gpu_memory_mib(pid: int, smi_csv: str | None = None) -> float | None:
    """GPU memory (MiB) process ``pid`` holds now, summed over GPUs, from ``nvidia-smi``'s compute
    apps (or ``smi_csv``, its "pid, used_memory" lines without units); None where nvidia-smi is
    absent or lists no such process. Toolkits' allocators keep their pools, so near their peak."""
    text = smi_csv if smi_csv is not None else nvidia_smi(
        "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits")
    used = [float(m) for p, m in re.findall(r"^\s*(\d+)\s*,\s*([\d.]+)", text or "", re.M) if int(p) == pid]
    return sum(used) if used else None


@lru_cache(maxsize=1)
def _static_info() -> dict:
    os_name = re.search(r'^PRETTY_NAME="?([^"\n]+)', _read("/etc/os-release"), re.M)
    gpus = nvidia_smi("--query-gpu=name,memory.total,driver_version", "--format=csv,noheader")
    header = nvidia_smi() if gpus else None
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", header or "")
    cpus, mem = _cgroup_limits()
    from labkit import __version__

    return {
        "hostname": socket.gethostname(),
        "os": f"{os_name.group(1) if os_name else platform.system()} ({platform.platform(terse=True)})",
        "arch": platform.machine(),
        "python": platform.python_version(),
        "executable": sys.executable,
        **_cpuinfo(),
        "threads": os.cpu_count(),
        "usable_threads": usable_cpus(),
        "cpu_limit": cpus,
        "memory_limit": mem,
        "nvidia_gpus": [g.strip() for g in gpus.strip().splitlines()] if gpus else None,
        "cuda_driver": cuda.group(1) if cuda else None,
        "labkit": __version__,
    }


def machine_info(*, blas: bool = True) -> dict:
    """The machine in one dict: CPU, threads, memory, OS, Python, NumPy and its BLAS, NVIDIA GPUs.

    ``nvidia_gpus`` is None when ``nvidia-smi`` is absent, else "name, memory, driver" lines.
    ``blas`` (threadpoolctl) lists the BLAS libraries loaded in this process.
    """
    info = dict(_static_info())
    info["memory"], info["memory_available"] = _memory()
    info["env_threads"] = {k: os.environ[k] for k in (
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS") if k in os.environ}
    if blas:
        import numpy

        info["numpy"] = numpy.__version__
        try:
            from threadpoolctl import threadpool_info

            libs = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
            mine = [lib for lib in libs if "numpy" in lib.get("filepath", "")]  # NumPy's own wheel
            keys = ("internal_api", "version", "num_threads", "architecture")
            info["blas"] = [{k: lib.get(k) for k in keys} for lib in mine or libs]
        except ImportError:
            info["blas"] = None
    return info


def machine_lines(m: dict) -> list[tuple[str, str]]:
    cpu = f"{m['cpu']}, {m['cores'] or '?'} cores / {m['threads']} threads"
    if m["usable_threads"] != m["threads"]:
        cpu += f" ({m['usable_threads']} usable)"
    if m["cpu_limit"]:
        cpu += f", limited to {m['cpu_limit']:g} CPUs"
    if m.get("simd"):
        cpu += f", {m['simd']}"
    mem = f"{tables.gib(m['memory'])} total, {tables.gib(m['memory_available'])} available"
    if m["memory_limit"]:
        mem += f", limited to {tables.gib(m['memory_limit'])}"
    lines = [("CPU", cpu), ("Memory", mem), ("OS", m["os"]), ("Python", f"{m['python']} ({m['executable']})")]
    if "numpy" in m:
        libs = ", ".join(
            f"{b['internal_api']} {b['version']} ({b['architecture']}, {b['num_threads']} threads)"
            for b in m.get("blas") or []) or "not reported (no threadpoolctl)"
        lines.append(("NumPy", f"{m['numpy']}, BLAS: {libs}"))
    if m["env_threads"]:
        lines.append(("Threads", ", ".join(f"{k}={v}" for k, v in m["env_threads"].items())))
    if m["nvidia_gpus"] is None:
        lines.append(("GPU", "no NVIDIA driver (nvidia-smi not found)"))
    else:
        gpus = "; ".join(m["nvidia_gpus"]) or "nvidia-smi lists none"
        lines.append(("GPU", f"{gpus} (CUDA driver {m['cuda_driver'] or '?'})"))
    return lines


# --- the CPU's peak ----------------------------------------------------------------------------

def peak_gflops(cpuinfo: str | None = None, cores: int | None = None) -> dict:
    """An estimate of the CPU's float32 peak, from /proc/cpuinfo (or the text given).

    peak = cores x FMA units per core x SIMD lanes (float32) x 2 FLOP per FMA x clock, with
    lanes and FMA units from :func:`simd`. Clock: the 'cpu MHz' line, else the GHz in the
    model name. Cores: ``cores``, else the CPUs this process may use (a vCPU may be a
    hyper-thread sharing its FMA units with another, which would halve the real figure).
    """
    blocks = cpuinfo_blocks(cpuinfo)
    fields = blocks[0] if blocks else {}
    ext, lanes, fma = simd(cpu_flags(fields))
    ghz, source = None, ""
    try:
        ghz, source = float(fields["cpu MHz"]) / 1000, "'cpu MHz' in /proc/cpuinfo"
    except (KeyError, ValueError):
        m = re.search(r"([\d.]+)\s*GHz", fields.get("model name", ""))
        if m:
            ghz, source = float(m.group(1)), "the model name"
    if cores is None:
        cores = usable_cpus() if cpuinfo is None else max(1, sum("processor" in b for b in blocks))
    gflops = cores * fma * lanes * 2 * ghz if ghz else None
    return {"gflops": gflops, "cores": cores, "simd": ext, "lanes": lanes, "fma_units": fma,
            "ghz": ghz, "clock_from": source, "cpu": fields.get("model name", "?"),
            "formula": (f"{cores} cores x {fma} FMA units x {lanes} float32 lanes ({ext}) x 2 FLOP "
                        f"x {ghz:.2f} GHz = {gflops:,.0f} GFLOP/s" if gflops else "clock unknown")}
