"""Keras 1 names over Keras 3: just enough of the 2016-17 API to run the review's Figure 2 as
the paper prints it, with only its imports added.

What it translates, and why each choice:

* the layer names and arguments the figure uses: ``Convolution2D(nb_filter, nb_row, nb_col,
  border_mode=...)`` becomes ``keras.layers.Conv2D(filters, (nb_row, nb_col), padding=...)``,
  ``Dense(output_dim)`` becomes ``Dense(units)``, ``Dropout(p)`` becomes ``Dropout(rate)``;
  ``MaxPooling2D``, ``Activation`` and ``Flatten`` keep their names (``MaxPooling2D``'s
  ``border_mode`` becomes ``padding``);
* Keras 1's ``image_dim_ordering``: ``"th"`` (Theano's channels first, which the figure's
  ``input_shape=(1, 28, 28)`` assumes) or ``"tf"`` (channels last). Under ``"th"`` the model
  takes channels-first images, as the 2017 model did, and its first layer is a ``Permute``
  to channels last: every layer after it runs channels last, Keras 3's default layout
  (``data_format="channels_first"`` would work too, but ran the figure's training slower on
  TensorFlow and JAX on a CPU, and TensorFlow has no channels-first pooling: Keras transposes
  around it). A ``Permute`` has no parameters, so the count is the figure's. One thing differs from
  Keras 1 on Theano: ``Flatten`` lists a channels-last map in (row, column, channel) order,
  not (channel, row, column), so the rows of the next ``Dense`` kernel sit in another order
  (it matters only to load 2017 weights);
* the figure's ``lenet()`` has no ``return``: the model it builds is lost when it ends. This
  module's ``Sequential`` remembers every model it makes, so ``last_model()`` finds it.

Anything else gets a ``TypeError`` or ``ValueError`` that names the argument and what Keras 3
calls it. (Keras 3 itself still exports ``keras.layers.Convolution2D``, but as another name
for ``Conv2D``: there ``Convolution2D(6, 5, 5)`` means 6 filters of 5x5 *with stride 5*, and
only ``border_mode`` makes the figure's lines fail rather than build the wrong network.)
Keras is imported by the functions that need it, never by ``import labkit``.
"""
from __future__ import annotations

import weakref

#: Keras 1 ``image_dim_ordering`` -> Keras 2/3 ``image_data_format``.
ORDERINGS = {"th": "channels_first", "tf": "channels_last"}

#: Per layer: every Keras 1 argument (positional ones first) -> its Keras 2/3 name. The
#: constructors below translate those in TRANSLATED and refuse the rest with this name.
ARGS = {
    "Convolution2D": {"nb_filter": "filters", "nb_row": "kernel_size", "nb_col": "kernel_size",
                      "init": "kernel_initializer", "activation": "activation",
                      "weights": "set_weights() after the model is built",
                      "border_mode": "padding", "subsample": "strides", "dim_ordering": "data_format",
                      "W_regularizer": "kernel_regularizer", "b_regularizer": "bias_regularizer",
                      "activity_regularizer": "activity_regularizer",
                      "W_constraint": "kernel_constraint", "b_constraint": "bias_constraint",
                      "bias": "use_bias"},
    "MaxPooling2D": {"pool_size": "pool_size", "strides": "strides", "border_mode": "padding",
                     "dim_ordering": "data_format"},
    "Dense": {"output_dim": "units", "init": "kernel_initializer", "activation": "activation",
              "weights": "set_weights() after the model is built",
              "W_regularizer": "kernel_regularizer", "b_regularizer": "bias_regularizer",
              "activity_regularizer": "activity_regularizer", "W_constraint": "kernel_constraint",
              "b_constraint": "bias_constraint", "bias": "use_bias",
              "input_dim": "keras.Input(shape=(input_dim,)) as the first layer"},
    "Dropout": {"p": "rate", "noise_shape": "noise_shape", "seed": "seed"},
    "Activation": {"activation": "activation"},
    "Flatten": {},
}
#: Arguments every Keras 1 layer took (its base class); ``input_shape`` becomes a ``keras.Input``.
COMMON = {"input_shape": "keras.Input(shape=...) as the first layer", "name": "name",
          "trainable": "trainable", "batch_input_shape": "keras.Input(batch_shape=...)",
          "input_dtype": "keras.Input(dtype=...)"}
