"""Every system the review names, what it said of each, and each one's state today, with sources.

    >>> from labkit.review import systems
    >>> s = systems.get("chainer")
    >>> s.status, s.last_release, s.successor
    >>> systems.runs_here(s)          # '14_chainer.ipynb': read from labkit.toolkits, not typed here
    >>> systems.state_table()         # one row per system, with the date we looked

Which chapter runs a system is never typed here: ``registry`` is the one name this module
hands to ``labkit.toolkits.resolve``; a system another chapter adds later (ConvNetJS, DL4J,
h2o, Nolearn) shows up as running once it is registered there. ``planned`` is the only
hand-kept note about chapters still being written; update it when they land.

The facts about today were looked up on ``LOOKED`` from the sources listed with each system;
where we could not confirm one we say "not confirmed".
"""
from __future__ import annotations

from dataclasses import dataclass

#: The day the facts below were looked up.
LOOKED = "2026-12-02"

STATUSES = ("maintained", "in maintenance", "archived", "inactive", "not confirmed")


@dataclass(frozen=True)
class System:
    """One system the review names. ``said``: short exact quotes of the review; ``table1``: its
    Table 1 key, or None; ``status`` one of STATUSES; ``sources``: (url, what it shows)."""

    key: str
    name: str
    said: tuple
    table1: str | None
    status: str
    last_release: str
    successor: str
    sources: tuple
    registry: str | None = None     # the name labkit.toolkits.resolve() may know it by
    teach: str | None = None        # for a system that cannot run here: who teaches the same idea
    why_not: str = ""               # why it cannot run here
    planned: str = ""               # a chapter being written elsewhere (hand-kept)
    note: str = ""


def _s(*pairs):
    return tuple(pairs)


