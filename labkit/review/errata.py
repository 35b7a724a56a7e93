"""Where the review is wrong, and what is true instead: each erratum quotes the paper exactly
(short quotes), says what is true, and names its source. Two are checked by running code:
``figure3_trials`` runs Figure 3 as printed, and ``figure2_returns`` reads Figure 2's code.

    >>> from labkit.review import errata
    >>> for e in errata.ERRATA: print(e.id, '|', e.quote, '->', e.truth)
    >>> errata.figure3_trials()          # imports torch: what each version of Figure 3 does today
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

from labkit.review.figures import FIGURES


@dataclass(frozen=True)
class Erratum:
    id: str
    section: str       # where in the review
    quote: str         # the review's words, exactly (line breaks as spaces)
    truth: str         # what is true instead
    sources: tuple     # URLs, or a workbook chapter / check that shows it


ERRATA: tuple[Erratum, ...] = (
    Erratum("dl4j-author", "DeepLearning4j",
            "developed by Andrej Karpathy",
            "Deeplearning4j was started by Adam Gibson at Skymind and is now Eclipse Deeplearning4j. "
            "Andrej Karpathy wrote ConvNetJS, another row of Table 1.",
            ("https://mvnrepository.com/artifact/org.deeplearning4j/deeplearning4j-core/1.0.0-beta3 (developers: Adam Gibson, Skymind)",
             "https://github.com/karpathy/convnetjs (ConvNetJS, by Karpathy)")),
    Erratum("dl4j-lua", "DeepLearning4j",
            "This is also a mature toolkit (written in Lua)",
            "DL4J is written in Java with a Scala API, as the sentence before says and Table 1 gives "
            "(Java); its numerics are ND4J over a C++ library (libnd4j). No Lua: the words fit Torch.",
            ("https://central.sonatype.com/artifact/org.deeplearning4j/deeplearning4j (a Java artifact)",
             "Table 1: deeplearning4j ... Java")),
    Erratum("torch-c", "Torch",
            "Torch is a mature toolkit for machine learning that is written in C.",
            "Torch7 is programmed in Lua (LuaJIT); its tensor and network libraries (TH, THNN, THC, "
            "THCUNN) are C and CUDA. Table 1 itself gives its language as lua. Its speed came from "
            "those libraries and cuDNN bindings, not from the user's code being C.",
            ("https://github.com/torch/torch7 (README: the C backend TH, THNN, THC, THCUNN)",
             "Table 1: torch ... lua")),
    Erratum("figure3-runs", "PyTorch, Figure 3",
            "next_h.backward(torch.ones(1, 20))",
            "Figure 3 does not run as printed: it never imports torch; next_h is 20x1 (W_x is 20x10, "
            "x.t() is 10x1), so a 1x20 gradient is refused; and no Variable asks for gradients "
            "(requires_grad=True), so even with the shape fixed there is nothing to differentiate. "
            "figure3_trials() runs each version.",
            ("labkit.review.errata.figure3_trials (run in chapter 30)", "10_pytorch.ipynb runs a corrected version")),
    Erratum("figure2-return", "Keras, Figure 2",
            "def lenet():",
            "Figure 2's lenet() builds a model and ends without `return model`, so calling it gives None; "
            "figure2_returns() checks the printed code.",
            ("labkit.review.errata.figure2_returns", "11_keras.ipynb runs it as printed; labkit.keras1.last_model() hands back the model it built")),
    Erratum("table1-keras-forks", "Table 1",
            "keras\t10,875\t10,875\t327\tPython",
            "Keras's forks equal its stars: a copy error. The paper does not let us recover the true fork "
            "count (not confirmed).",
            ("labkit.review.table1.anomalies (computed on the table)",)),
    Erratum("table1-tensorflow", "Table 1",
            "TensorFLow\t4,505\t667\t573\tPython",
            "Far too few stars and forks for tensorflow/tensorflow, GitHub's most forked project of 2015, "
            "beside the most contributors of the table; the name is misspelled too.",
            ("http://deliprao.com/archives/168", "labkit.review.table1.cited_anomalies")),
    Erratum("chainer-define-by-run", "Chainer",
            "Chainer attempts to build and optimize its architecture as part of the learning process",
            "Define-by-run means the graph is recorded while the forward pass runs, anew on every call, so "
            "ordinary Python control flow decides its shape; backpropagation then walks that record. "
            "Nothing builds or optimizes the architecture during learning: training changes weights only.",
            ("Tokui et al., 'Chainer: a Next-Generation Open Source Framework for Deep Learning', "
             "LearningSys 2015, http://learningsys.org/papers/LearningSys_2015_paper_33.pdf",
             "14_chainer.ipynb shows the graph recorded per call")),
    Erratum("cntk-name", "CNTK",
            "Cognitive Network Toolkit (CNTK)",
            "CNTK stood for Computational Network Toolkit; in October 2016 it was renamed the Microsoft "
            "Cognitive Toolkit (keeping the initials). No 'Cognitive Network Toolkit' existed.",
            ("https://github.com/microsoft/CNTK (README news of 2016-10-25: 'CNTK becomes The Microsoft Cognitive Toolkit')",
             "Microsoft Research MSR-TR-2014-112, 'An Introduction to Computational Networks and the "
             "Computational Network Toolkit'")),
    Erratum("theano-numpy", "Theano",
            "takes advantage of the efficient code base of numpy",
            "Theano's speed comes from compiling its symbolic graphs: it optimizes the graph, then "
            "generates and compiles C (and CUDA) code. NumPy supplies its arrays and the Python "
            "fallback of some operations.",
            ("Theano Development Team, 'Theano: A Python framework for fast computation of mathematical "
             "expressions', arXiv:1605.02688 (2016)",
             "12_theano.ipynb shows the compiled function")),
)


def get(eid: str) -> Erratum:
    for e in ERRATA:
        if e.id == eid:
            return e
    raise KeyError(f"no erratum {eid!r}; known: {', '.join(e.id for e in ERRATA)}")


def figure2_returns(source: str | None = None) -> bool:
    """Does the ``lenet`` function of Figure 2 (or of ``source``) return anything?"""
    tree = ast.parse(source if source is not None else FIGURES[2])
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not funcs:
        raise ValueError("no function definition in this code: Figure 2 defines lenet()")
    return any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(funcs[0]))


def _edit(source: str, old: str, new: str) -> str:
    if old not in source:
        raise ValueError(f"Figure 3 no longer contains {old!r}: labkit.review.figures changed")
    return source.replace(old, new)


def figure3_versions() -> dict[str, str]:
    """Figure 3 as printed, then with each fault mended in turn (the code each trial runs)."""
    printed = FIGURES[3]
    shape = _edit(printed, "torch.ones(1, 20)", "torch.ones(20, 1)")
    grads = _edit(_edit(shape, "torch.randn(20, 20))", "torch.randn(20, 20), requires_grad=True)"),
                  "torch.randn(20, 10))", "torch.randn(20, 10), requires_grad=True)")
    return {"as printed": printed,
            "as printed, with `import torch`": "import torch\n" + printed,
            "and the gradient shaped 20x1": "import torch\n" + shape,
            "and requires_grad=True on the weights": "import torch\n" + grads}


def figure3_trials() -> list[tuple[str, str]]:
    """Run each version of Figure 3 in a fresh namespace (today's PyTorch): (version, outcome)."""
    import torch

    out = []
    for label, code in figure3_versions().items():
        ns: dict = {}
        try:
            exec(compile(code, f"<Figure 3, {label}>", "exec"), ns)
        except Exception as e:           # the outcome is the point: report it, do not hide it
            out.append((label, f"{type(e).__name__}: {str(e).splitlines()[0]}"))
            continue
        w = ns["W_h"]
        shapes = {k: tuple(ns[k].grad.shape) for k in ("W_h", "W_x") if ns[k].grad is not None}
        out.append((label, f"runs (torch {torch.__version__}); gradients: {shapes}" if shapes
                    else f"runs, but no gradient reached W_h (requires_grad={w.requires_grad})"))
    return out
