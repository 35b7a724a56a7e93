"""The machine's measured float32 matrix-multiply rate: the yardstick for a toolkit's speed.

    python -m labkit.compare.gemm                 # NumPy and PyTorch, at 1 thread and at every usable CPU
    python -m labkit.compare.gemm --threads 2

Why measure it: the CPU's theoretical peak (``labkit.machine.peak_gflops``) is an upper
bound no program reaches (clock boost, memory bandwidth, a vCPU that is half a core). A
large float32 matrix product (SGEMM) is the fastest thing a BLAS does, so its measured rate
is what "as fast as this machine goes" means in practice. A toolkit's training speed in
the same units is ``images/s x FLOP per image`` (``labkit.lenet.flops_per_image``), and
:func:`share` prints it as a fraction of the GEMM rate.

Each rate is measured in a child process (``labkit.child``) with the thread count in every
thread variable, as the comparison's children get it, so the parent never imports a
toolkit: warm-up products first, then the median of timed ones. Figures are printed and
recorded, never asserted.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

#: The matrix side: 2 x 2048^3 = 17.2 GFLOP per product, a fraction of a second here.
SIZE = 2048
BACKENDS = ("numpy", "torch")      # who multiplies: NumPy's BLAS (OpenBLAS here), PyTorch's (oneDNN/MKL)


def _time_products(matmul, a, b, warmup: int, repeats: int) -> list[float]:
    for _ in range(warmup):
        matmul(a, b)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        matmul(a, b)
        times.append(time.perf_counter() - t)
    return times


def rate_here(backend: str = "numpy", n: int = SIZE, warmup: int = 2, repeats: int = 7) -> dict:
    """The float32 GEMM rate in this process, with ``backend``'s BLAS and its current threads.

    Returns ``{"backend", "gflops" (median), "best_gflops", "n", "threads", "library", "samples"}``."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if n < 64:
        raise ValueError(f"n={n} is too small to time a GEMM (use 512 or more)")
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    if backend == "numpy":
        from threadpoolctl import threadpool_info

        blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        threads = blas[0]["num_threads"] if blas else None
        library = f"{blas[0]['internal_api']} {blas[0]['version']}" if blas else "?"
        times = _time_products(np.matmul, a, b, warmup, repeats)
    else:
        import torch

        threads, library = torch.get_num_threads(), f"torch {torch.__version__}"
        with torch.inference_mode():
            times = _time_products(torch.mm, torch.from_numpy(a), torch.from_numpy(b), warmup, repeats)
    flop = 2.0 * n ** 3
    return {"backend": backend, "gflops": flop / statistics.median(times) / 1e9, "best_gflops": flop / min(times) / 1e9,
            "n": n, "threads": threads, "library": library, "samples": [flop / t / 1e9 for t in times]}


def measure(threads: int | None = None, backends=BACKENDS, n: int = SIZE, timeout: float = 300) -> dict:
    """Each backend's GEMM rate in a child process with ``threads`` threads (default: every
    usable CPU). ``{backend: rate_here(...) dict, or {"error": text}}``; a backend that is not
    installed is reported, not raised."""
    from labkit import child, toolkits
    from labkit.compare.harness import check_threads

    threads = check_threads(threads)
    out = {}
    with tempfile.TemporaryDirectory(prefix="labkit-gemm-") as tmp:
        for backend in backends:
            if backend != "numpy" and not toolkits.installed(backend):
                out[backend] = {"backend": backend, "error": f"{backend} is not installed here"}
                continue
            result = Path(tmp) / f"{backend}.json"
            got = child.run(f"gemm-{backend}", ["-m", "labkit.compare.gemm", "--child", backend, "--n", str(n),
                                                "--out", str(result)],
                            result, env=child.toolkit_env(threads=threads), timeout=timeout)
            out[backend] = got.result if got.ok else {"backend": backend, "error": got.error()}
    return out


def share(images_per_s: float, gflops: float, kind: str = "train_step") -> float:
    """``images/s x LeNet's FLOP per image (forward or train_step) / GEMM rate``, as a fraction."""
    from labkit import lenet

    flop = lenet.flops_per_image()
    if kind not in flop:
        raise ValueError(f"kind must be one of {', '.join(flop)}; got {kind!r}")
    if not gflops or gflops <= 0:
        raise ValueError(f"the GEMM rate must be a positive GFLOP/s figure; got {gflops!r}")
    return images_per_s * flop[kind] / (gflops * 1e9)


def record_rates(rates: dict, **common) -> list[dict]:
    """Write each measured rate as a run record (toolkit 'machine', metric 'gemm_gflops')."""
    from labkit.records import record

    return [record("machine", "gemm_gflops", r["gflops"], "GFLOP/s", backend=b, n=r["n"], library=r["library"],
                   blas_threads=r["threads"], best_gflops=r["best_gflops"], samples=r["samples"], **common)
            for b, r in rates.items() if "gflops" in r]


def report(by_threads: dict[int, dict]) -> str:
    """The rates, the CPU's theoretical peak and LeNet's FLOP per image, as printed text."""
    from labkit import lenet, machine, tables

    peak, flop = machine.peak_gflops(), lenet.flops_per_image()
    rows = []
    for threads, rates in by_threads.items():
        for b, r in rates.items():
            if "error" in r:
                rows.append([b, str(threads), "-", "-", "-", r["error"].splitlines()[0]])
                continue
            of_peak = f"{100 * r['gflops'] / peak['gflops']:.0f}%" if peak["gflops"] else "-"
            rows.append([b, str(r["threads"]), f"{r['gflops']:,.1f}", f"{r['best_gflops']:,.1f}", of_peak,
                         f"{r['library']}, {r['n']}x{r['n']} float32"])
    lines = [f"{machine.cpu_model()}, {machine.usable_cpus()} usable CPUs; Python {machine.machine_info()['python']}",
             tables.text_table(["BLAS", "threads", "GFLOP/s (median)", "best", "of peak", "what"], rows),
             f"theoretical peak (estimate, {machine.usable_cpus()} cores): {peak['formula']}",
             f"LeNet: {flop['forward']:,} FLOP per image forward, {flop['train_step']:,} per image per "
             "training step (labkit.lenet.flops_per_image)",
             "share of the GEMM rate = images/s x FLOP per image / GEMM rate (labkit.compare.gemm.share)"]
    return "\n\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m labkit.compare.gemm", description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", help="thread counts (default: 1 and every usable CPU)")
    p.add_argument("--n", type=int, default=SIZE, help=f"matrix side (default {SIZE})")
    p.add_argument("--records", help="also write the rates as run records here (file or folder)")
    p.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:                       # in the child: measure, write JSON, done
        from labkit import child

        child.write_result(args.out, rate_here(args.child, args.n))
        return 0
    from labkit.machine import usable_cpus

    counts = args.threads or sorted({1, usable_cpus()})
    try:
        by_threads = {t: measure(t, n=args.n) for t in counts}
    except ValueError as err:
        p.error(str(err))
    print(report(by_threads))
    if args.records:
        for t, rates in by_threads.items():
            record_rates(rates, threads=t, path=args.records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
