"""labkit.keras1: the review's Figure 2, as printed, through Keras 1 names over Keras 3.

The argument checks run here, without Keras (the constructors check before they import it).
Everything that builds a model runs in a fresh process per Keras backend (``slow``), since
``KERAS_BACKEND`` is read once, when ``keras`` is first imported.
"""
import ast
import json
import os
import subprocess
import sys
import textwrap

import pytest

from labkit import keras1, toolkits
from labkit.review import FIGURES

#: the Keras backends of the registry's rows (keras-tensorflow, keras-torch, keras-jax)
BACKENDS = tuple(e.env["KERAS_BACKEND"] for e in toolkits.ENTRIES.values() if "KERAS_BACKEND" in e.env)
FIGURE2_PARAMS = 166_826
PUBLIC = ("Sequential", "Convolution2D", "MaxPooling2D", "Activation", "Dropout", "Flatten", "Dense")


# --- without Keras: the figure's names, the tables, the errors --------------------------------

def _calls(source):
    """(callee, keyword names, number of positional arguments) for every call in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            yield node.func.id, [k.arg for k in node.keywords], len(node.args)


def test_the_name_layer_translates_every_name_and_argument_figure_2_uses():
    used = list(_calls(FIGURES[2]))
    assert {name for name, _, _ in used} == set(PUBLIC)
    for name, keywords, positional in used:
        if name == "Sequential":
            continue
        order = list(keras1.ARGS[name])
        for arg in [*order[:positional], *keywords]:
            assert arg in keras1.TRANSLATED[name], (name, arg)


def test_the_tables_agree_with_each_other():
    assert set(keras1.ARGS) == set(keras1.CLASSES) == set(keras1.TRANSLATED) == set(keras1.DEFAULTS)
    for layer, translated in keras1.TRANSLATED.items():
        known = {*keras1.ARGS[layer], *keras1.COMMON}
        assert translated <= known, (layer, translated - known)
        assert set(keras1.DEFAULTS[layer]) <= translated, layer


@pytest.mark.parametrize("call, match", [
    (lambda: keras1.Convolution2D(6, 5, 5, init="he_normal"),
     r"Convolution2D\(init=\.\.\.\) is Keras 1.*Keras 3 calls it kernel_initializer"),
    (lambda: keras1.Dense(84, W_regularizer=None), r"Keras 3 calls it kernel_regularizer.*keras\.layers\.Dense"),
    (lambda: keras1.Convolution2D(6, 5, 5, weights=[]), r"set_weights\(\) after the model is built"),
    (lambda: keras1.Convolution2D(6, 5, 5, padding="same"),
     r"'padding' is the Keras 2/3 name of Keras 1's 'border_mode'"),
    (lambda: keras1.Dropout(rate=0.5), r"'rate' is the Keras 2/3 name of Keras 1's 'p'"),
    (lambda: keras1.Dense(units=84), r"'units' is the Keras 2/3 name of Keras 1's 'output_dim'"),
    (lambda: keras1.Convolution2D(6, 5, 5, bordermode="valid"),
     r"got 'bordermode', which Keras 1's Convolution2D did not take \(it took: nb_filter"),
    (lambda: keras1.Convolution2D(6, 5), r"Convolution2D\(\) needs nb_col"),
    (lambda: keras1.Dropout(0.5, p=0.2), r"got 'p' twice"),
    (lambda: keras1.MaxPooling2D((2, 2), None, "valid", "default", "extra"), r"at most 4 positional arguments"),
])
def test_what_is_not_translated_is_refused_with_the_keras3_name(call, match):
    with pytest.raises(TypeError, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: keras1.Convolution2D(6, 5, 5, border_mode="full"), r"'full'.*ZeroPadding2D"),
    (lambda: keras1.MaxPooling2D(border_mode="valid!"), r"Keras 1 took 'valid', 'same' or 'full'"),
    (lambda: keras1.Convolution2D(6, 5, 5, dim_ordering="tf"), r"differs from image_dim_ordering\(\) = 'th'"),
    (lambda: keras1.MaxPooling2D(dim_ordering="channels_first"), r"Keras 1 knew 'th', 'tf' and 'default'"),
    (lambda: keras1.set_image_dim_ordering("channels_first"), r"must be 'th'.*or 'tf'"),
])
def test_bad_values_say_what_keras1_took(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_last_model_says_when_there_is_none():
    keras1.forget_models()
    assert keras1.models_made() == []
    with pytest.raises(LookupError, match="has made no model yet"):
        keras1.last_model()


def test_importing_it_and_checking_arguments_imports_no_keras():
    code = ("import sys\nfrom labkit import keras1\n"
            "try:\n    keras1.Convolution2D(6, 5, 5, init='x')\nexcept TypeError:\n    pass\n"
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --- with Keras, one fresh process per backend ------------------------------------------------

CHILD = """
import json, sys
import numpy as np
from labkit import keras1
from labkit.review import FIGURES

