"""The TensorFlow Playground inside Jupyter: a small network learning a 2-D dataset live.

The core imports NumPy only and never a widget library or a toolkit:
``datasets`` (the six datasets), ``features`` (the seven inputs), ``network`` (the net and
the original's training rule), ``state`` (the configuration and its short string),
``experiment`` (everything the page does, without a screen), ``render`` (NumPy drawing).
``engines`` holds the NumPy, PyTorch, Keras and JAX trainers; ``widget`` the ipywidgets
view; ``bench`` the redraw benchmark (``python -m labkit.playground.bench``).

    from labkit.playground import Playground
    Playground("dataset=xor&networkShape=4,4,2")     # shows the widget in a notebook
"""
from .experiment import Experiment
from .state import State, StateError, from_string, to_string

__all__ = ["Experiment", "Playground", "State", "StateError", "from_string", "to_string"]


def __getattr__(name):
    if name == "Playground":           # imports ipywidgets only when asked for
        from .widget import Playground
        return Playground
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