SYSTEMS: tuple[System, ...] = (
    System("caffe", "Caffe", ("Caffe is one of the most mature toolkits", "to describe the network architecture as well as the solver methods"),
           "caffe", "inactive", "1.0 (tag of 2017-04-15); last commit 2020-02-13",
           "Caffe2 (2017), merged into PyTorch in 2018",
           _s(("https://github.com/BVLC/caffe", "tags and commit history"),
              ("https://caffe2.ai/blog/2018/05/02/Caffe2_PyTorch_1_0.html", "Caffe2 and PyTorch merging")),
           registry="caffe", note="labkit's Caffe-style layer always; real BVLC Caffe with `make caffe`"),
    System("deeplearning4j", "DeepLearning4j", ("developed by Andrej Karpathy", "This is also a mature toolkit (written in Lua)"),
           "deeplearning4j", "not confirmed", "1.0.0-M2.1 (Maven Central's current version; date not confirmed)",
           "none: still Eclipse Deeplearning4j",
           _s(("https://central.sonatype.com/artifact/org.deeplearning4j/deeplearning4j", "current version 1.0.0-M2.1"),
              ("https://mvnrepository.com/artifact/org.deeplearning4j/deeplearning4j-core/1.0.0-beta3", "developer: Adam Gibson, Skymind")),
           registry="deeplearning4j", teach="keras",
           note="ND4J's ops run LeNet's forward pass and an SGD step from PyPI's nd4j 1.0.0b3 jars; DL4J's "
                "layers come only from Maven, not reachable here, so its Java idiom is shown, not run"),
    System("tensorflow", "TensorFlow", ("Tensorflow is a rather new library", "Some view it as more difficult to use directly"),
           "tensorflow", "maintained", "ongoing", "none",
           _s(("https://pypi.org/project/tensorflow/#history", "release history"),),
           registry="tensorflow"),
    System("theano", "Theano", ("takes advantage of the efficient code base of numpy", "Documentation quality is fair."),
           None, "inactive", "1.0.5 (27 July 2020, a maintenance release)",
           "PyTensor (PyMC's fork, via Theano-PyMC and Aesara)",
           _s(("https://pypi.org/project/theano/1.0.5/", "release notes: Theano 1.0.5, 27th of July 2020"),
              ("https://github.com/Theano/Theano", "'MILA has stopped developing Theano'; continued as PyTensor")),
           registry="theano", note="here as theano-pymc, the PyMC team's fork"),
    System("keras", "Keras", ("This toolkit seems to have the greatest selection of state-of-the-art algorithms", "Tensorflow would be adopting Keras"),
           "keras", "maintained", "ongoing", "none (Keras 3 runs on TensorFlow, PyTorch and JAX)",
           _s(("https://pypi.org/project/keras/#history", "release history"),), registry="keras"),
    System("mxnet", "MXNet", ("written in C++ with many language bindings", "supports distributed computing, including multi-GPU"),
           "mxnet", "archived", "1.9.1 (2022)", "none named by the project",
           _s(("https://attic.apache.org/projects/mxnet.html", "retired to the Apache Attic"),
              ("https://github.com/apache/mxnet", "archived by the owner on 2023-11-17, read-only")),
           registry="mxnet"),
    System("lasagne", "Lasagne", ("It is essentially a thin wrapper",), None, "inactive",
           "0.1 on PyPI (the repository's master says 0.2.dev1; year not confirmed)", "not confirmed",
           _s(("https://github.com/Lasagne/Lasagne", "repository"),
              ("https://anaconda.org/channels/conda-forge/packages/lasagne/files", "conda-forge builds of 0.1")),
           registry="lasagne"),
    System("cntk", "CNTK", ("Cognitive Network Toolkit (CNTK)", "described as \u201cVisual Studio\u201d for Machine learning"),
           None, "in maintenance", "2.7 (2019): 'the last main release', bug fixes only after it",
           "ONNX and ONNX Runtime (Microsoft's own advice in the 2.7 notes)",
           _s(("https://github.com/MicrosoftDocs/cognitive-toolkit-docs/blob/master/articles/ReleaseNotes/CNTK_2_7_Release_Notes.md",
               "2.7 release notes"),
              ("https://github.com/microsoft/CNTK", "README: 'parallelization across multiple GPUs and servers'")),
           registry="cntk", teach="keras", planned="its ONNX side: chapter 31",
           why_not="no wheel after Python 3.6: this workbook runs Python 3.11"),
    System("digits", "DIGITS", ("is a web-based tool for developing deep networks", "uses a text file not a programming language"),
           "digits", "inactive", "6.1.1 (by May 2018: NVIDIA's 18.05 container is built on it)", "not confirmed",
           _s(("https://github.com/NVIDIA/DIGITS/releases", "releases up to 6.1.1"),
              ("https://docs.nvidia.com/deeplearning/digits/digits-release-notes/rel_18.05.html", "18.05 based on 6.1.1")),
           registry="digits", teach="caffe", note="chapter 20's section 'A DIGITS-style workbench'",
           why_not="not packaged: a Flask web app tied to NVIDIA's Caffe fork and CUDA"),
    System("torch7", "Torch", ("Torch is a mature toolkit for machine learning that is written in C.",),
           "torch", "inactive", "no release tags; 'not in active development'",
           "PyTorch (its C libraries TH/THC rewritten as ATen)",
           _s(("https://github.com/torch/torch7", "README: 'Torch is not in active development', ATen"),),
           registry="torch7", teach="pytorch", why_not="no Lua or LuaJIT Torch packages in Debian 12"),
    System("pylearn2", "Pylearn2", ("Pylearn2 is not as complete other toolkits",), None, "inactive",
           "no release (never on PyPI); last commit 2021-08-20 (typo fixes)",
           "its README points to Blocks, Keras and Lasagne",
           _s(("https://github.com/lisa-lab/pylearn2", "README: 'does not have any current developer'"),),
           registry="pylearn2", teach="caffe", why_not="not on PyPI; needs the original Theano and Python 2"),
    System("chainer", "Chainer", ("builds the network as part of its computation", "Define-by-Run"),
           "chainer", "in maintenance", "7.8.1 (2022-01-05)", "PyTorch (Preferred Networks moved to it in 2019)",
           _s(("https://github.com/chainer/chainer/releases", "v7.8.1: 'Chainer is under the maintenance phase'"),
              ("http://www.beam2d.net/blog/2019/12/10/chainer-look-back-en/", "PFN's move to PyTorch, 2019-12")),
           registry="chainer"),
    System("pytorch", "PyTorch", ("It is a python front end to the Torch computational engine.",), None,
           "maintained", "ongoing", "none (PyTorch Foundation, Linux Foundation, since 2022)",
           _s(("https://pypi.org/project/torch/#history", "release history"),
              ("https://linuxfoundation.org/blog/welcoming-pytorch-to-the-linux-foundation", "2022-09-12")),
           registry="pytorch"),
    System("nolearn", "Nolearn", ("Nolearn offers a good implementation of deep belief networks",), None, "inactive",
           "0.6.1 (2019-11-05)", "skorch (named in its README)",
           _s(("https://github.com/dnouri/nolearn", "README: 'nolearn is currently unmaintained'; release 0.6.1"),),
           registry="nolearn"),
    System("sklearn-theano", "Sklearn-theano", ("Sklearn-theano offers a programming syntax that matches the one of",),
           None, "inactive", "no PyPI release found (setup.py says 0.0.1); last commit 2016-06-14",
           "not confirmed",
           _s(("https://github.com/sklearn-theano/sklearn-theano", "repository and history"),),
           registry="sklearn-theano", teach="nolearn", why_not="not on PyPI; needs the original Theano"),
    System("paddle", "Paddle", ("Paddle is offering better capabilities for natural language processing",),
           "paddle", "maintained", "ongoing", "none",
           _s(("https://pypi.org/project/paddlepaddle/#history", "release history"),), registry="paddle"),
    System("h2o", "h2o", ("h2o solutions are oriented to big data analytics",), "h2o", "maintained",
           "3.46.0.x (3.46.0.10 built 2026-03-12 on the h2oai conda channel)", "none (H2O-3)",
           _s(("https://anaconda.org/h2oai/h2o/files", "3.46.0.x builds, 2026"),),
           registry="h2o",
           note="which repository Table 1 counted (h2o-2 or h2o-3) is not confirmed"),
    System("convnetjs", "ConvNetJS", (), "convnetjs", "inactive", "no release tags; last commit 2016-11-24",
           "none named by the project",
           _s(("https://github.com/karpathy/convnetjs", "README: 'I am not actively maintaining ConvNetJS anymore'"),),
           registry="convnetjs", planned=""),
    System("dsstne", "DSSTNE", (), "dsstne", "archived", "no releases", "none named by the project",
           _s(("https://github.com/amazon-archives/amazon-dsstne/releases", "archived by the owner on 2020-08-15"),),
           registry="dsstne", teach="caffe", why_not="GPU-only (CUDA kernels, no CPU path) and archived"),
)


