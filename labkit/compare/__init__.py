"""Every toolkit's LeNet under one benchmark protocol, each in a process of its own.

    python -m labkit compare            # full protocol (one epoch of training per toolkit)
    python -m labkit compare --quick    # the tests' protocol: the quick subset, a few repeats
    python -m labkit compare --toolkits pytorch chainer --notebooks DIR

The code that runs is each chapter's own ``lenet``-tagged cells (``labkit.chapters``), so
the comparison measures the LeNet a reader sees in the chapter. The protocol:

* one child Python process per toolkit (and per Keras backend), started one after another,
  so no toolkit's threads, caches or memory affect another's, and no two run at once;
* the same thread count for every child (every variable of ``labkit.child.THREAD_VARS``;
  default: the CPUs usable here);
* the same data (``labkit.lenet.dataset``), the same shared initial weights, the Recipe's
  batch for training, the batches of ``lenet.INFER_BATCHES`` for inference;
* warm-up excluded, the median of repeats (``labkit.timing.throughput``; training is timed
  in chunks of steps over real batches, the first chunk being the warm-up).

Each child measures: time to first result (from the parent's spawn to the first logits:
interpreter start, toolkit import, build, compile), agreement with the NumPy reference and
the arrays for the pairwise matrix, training images/s and test accuracy after a fixed budget
(quick: one pass over the QUICK subset's 2,048 images, 32 steps; full: one epoch of the full training
set), inference images/s at batch 1 and 256, peak resident memory, its GPU support as
``labkit.device`` reports it. The parent adds lines of code and installed size, which need
no import, and writes everything as run records (``labkit.records``). Every table and
chart here is made from records (``load_run``), never typed in.

Rows come in two configurations where a toolkit has clear speed settings: its plain name,
as a newcomer writes it (the documented default idiom), and ``NAME-tuned``, the fastest
settings found, named in ``Entry.tuned``. Both call the chapter's own functions; a row's
settings are keyword arguments those functions take (``Entry.options``) or variables the
toolkit reads (``Entry.env``). Real Caffe (``make caffe``) is the row ``caffe``: chapter 20's
Figure 1 net in pycaffe, trained by Caffe's own solver (``realcaffe``). Every child reports
a digest of the batches it fed; rows that differ fail the run. The accuracy floor is the
budget's own (``Protocol.floor_for``): one epoch does not reach the chapters' ten-epoch floors.

The package, one concern a module: ``protocol`` (what a run does), ``worker`` (the child),
``harness`` (the parent), ``measures`` (what needs no child), ``results`` (records to
tables and charts), ``realcaffe`` (real Caffe's contract), ``cli``. The rows themselves are
``labkit.toolkits.ENTRIES``.
"""
from labkit.compare.cli import main
from labkit.compare.harness import check_threads, pairwise, run
from labkit.compare.measures import (WRONG_CONVERSIONS, installed, installed_size, lines_of_code,
                                     model_library, wrong_conversions)
from labkit.compare.protocol import FULL, HARNESS, QUICK, Protocol, protocol
from labkit.compare.results import (CRITERIA, Run, agreement_table, agreement_worst, criteria_table,
                                    load_run, physics_table, plot, results_table)
from labkit.machine import peak_gflops
from labkit.toolkits import ENTRIES

__all__ = ["main", "check_threads", "pairwise", "run", "WRONG_CONVERSIONS", "installed", "installed_size",
           "lines_of_code", "model_library", "wrong_conversions", "FULL", "HARNESS", "QUICK", "Protocol",
           "protocol", "CRITERIA", "Run", "agreement_table", "agreement_worst", "criteria_table", "load_run",
           "physics_table", "plot", "results_table", "peak_gflops", "ENTRIES"]

