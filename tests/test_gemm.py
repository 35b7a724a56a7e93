"""labkit.compare.gemm: the measured float32 GEMM rate and LeNet's share of it (nothing timed is asserted)."""
from __future__ import annotations

import pytest

from labkit import lenet
from labkit.compare import gemm


def test_share_is_images_times_flop_over_the_gemm_rate():
    flop = lenet.flops_per_image()
    assert flop == {"forward": 4_586_000, "train_step": 13_182_000}      # from lenet.LAYERS, by hand
    # the figures: 3,295 img/s training against a 104 GFLOP/s GEMM rate is 42%
    assert gemm.share(3295, 104.0) == pytest.approx(3295 * 13_182_000 / 104e9)
    assert round(100 * gemm.share(3295, 104.0)) == 42
    assert gemm.share(1000, 4.586, "forward") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="kind must be one of forward, train_step; got 'backward'"):
        gemm.share(1, 1, "backward")
    with pytest.raises(ValueError, match="positive GFLOP/s"):
        gemm.share(1, 0)


def test_rate_here_measures_numpy_for_real():
    r = gemm.rate_here("numpy", n=256, warmup=1, repeats=3)
    assert r["backend"] == "numpy" and r["n"] == 256 and len(r["samples"]) == 3
    assert 0 < r["gflops"] <= r["best_gflops"] and r["threads"] >= 1 and r["library"]
    with pytest.raises(ValueError, match="backend must be one of numpy, torch; got 'mkl'"):
        gemm.rate_here("mkl")
    with pytest.raises(ValueError, match="too small"):
        gemm.rate_here("numpy", n=8)


def test_report_shows_rates_errors_peak_and_lenet_flop():
    rates = {1: {"numpy": gemm.rate_here("numpy", n=128, warmup=1, repeats=2),
                 "torch": {"backend": "torch", "error": "torch is not installed here"}}}
    text = gemm.report(rates)
    assert "openblas" in text.lower() or "mkl" in text.lower() or "blis" in text.lower()
    assert "torch is not installed here" in text
    assert "theoretical peak" in text and "13,182,000 per image per training step" in text


@pytest.mark.slow
def test_measure_runs_each_backend_in_a_child_with_the_thread_count():
    out = gemm.measure(1, n=256)
    assert out["numpy"]["threads"] == 1, out
    if "error" not in out["torch"]:
        assert out["torch"]["threads"] == 1 and out["torch"]["gflops"] > 0
