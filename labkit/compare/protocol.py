"""The comparison's protocol: what every toolkit's child process does, quick or full.

Batch sizes have one home: training uses the Recipe's ``batch_size``, inference the
batches in ``lenet.INFER_BATCHES``.
"""
from __future__ import annotations

from dataclasses import dataclass

from labkit import lenet

HARNESS = "labkit.compare"


@dataclass(frozen=True)
class Protocol:
    """What one run does per toolkit; ``QUICK`` for the tests, ``FULL`` for readers."""

    name: str
    recipe: lenet.Recipe
    train_steps: int | None          # None: one epoch of the training set
    chunk: int                       # training steps per timed sample (the first chunk is warm-up)
    warmup: int                      # inference calls not timed
    repeats: int                     # inference samples; the median is kept
    min_time: float                  # seconds per inference sample, at least
    timeout: float                   # per child process

    def describe(self) -> str:
        steps = "one epoch" if self.train_steps is None else f"{self.train_steps} steps"
        batches = " and ".join(str(b) for b in lenet.INFER_BATCHES)
        return (f"{self.name}: {steps} of batch {self.recipe.batch_size} (the chapters' recipe: momentum "
                f"{self.recipe.momentum}, weight decay {self.recipe.weight_decay}, inv lr policy), timed in "
                f"chunks of {self.chunk} steps, first chunk not counted; inference at batch {batches}: "
                f"{self.warmup} warm-up calls, median of {self.repeats} samples of >= {self.min_time:g} s")


QUICK = Protocol("quick", lenet.QUICK, lenet.QUICK.n_train // lenet.QUICK.batch_size, chunk=8, warmup=1,
                 repeats=3, min_time=0.1, timeout=600)
FULL = Protocol("full", lenet.FULL, None, chunk=50, warmup=5, repeats=7, min_time=1.0, timeout=3600)


def protocol(quick: bool) -> Protocol:
    return QUICK if quick else FULL
