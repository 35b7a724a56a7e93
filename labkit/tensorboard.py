"""TensorBoard from a notebook: a server the notebook starts and stops, and what its logs hold.

    >>> from labkit import tensorboard
    >>> logs = tensorboard.log_dir(runs_dir() / "tensorflow" / "tensorboard")  # made, checked writable
    >>> writer = tensorboard.summary_writer(logs / "quick")     # tf.summary's writer for one run
    >>> with tensorboard.TensorBoard(logs) as board:           # a free port on 127.0.0.1 only
    ...     board.show()                                       # the page, inline (an IFrame)
    >>> tensorboard.read_scalars(logs / "quick")               # {"loss": [(0, 2.31), ...], ...}

The server is ``python -m tensorboard.main`` in a process group of its own (TensorBoard may
start a second process, its data server), so ``stop()`` ends both; so does leaving the
``with`` block, or the Python that started it exiting. It listens on 127.0.0.1: only this
machine can reach it. Every failure raises a ``TensorBoardError`` that says what was wrong
and how to fix it: ``PortInUse``, ``LogDirNotWritable``, ``NotInstalled`` (TensorBoard, or
TensorFlow where logs are written), ``StartupFailed``.

Reading logs needs only the ``tensorboard`` package (its event reader), not TensorFlow.
"""
from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"


class TensorBoardError(RuntimeError):
    """TensorBoard could not do what was asked; the message says why and what to do."""


class PortInUse(TensorBoardError):
    """Something already listens on the port asked for."""


class LogDirNotWritable(TensorBoardError):
    """The log folder cannot be created or written to."""


class NotInstalled(TensorBoardError):
    """TensorBoard (to show logs) or TensorFlow (to write them) is missing from this Python."""


class StartupFailed(TensorBoardError):
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


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on at the moment (the system picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _check_port(host: str, port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as err:
            raise PortInUse(
                f"port {port} on {host} is taken ({err.strerror}): another program, perhaps a TensorBoard "
                "started earlier, listens there. Leave out port= to get a free one, pick another, or stop "
                f"that program (`lsof -i :{port}` or `ss -ltnp` shows which it is).") from None


class TensorBoard:
    """A TensorBoard server for ``logdir`` on 127.0.0.1, started by ``start()`` (or ``with``) and
    ended by ``stop()``. ``port=None`` takes a free port; ``timeout`` bounds the start-up wait."""

    def __init__(self, logdir: str | os.PathLike, *, port: int | None = None, host: str = HOST,
                 timeout: float = 90.0, reload_interval: float = 2.0):
        self.logdir, self.host, self.timeout = Path(logdir).expanduser(), host, timeout
        self.port, self._asked_port, self.reload_interval = port, port, reload_interval
        self.process: subprocess.Popen | None = None
        self._log_path: Path | None = None
        self.startup_s: float | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<TensorBoard {state}, logdir {self.logdir}>"

    def __enter__(self) -> "TensorBoard":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "TensorBoard":
        """Start the server and wait (at most ``timeout`` s) until it answers; return self."""
        if self.running:
            return self
        if importlib.util.find_spec("tensorboard") is None:
            raise NotInstalled(_no_tensorboard())
        if not self.logdir.is_dir():
            log_dir(self.logdir)           # made now, so the page can fill in as logs arrive
        for attempt in range(3):
            self.port = self._asked_port or free_port(self.host)
            try:
                _check_port(self.host, self.port)
                self._spawn()
                return self
            except PortInUse:              # another program took our free port first: try another
                if self._asked_port or attempt == 2:
                    raise
        return self

    def _spawn(self) -> None:
        fd, name = tempfile.mkstemp(prefix="labkit-tensorboard-", suffix=".log")
        self._log_path = Path(name)
        cmd = [sys.executable, "-m", "tensorboard.main", "--logdir", str(self.logdir), "--host", self.host,
               "--port", str(self.port), "--reload_interval", str(self.reload_interval)]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        start = time.monotonic()
        with os.fdopen(fd, "wb") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=env, start_new_session=os.name == "posix")
        atexit.register(self.stop)
        while True:
            if self._answers():
                self.startup_s = time.monotonic() - start
                return
            if self.process.poll() is not None:
                tail = self.log_tail()
                self.stop()
                if "already in use" in tail or "could not bind" in tail.lower():
                    raise PortInUse(f"TensorBoard could not listen on {self.host}:{self.port}: the port was "
                                    "taken while it started. Start it again (leave out port= to get a "
                                    f"free one). Its last lines:\n{tail}")
                raise StartupFailed(f"TensorBoard exited during start-up (code {self.process.returncode}). "
                                    f"Its last lines:\n{tail}")
            if time.monotonic() - start > self.timeout:
                tail = self.log_tail()
                self.stop()
                raise StartupFailed(
                    f"TensorBoard did not answer at {self.url} within {self.timeout:g} s, so it was stopped. "
                    "On a busy machine it can take longer: pass a larger timeout=. Its last lines:\n"
                    + (tail or "(nothing)"))
            time.sleep(0.2)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}data/environment", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def log_tail(self, lines: int = 15) -> str:
        """The last lines TensorBoard printed (its output goes to a temporary file)."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        text = self._log_path.read_text(errors="replace").strip().splitlines()
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """End the server and anything it started (politely, then by force); safe to call twice."""
        proc, self.process = self.process, None
        if proc is not None:
            if proc.poll() is None:
                self._signal(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._signal(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
                    proc.wait(timeout=timeout)
            elif os.name == "posix":       # the server is gone; its data server may not be
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
        atexit.unregister(self.stop)
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    @staticmethod
    def _signal(proc: subprocess.Popen, sig) -> None:
        try:
            if os.name == "posix":
                os.killpg(proc.pid, sig)   # its own group: the data server goes too
            else:
                proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass

    def show(self, height: int = 620):
        """The TensorBoard page inline: an IFrame of ``url`` (on Colab, through Colab's port proxy)."""
        if not self.running:
            raise TensorBoardError("TensorBoard is not running: call start() first (or use `with`).")
        if "google.colab" in sys.modules:  # the browser cannot reach the Colab machine's 127.0.0.1
            from google.colab import output

            output.serve_kernel_port_as_iframe(self.port, height=str(height))
            return None
        from IPython.display import IFrame

        return IFrame(self.url, width="100%", height=height)