#: Keras 1 name -> Keras 2/3 class.
CLASSES = {"Convolution2D": "Conv2D", "MaxPooling2D": "MaxPooling2D", "Dense": "Dense",
           "Dropout": "Dropout", "Activation": "Activation", "Flatten": "Flatten"}
#: The Keras 1 arguments this module translates (the others raise).
TRANSLATED = {
    "Convolution2D": {"nb_filter", "nb_row", "nb_col", "activation", "border_mode", "subsample",
                      "dim_ordering", "bias", "input_shape", "name"},
    "MaxPooling2D": {"pool_size", "strides", "border_mode", "dim_ordering", "name"},
    "Dense": {"output_dim", "activation", "bias", "input_dim", "name"},
    "Dropout": {"p", "noise_shape", "seed", "name"},
    "Activation": {"activation", "name"},
    "Flatten": {"name"},
}

_SETTINGS = {"image_dim_ordering": "th"}
_INPUT_SHAPES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # layer -> Keras 1 input shape
_MADE: list = []                                                         # every model Sequential made
_SEQUENTIAL: dict = {}                                                   # sequential_class(), made once


def image_dim_ordering() -> str:
    """``"th"`` (channels first, the default here, as the figure needs) or ``"tf"``."""
    return _SETTINGS["image_dim_ordering"]


def set_image_dim_ordering(ordering: str) -> None:
    """Keras 1's ``keras.backend.set_image_dim_ordering``: how ``input_shape`` is read."""
    if ordering not in ORDERINGS:
        raise ValueError(f"image_dim_ordering must be 'th' (channels first, Theano) or 'tf' "
                         f"(channels last, TensorFlow), not {ordering!r}")
    _SETTINGS["image_dim_ordering"] = ordering


#: Defaults of the Keras 1 arguments this module translates (those without one are required).
DEFAULTS = {
    "Convolution2D": {"activation": None, "border_mode": "valid", "subsample": (1, 1),
                      "dim_ordering": "default", "bias": True},
    "MaxPooling2D": {"pool_size": (2, 2), "strides": None, "border_mode": "valid",
                     "dim_ordering": "default"},
    "Dense": {"activation": None, "bias": True, "input_dim": None},
    "Dropout": {"noise_shape": None, "seed": None},
    "Activation": {},
    "Flatten": {},
}


def _bind(layer: str, args: tuple, kwargs: dict) -> dict:
    """Keras 1's call ``layer(*args, **kwargs)`` as {argument: value}, defaults filled in;
    a TypeError that says what to write instead for anything not translated."""
    order = list(ARGS[layer])
    if len(args) > len(order):
        raise TypeError(f"{layer}() takes at most {len(order)} positional arguments in Keras 1 "
                        f"({', '.join(order)}); it got {len(args)}")
    given = dict(zip(order, args))
    for arg, value in kwargs.items():
        if arg in given:
            raise TypeError(f"{layer}() got {arg!r} twice (by position and by name)")
        given[arg] = value
    known = {**ARGS[layer], **COMMON}
    for arg in given:
        if arg in TRANSLATED[layer]:
            continue
        if arg in known:
            raise TypeError(f"{layer}({arg}=...) is Keras 1; labkit.keras1 does not translate it. "
                            f"Keras 3 calls it {known[arg]}: build this layer with "
                            f"keras.layers.{CLASSES[layer]}(...) instead")
        keras1 = [old for old, new in known.items() if new == arg]
        if keras1:
            raise TypeError(f"{layer}({arg}=...) mixes APIs: {arg!r} is the Keras 2/3 name of Keras 1's "
                            f"{keras1[0]!r}. Write {keras1[0]}= here, or use keras.layers.{CLASSES[layer]}")
        raise TypeError(f"{layer}() got {arg!r}, which Keras 1's {layer} did not take "
                        f"(it took: {', '.join([*ARGS[layer], *COMMON])})")
    out = {**DEFAULTS[layer], "name": None, **given}
    missing = [a for a in ARGS[layer] if a in TRANSLATED[layer] and a not in out]
    if missing:
        raise TypeError(f"{layer}() needs {', '.join(missing)} (Keras 1's names)")
    return out


