"""TensorBoard from a notebook: a server the notebook starts and stops, and what its logs hold.

    >>> from labkit import tensorboard
    >>> logs = tensorboard.log_dir(runs_dir() / "tensorflow" / "tensorboard")  # made, checked writable
    >>> writer = tensorboard.summary_writer(logs / "quick")     # tf.summary's writer for one run
    >>> with tensorboard.TensorBoard(logs) as board:           # a free port on 127.0.0.1 only
    ...     board.show()                                       # the page, inline (an IFrame)
    >>> tensorboard.read_scalars(logs / "quick")               # {"loss": [(0, 2.31), ...], ...}

The server is ``python -m tensorboard.main`` in a process group of its own (TensorBoard may
start a second process, its data server), so ``stop()`` ends both; so does leaving the
``with`` block, or the Python that started it exiting (``labkit.localserver`` does the
process handling, for Netron too). It listens on 127.0.0.1: only this
machine can reach it. Every failure raises a ``TensorBoardError`` that says what was wrong
and how to fix it: ``PortInUse``, ``LogDirNotWritable``, ``NotInstalled`` (TensorBoard, or
TensorFlow where logs are written), ``StartupFailed``.

Reading logs needs only the ``tensorboard`` package (its event reader), not TensorFlow.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

from labkit import localserver

HOST = localserver.HOST


class TensorBoardError(localserver.ServerError):
    """TensorBoard could not do what was asked; the message says why and what to do."""


class PortInUse(TensorBoardError, localserver.PortInUse):
    """Something already listens on the port asked for."""


class LogDirNotWritable(TensorBoardError):
    """The log folder cannot be created or written to."""


class NotInstalled(TensorBoardError):
    """TensorBoard (to show logs) or TensorFlow (to write them) is missing from this Python."""


class StartupFailed(TensorBoardError, localserver.StartupFailed):
    """The server exited, or did not answer, during its start-up."""


# --- the log folder and the writer --------------------------------------------------------------

def log_dir(path: str | os.PathLike) -> Path:
    """``path`` as a folder that exists and takes files (made if missing); LogDirNotWritable if not."""
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".labkit-write-check-"):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise LogDirNotWritable(
            f"cannot write TensorBoard logs to {path}: {reason}. Pick a folder you can write to "
            f"(pass another path, or set LABKIT_RUNS to move labkit's runs folder), or give yourself "
            f"write permission on it (look at `ls -ld {path}`).") from None
    return path


def summary_writer(path: str | os.PathLike):
    """``tf.summary.create_file_writer`` for one run's folder, after checking the folder is writable."""
    path = log_dir(path)
    try:
        import tensorflow as tf
    except ModuleNotFoundError:
        raise NotInstalled(
            "writing TensorBoard logs needs TensorFlow (tf.summary), which is not installed in this "
            f"Python ({sys.executable}): pip install tensorflow (tensorflow-cpu on a machine without "
            "a GPU). Colab has it preinstalled.") from None
    return tf.summary.create_file_writer(str(path))


# --- reading the logs back -----------------------------------------------------------------------

def _accumulator(path: str | os.PathLike):
    if importlib.util.find_spec("tensorboard") is None:
        raise NotInstalled(_no_tensorboard())
    from tensorboard.backend.event_processing import event_accumulator as ea

    path = Path(path).expanduser()
    if not any(path.glob("events.out.tfevents.*")):
        raise FileNotFoundError(f"no TensorBoard event file (events.out.tfevents.*) in {path}; "
                                "pass the folder of one run, the one its summary writer wrote to")
    keep_all = {ea.TENSORS: 0, ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.IMAGES: 0}
    return ea.EventAccumulator(str(path), size_guidance=keep_all).Reload()


def read_scalars(path: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """Every scalar a run logged, read back from its event files: ``{tag: [(step, value), ...]}``.

    TensorFlow 2 writes a scalar as a tensor with the ``scalars`` plugin's mark; TensorFlow 1 and
    other writers as a plain scalar value. Both are read.
    """
    acc = _accumulator(path)
    from tensorboard.util import tensor_util

    out = {tag: [(e.step, float(e.value)) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    for tag in acc.Tags()["tensors"]:
        if acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars":
            out[tag] = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
    return out


def contents(path: str | os.PathLike) -> dict[str, list[str]]:
    """What a run's event files hold, by TensorBoard dashboard: ``{"scalars": [tags], "histograms":
    [...], "images": [...], "graphs": [...]}`` (a traced graph shows up under "graphs")."""
    acc = _accumulator(path)
    tags = acc.Tags()
    out: dict[str, list[str]] = {"scalars": list(tags["scalars"]), "histograms": list(tags["histograms"]),
                                 "images": list(tags["images"]), "graphs": []}
    plugin_to_kind = {"scalars": "scalars", "histograms": "histograms", "images": "images",
                      "graph_run_metadata_graph": "graphs", "graph_keras_model": "graphs"}
    for tag in tags["tensors"]:
        kind = plugin_to_kind.get(acc.SummaryMetadata(tag).plugin_data.plugin_name)
        if kind:
            out[kind].append(tag)
    if tags.get("graph"):
        out["graphs"].append("(graph_def)")
    return {k: sorted(v) for k, v in out.items()}


# --- the server ---------------------------------------------------------------------------------

def _no_tensorboard() -> str:
    return (f"TensorBoard is not installed in this Python ({sys.executable}): pip install tensorboard "
            "(recent TensorFlow releases no longer install it; Colab has it preinstalled).")


free_port = localserver.free_port


class TensorBoard(localserver.LocalServer):
    """A TensorBoard server for ``logdir`` on 127.0.0.1, started by ``start()`` (or ``with``) and
    ended by ``stop()``. ``port=None`` takes a free port; ``timeout`` bounds the start-up wait.
    The process handling is ``labkit.localserver``'s, shared with Netron."""

    name = "TensorBoard"
    ready_path = "data/environment"
    Error, PortInUse, StartupFailed = TensorBoardError, PortInUse, StartupFailed

    def __init__(self, logdir: str | os.PathLike, *, port: int | None = None, host: str = HOST,
                 timeout: float = 90.0, reload_interval: float = 2.0):
        super().__init__(port=port, host=host, timeout=timeout)
        self.logdir, self.reload_interval = Path(logdir).expanduser(), reload_interval

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<TensorBoard {state}, logdir {self.logdir}>"

    def check_ready_to_start(self) -> None:
        if importlib.util.find_spec("tensorboard") is None:
            raise NotInstalled(_no_tensorboard())
        if not self.logdir.is_dir():
            log_dir(self.logdir)           # made now, so the page can fill in as logs arrive

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tensorboard.main", "--logdir", str(self.logdir), "--host", self.host,
                "--port", str(self.port), "--reload_interval", str(self.reload_interval)]

    def environment(self) -> dict:
        return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