names = {n: getattr(keras1, n) for n in %(public)r}
exec(FIGURES[2], names)                      # the figure as printed: defines lenet()
returned = names["lenet"]()
model = keras1.last_model()
import keras
out = {"backend": keras.config.backend(), "returned": repr(returned), "params": model.count_params(),
       "input_shape": list(model.input_shape), "output_shape": list(model.output_shape),
       "layers": [type(layer).__name__ for layer in model.layers]}

# the Permute reads (channels, rows, columns): conv1's output against a cross-correlation in NumPy
rng = np.random.default_rng(0)
x = rng.random((2, 1, 28, 28), dtype=np.float32)
kernel, bias = model.layers[1].get_weights()                 # (5, 5, 1, 6), channels last
windows = np.lib.stride_tricks.sliding_window_view(x[:, 0], (5, 5), axis=(1, 2))   # (2, 24, 24, 5, 5)
want = np.einsum("nijuv,uvf->nijf", windows, kernel[:, :, 0, :]) + bias
got = keras.ops.convert_to_numpy(model.layers[1](model.layers[0](x)))
out["conv1_max_diff"] = float(np.max(np.abs(got - want)))
out["softmax_row_sums"] = keras.ops.convert_to_numpy(model(x)).sum(axis=1).tolist()

# gradients flow through every layer: Adam steps on one small batch lower its loss there
from labkit import lenet as ref
xb, yb = ref.probe_batch()
xb = (xb - 0.1307) / 0.3081
keras.utils.set_random_seed(0)
model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
out["loss_first"] = float(model.evaluate(xb, yb, verbose=0))      # dropout off
for _ in range(60):
    model.train_on_batch(xb, yb)
out["loss_last"] = float(model.evaluate(xb, yb, verbose=0))
print(json.dumps(out))
"""


def _run(code, backend, timeout=400):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", BACKENDS)
def test_figure2_as_printed_builds_the_papers_network(backend):
    out = _run(CHILD % {"public": PUBLIC}, backend)
    assert out["backend"] == backend
    assert out["returned"] == "None"                              # the figure has no `return`
    assert out["params"] == FIGURE2_PARAMS
    assert out["input_shape"] == [None, 1, 28, 28]                # channels first, as Keras 1 under 'th'
    assert out["output_shape"] == [None, 10]
    assert out["layers"][0] == "Permute" and out["layers"].count("Conv2D") == 3
    assert out["conv1_max_diff"] < 1e-5, out["conv1_max_diff"]
    assert all(abs(s - 1) < 1e-5 for s in out["softmax_row_sums"])
    assert out["loss_last"] < 0.7 * out["loss_first"], (out["loss_first"], out["loss_last"])


CHECKS = """
import json
from labkit import keras1
from labkit.review import FIGURES
import keras

names = {n: getattr(keras1, n) for n in %(public)r}
exec(FIGURES[2], names)
out = {}
names["lenet"](); names["lenet"]()
made = keras1.models_made()
out["remembered"] = len(made) >= 2 and made[-1] is keras1.last_model() and made[-1] is not made[-2]

keras1.set_image_dim_ordering("tf")              # (1, 28, 28) is then 1 row, 28 columns, 28 channels
try:
    names["lenet"]()
    out["tf"] = "built"
except ValueError as err:
    out["tf"] = str(err)
finally:
    keras1.set_image_dim_ordering("th")
model = keras1.Sequential()
model.add(keras1.Dense(8, input_dim=4))
out["dense_input"] = [list(model.input_shape), model.count_params()]
try:
    model.add(keras1.Dense(2, input_dim=8))
    out["second_input"] = "accepted"
except ValueError as err:
    out["second_input"] = str(err)
alias = keras.layers.Convolution2D(6, 5, 5)      # Keras 3's own alias: the third number is strides
out["alias"] = [keras.layers.Convolution2D is keras.layers.Conv2D, list(alias.strides)]
out["mismatches"] = keras1.keras3_mismatches()
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_orderings_memory_inputs_and_the_keras3_tables():
    out = _run(CHECKS % {"public": PUBLIC}, BACKENDS[-1])     # one backend is enough here
    assert out["remembered"]
    assert "output size would be zero or negative" in out["tf"], out["tf"]
    assert out["dense_input"] == [[None, 4], 4 * 8 + 8]
    assert "is for the first layer only" in out["second_input"], out["second_input"]
    assert out["alias"] == [True, [5, 5]], "Keras 3's Convolution2D alias changed: revisit chapter 11, 3.2"
    assert out["mismatches"] == []