def _data_format(layer: str, dim_ordering: str) -> str:
    ordering = image_dim_ordering() if dim_ordering == "default" else dim_ordering
    if ordering not in ORDERINGS:
        raise ValueError(f"{layer}(dim_ordering={dim_ordering!r}): Keras 1 knew 'th', 'tf' and 'default'")
    if ordering != image_dim_ordering():
        raise ValueError(f"{layer}(dim_ordering={ordering!r}) differs from image_dim_ordering() = "
                         f"{image_dim_ordering()!r}: labkit.keras1 uses one ordering for the whole model "
                         f"(set it with set_image_dim_ordering before building)")
    return "channels_last"   # every layer runs channels last; see the module's docstring


def _padding(layer: str, border_mode: str) -> str:
    if border_mode == "full":
        raise ValueError(f"{layer}(border_mode='full') has no Keras 2/3 equivalent: pad with "
                         f"keras.layers.ZeroPadding2D(kernel size - 1), then use 'valid'")
    if border_mode not in ("valid", "same"):
        raise ValueError(f"{layer}(border_mode={border_mode!r}): Keras 1 took 'valid', 'same' or 'full'")
    return border_mode


def _remember_input(layer, input_shape):
    if input_shape is not None:
        _INPUT_SHAPES[layer] = tuple(input_shape)
    return layer


def Convolution2D(*args, **kwargs):
    """Keras 1's ``Convolution2D(nb_filter, nb_row, nb_col, border_mode=..., subsample=...)`` ->
    ``keras.layers.Conv2D(filters, (nb_row, nb_col), padding=..., strides=...)``."""
    a = _bind("Convolution2D", args, kwargs)            # Keras 1's arguments, checked
    padding = _padding("Convolution2D", a["border_mode"])
    data_format = _data_format("Convolution2D", a["dim_ordering"])
    from keras import layers

    conv = layers.Conv2D(a["nb_filter"], (a["nb_row"], a["nb_col"]), strides=a["subsample"],
                         padding=padding, data_format=data_format, activation=a["activation"],
                         use_bias=a["bias"], name=a["name"])
    return _remember_input(conv, a.get("input_shape"))


def MaxPooling2D(*args, **kwargs):
    """Keras 1's ``MaxPooling2D(pool_size, strides, border_mode)`` -> ``keras.layers.MaxPooling2D``
    (``border_mode`` -> ``padding``)."""
    a = _bind("MaxPooling2D", args, kwargs)
    padding = _padding("MaxPooling2D", a["border_mode"])
    data_format = _data_format("MaxPooling2D", a["dim_ordering"])
    from keras import layers

    return layers.MaxPooling2D(a["pool_size"], a["strides"], padding=padding, data_format=data_format,
                               name=a["name"])


def Dense(*args, **kwargs):
    """Keras 1's ``Dense(output_dim)`` -> ``keras.layers.Dense(units)``."""
    a = _bind("Dense", args, kwargs)
    from keras import layers

    dense = layers.Dense(a["output_dim"], activation=a["activation"], use_bias=a["bias"], name=a["name"])
    return _remember_input(dense, None if a["input_dim"] is None else (a["input_dim"],))


