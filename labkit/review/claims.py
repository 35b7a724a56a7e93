"""The review's other claims set beside what this workbook measures or computes.

    >>> from labkit.review import claims
    >>> claims.benchmark_verdicts()           # convnet-benchmarks' own numbers, re-read
    >>> claims.lenet_memory(64)                # what LeNet needs, counted from labkit.lenet
    >>> claims.claims_table(run)               # every claim, the evidence, and where it is checked

The convnet-benchmarks figures are quoted from its README (milliseconds for one forward and
backward pass, batch as in the README, on its 6-core Core i7-5930K + NVIDIA Titan X), the
last version of the repository (commit b458aab, 2017-06-09); the verdicts are computed here.
"""
from __future__ import annotations

from dataclasses import dataclass

BENCH_SOURCE = ("https://github.com/soumith/convnet-benchmarks (README, commit "
                "b458aab61c0ac2257c0990119b5de15c1e886f02, 2017-06-09)")
BENCH_MACHINE = "6-core Intel Core i7-5930K + NVIDIA Titan X, Ubuntu 14.04"

#: (network, README row, total ms forward + backward). Torch's rows: cuDNN R4 called through
#: Torch's bindings, and Torch-7's own kernels (the README's "native"). GoogLeNet has no
#: Torch-7 (native) row in the README.
BENCHMARKS = (
    ("AlexNet", "CuDNN[R4]-fp32 (Torch)", 81), ("AlexNet", "TensorFlow", 81),
    ("AlexNet", "Caffe (native)", 324), ("AlexNet", "Torch-7 (native)", 342),
    ("Overfeat", "CuDNN[R4]-fp32 (Torch)", 268), ("Overfeat", "TensorFlow", 279),
    ("Overfeat", "Caffe", 823), ("Overfeat", "Torch-7 (native)", 878),
    ("OxfordNet", "CuDNN[R4]-fp32 (Torch)", 529), ("OxfordNet", "TensorFlow", 540),
    ("OxfordNet", "Caffe", 1068), ("OxfordNet", "Torch-7 (native)", 1105),
    ("GoogleNet", "CuDNN[R4]-fp32 (Torch)", 470), ("GoogleNet", "TensorFlow", 445),
    ("GoogleNet", "Caffe", 1935),
)


def _side(row: str) -> str:
    """Which toolkit a README row counts for: 'torch+cudnn', 'torch native', 'tensorflow', 'caffe'."""
    if row.startswith("CuDNN"):
        return "Torch + cuDNN R4"
    if row.startswith("Torch-7"):
        return "Torch's own kernels"
    return row.split(" ")[0]


def benchmark_verdicts(rows=BENCHMARKS) -> list[dict]:
    """Per network: each side's time and who was fastest; 'tie' when the fastest times are equal."""
    out = []
    for net in dict.fromkeys(n for n, _, _ in rows):
        times = {_side(r): ms for n, r, ms in rows if n == net}
        best = min(times.values())
        fastest = [s for s, ms in times.items() if ms == best]
        out.append({"network": net, "times_ms": times, "fastest": fastest[0] if len(fastest) == 1 else
                    "tie: " + " = ".join(fastest)})
    return out


def benchmark_summary(rows=BENCHMARKS) -> dict[str, str]:
    """The two readings of 'Torch is faster than both Tensorflow and Caffe', each counted."""
    v = benchmark_verdicts(rows)
    n = len(v)
    cudnn_vs_tf = sum(1 for d in v if d["times_ms"]["Torch + cuDNN R4"] < d["times_ms"]["TensorFlow"])
    own = [d for d in v if "Torch's own kernels" in d["times_ms"]]
    own_vs_caffe = sum(1 for d in own if d["times_ms"]["Torch's own kernels"] < d["times_ms"]["Caffe"])
    return {
        "Torch + cuDNN faster than TensorFlow": f"on {cudnn_vs_tf} of {n} networks",
        "Torch's own kernels faster than Caffe's own": f"on {own_vs_caffe} of {len(own)} networks",
        "the README's caution": "its cuDNN rows run through Torch's bindings; Caffe can call cuDNN too",
    }


def lenet_memory(batch: int) -> dict[str, float]:
    """Bytes LeNet needs to train at ``batch`` in float32, counted from ``labkit.lenet``: weights,
    their gradients and one momentum buffer; the input and every layer's output, kept for the
    backward pass, and as much again for their gradients."""
    import numpy as np

    from labkit import lenet

    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    params = lenet.N_PARAMS * 4
    per_image = (int(np.prod(lenet.INPUT_SHAPE)) + sum(int(np.prod(layer.out_shape)) for layer in lenet.LAYERS)) * 4
    total = 3 * params + 2 * per_image * batch
    return {"batch": batch, "weights_mb": params / 1e6, "activations_per_image_kb": per_image / 1e3,
            "total_mb": total / 1e6, "share_of_6_gb": total / 6e9}


@dataclass(frozen=True)
class Claim:
    topic: str
    quote: str          # the review's words, exactly
    evidence: str       # cited fact, with its source
    here: str           # how (or whether) this workbook checks it


CLAIMS = (
    Claim("speed", "Torch is faster than both Tensorflow and Caffe.",
          "convnet-benchmarks' fastest rows are cuDNN called through Torch; its README warns that this "
          "does not make frameworks as a whole faster. " + BENCH_SOURCE,
          "benchmark_verdicts() re-reads its numbers; chapter 40 measures LeNet on this CPU"),
    Claim("multi-GPU", "the limiting factor is that the GPUs have to be in the same workstation.",
          "CNTK's README (2017): 'parallelization across multiple GPUs and servers'; the review's own "
          "next sentence names mxnet; DSSTNE, by contrast, scales out on a single host only "
          "(https://github.com/microsoft/CNTK, https://github.com/amazon-archives/amazon-dsstne)",
          "not measurable here: one machine, no GPU"),
    Claim("GPU memory", "GPU cards offering 6 GB of RAM are adequate.",
          "true for LeNet with room to spare: lenet_memory() counts it", "lenet_memory(); chapter 40 "
          "records each toolkit's peak resident memory on the CPU"),
    Claim("GPU memory", "GPU cards with 12 or 24Gb RAM should be considered.",
          "depends on image size and batch, which the review does not give", "not measurable here: the "
          "workbook builds neither U-Net nor ResNet, and has no GPU"),
    Claim("beginners", "Tools like NVIDIA Digits and deeplearning4j offer good solutions for beginners",
          "DIGITS is inactive since 6.1.1; DL4J is JVM-only (see the landscape)",
          "chapter 20's DIGITS-style workbench; chapter 40 counts each LeNet's lines and time to first result"),
)
