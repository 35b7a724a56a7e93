"""Every toolkit's LeNet, as its chapter writes it, against the NumPy reference.

The chapter's own `lenet`-tagged cells run in a fresh process per toolkit (and per Keras
backend): from the shared initial weights, probe logits must agree within 1e-4, and after
one plain SGD step (lr 0.01) on the probe batch every parameter within 1e-5.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labkit import chapters, lenet

NB = Path(__file__).resolve().parent.parent / "notebooks"
CASES = [
    ("10_pytorch.ipynb", {}),
    ("11_keras.ipynb", {"KERAS_BACKEND": "tensorflow"}),
    ("11_keras.ipynb", {"KERAS_BACKEND": "torch"}),
    ("11_keras.ipynb", {"KERAS_BACKEND": "jax"}),
    ("12_theano.ipynb", {}),
    ("13_lasagne.ipynb", {}),
    ("14_chainer.ipynb", {}),
    ("20_caffe.ipynb", {}),
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("notebook,env", CASES,
                         ids=[f"{n.split('_', 1)[1][:-6]}{'-' + e['KERAS_BACKEND'] if e else ''}" for n, e in CASES])
def test_chapter_lenet_agrees_with_reference(notebook, env):
    proc = subprocess.run([sys.executable, "-m", "labkit.chapters", "agreement", str(NB / notebook)],
                          capture_output=True, text=True, env={**os.environ, **env}, timeout=580)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["logits_max_diff"] <= lenet.LOGITS_ATOL, result
    bad = {k: v for k, v in result["step_max_diff"].items() if not v <= lenet.STEP_ATOL}
    assert not bad, f"after one SGD step: {bad}"


def test_tagged_source_errors_are_clear(tmp_path):
    nb = tmp_path / "x.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "source": "x = 1"}]}))
    with pytest.raises(LookupError, match="no code cells tagged 'lenet'"):
        chapters.tagged_source(nb)
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {"tags": ["lenet"]},
                                         "source": ["%matplotlib inline\n", "def build_lenet():\n", "    return 1\n"]}]}))
    assert "%matplotlib" not in chapters.tagged_source(nb)
    with pytest.raises(LookupError, match="do not define"):
        chapters.load(nb)
    nb.write_text("{not json")
    with pytest.raises(ValueError, match="not a readable notebook"):
        chapters.tagged_source(nb)