def Dropout(*args, **kwargs):
    """Keras 1's ``Dropout(p)`` -> ``keras.layers.Dropout(rate)``."""
    a = _bind("Dropout", args, kwargs)
    from keras import layers

    return layers.Dropout(a["p"], noise_shape=a["noise_shape"], seed=a["seed"], name=a["name"])


def Activation(*args, **kwargs):
    """``keras.layers.Activation``: the same name and argument in Keras 1, 2 and 3."""
    a = _bind("Activation", args, kwargs)
    from keras import layers

    return layers.Activation(a["activation"], name=a["name"])


def Flatten(*args, **kwargs):
    """``keras.layers.Flatten`` (of a channels-last map: see the module's docstring)."""
    a = _bind("Flatten", args, kwargs)
    from keras import layers

    return layers.Flatten(name=a["name"])


def sequential_class():
    """The class ``Sequential()`` makes (defined on first use, as it subclasses keras.Sequential):
    keras.Sequential, whose ``add`` turns a first layer's Keras 1 ``input_shape`` into a
    ``keras.Input`` (and, under "th", a Permute to channels last), and which remembers itself."""
    if "class" not in _SEQUENTIAL:
        import keras

        class Sequential(keras.Sequential):
            """Keras 1's Sequential: ``add`` takes a first layer's ``input_shape``."""

            def __init__(self, layers=None, name=None):
                super().__init__(layers=layers, name=name)
                _MADE.append(self)

            def add(self, layer, rebuild=True):
                shape = _INPUT_SHAPES.get(layer) if isinstance(layer, keras.Layer) else None
                if shape is not None:
                    if self.layers or self.inputs_given():
                        raise ValueError(f"input_shape={shape} is for the first layer only; "
                                         f"{layer.name!r} is not the first layer of {self.name!r}")
                    self._keras1_input = True
                    super().add(keras.Input(shape=shape), rebuild=False)
                    if len(shape) == 3 and image_dim_ordering() == "th":   # (C, H, W) -> (H, W, C)
                        super().add(keras.layers.Permute((2, 3, 1), name="channels_first_to_last"),
                                    rebuild=False)
                super().add(layer, rebuild=rebuild)

            def inputs_given(self) -> bool:
                return bool(getattr(self, "_keras1_input", False))

        _SEQUENTIAL["class"] = Sequential
    return _SEQUENTIAL["class"]


def Sequential(layers=None, name=None):
    """A Keras 3 ``keras.Sequential`` that takes Keras 1 layers; every one made is remembered
    (``models_made``, ``last_model``)."""
    return sequential_class()(layers=layers, name=name)


def models_made() -> list:
    """Every model this module's ``Sequential`` made in this process, oldest first."""
    return list(_MADE)


def last_model():
    """The model ``Sequential`` made last: how to reach what a function without ``return`` built."""
    if not _MADE:
        raise LookupError("labkit.keras1.Sequential has made no model yet in this process")
    return _MADE[-1]


def forget_models() -> None:
    """Let go of the remembered models (they stay alive as long as they are remembered)."""
    _MADE.clear()


def keras3_mismatches() -> list[str]:
    """Check the rename tables against the installed Keras: every Keras 2/3 class exists and
    takes the argument named for it, and no Keras 1 argument name survives there. Empty when
    the tables are right."""
    import inspect

    import keras

    wrong = []
    for old_class, new_class in CLASSES.items():
        cls = getattr(keras.layers, new_class, None)
        if cls is None:
            wrong.append(f"keras.layers has no {new_class} (for Keras 1's {old_class})")
            continue
        params = set(inspect.signature(cls).parameters)
        for old, new in ARGS[old_class].items():
            if new.isidentifier() and new not in params:
                wrong.append(f"keras.layers.{new_class} takes no {new!r} (for Keras 1's {old!r})")
            if old != new and old in params:
                wrong.append(f"keras.layers.{new_class} still takes Keras 1's {old!r}")
    return wrong
