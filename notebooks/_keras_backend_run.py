"""Run chapter 11's Keras LeNet on one backend, in this fresh process, and print the results.

    python notebooks/_keras_backend_run.py torch [notebooks/11_keras.ipynb]

The code that runs is the notebook's own: its cells tagged ``lenet`` (the model, the layout
conversion, the training step) and ``keras-driver`` (training, evaluation, speed, saving,
records). The last line printed is the results as JSON; 11_keras.ipynb reads it.
"""
import json
import os
import sys
from pathlib import Path

BACKENDS = ("tensorflow", "torch", "jax")


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[1] not in BACKENDS:
        print(f"usage: python {Path(argv[0]).name} {{{','.join(BACKENDS)}}} [notebook]", file=sys.stderr)
        return 2
    if "keras" in sys.modules:
        raise RuntimeError("keras is already imported, so its backend can no longer be chosen")
    os.environ["KERAS_BACKEND"] = argv[1]                # before keras is imported, always
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")      # see the notebook, section 1
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = Path(argv[2]) if len(argv) == 3 else Path(__file__).with_name("11_keras.ipynb")

    from labkit import chapters

    namespace = chapters.load(notebook)                  # executes the lenet cells
    driver = chapters.tagged_source(notebook, "keras-driver")
    exec(compile(driver, f"{notebook}[keras-driver cells]", "exec"), namespace)
    results = namespace["run_backend"]()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