def get(key: str) -> System:
    for s in SYSTEMS:
        if key.strip().lower() in (s.key, s.name.lower()):
            return s
    raise KeyError(f"the review names no system {key!r}; known: {', '.join(s.key for s in SYSTEMS)}")


def _registry_key(name: str | None) -> str | None:
    from labkit import toolkits

    if not name:
        return None
    try:
        return toolkits.resolve(name)
    except ValueError:
        return None


def runs_here(system: System) -> str | None:
    """The chapter (notebook file) that runs ``system`` in this workbook, from ``labkit.toolkits``,
    or None when the registry does not know it (yet)."""
    from labkit import toolkits

    key = _registry_key(system.registry)
    return toolkits.TOOLKITS[key].chapter if key else None


def teaching_chapter(system: System) -> str | None:
    """For a system that cannot run here: the runnable chapter that teaches the same idea."""
    return runs_here(get(system.teach)) if system.teach else None


def version_here(system: System) -> str | None:
    """The version installed in this environment (metadata only, nothing imported), or None."""
    from labkit import toolkits

    key = _registry_key(system.registry)
    return toolkits.version_of(key) if key else None


def where(system: System) -> str:
    """One phrase: the chapter that runs it, or why it cannot run here and who teaches the idea."""
    chapter = runs_here(system)
    if chapter:
        return f"runs in {chapter}" + (f" ({system.note})" if system.note and system.key != "h2o" else "")
    if system.why_not:
        teach = teaching_chapter(system)
        return f"cannot run here ({system.why_not}); the same idea runs in {teach or 'no chapter yet'}"
    return f"planned: {system.planned}" if system.planned else "not in this workbook"


def state_table():
    """Each system's state today: status, last release, successor, where it runs here, sources."""
    from labkit import tables

    rows = []
    for s in SYSTEMS:
        last = s.last_release
        if last == "ongoing":
            v = version_here(s)
            last = f"ongoing (pinned here: {v})" if v else "ongoing"
        rows.append([s.name, s.status, last, s.successor, where(s),
                     "; ".join(url for url, _ in s.sources) + f" (looked {LOOKED})"])
    return tables.Table(["system", "today", "last release", "successor / heir", "in this workbook", "sources"], rows)
