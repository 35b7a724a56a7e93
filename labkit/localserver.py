"""A web server a notebook starts on this machine, shows inline, and stops: what TensorBoard
(``labkit.tensorboard``) and Netron (``labkit.netron``) have in common.

``LocalServer`` runs a command as a child process in a process group of its own (so ``stop()``
ends whatever it started too), on a free port of 127.0.0.1 unless told otherwise (only this
machine can reach it), waits a bounded time for its first answer, keeps its output in a
temporary file for error messages, and stops it when asked, when a ``with`` block ends, or
when the Python that started it exits. A subclass gives the command (``command()``), the
page that answers once it is ready (``ready_path``), and its own error classes; every
failure raises one of them with what was wrong and what to do.
"""
from __future__ import annotations

import atexit
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


class ServerError(RuntimeError):
    """A local server could not do what was asked; the message says why and what to do."""


class PortInUse(ServerError):
    """Something already listens on the port asked for."""


class StartupFailed(ServerError):
    """The server exited, or did not answer, during its start-up."""


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on at the moment (the system picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class LocalServer:
    """A server process on ``host``:``port`` (``port=None``: a free one), started by ``start()``
    (or ``with``) and ended by ``stop()``; ``timeout`` bounds the wait for its first answer."""

    name = "the server"                  # in messages
    ready_path = ""                      # the page that answers 200 once it is ready
    Error, PortInUse, StartupFailed = ServerError, PortInUse, StartupFailed

    def __init__(self, *, port: int | None = None, host: str = HOST, timeout: float = 60.0):
        self.host, self.timeout = host, timeout
        self.port, self._asked_port = port, port
        self.process: subprocess.Popen | None = None
        self._log_path: Path | None = None
        self.startup_s: float | None = None

    # --- what a subclass says ---------------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict:
        return dict(os.environ)

    def check_ready_to_start(self) -> None:
        """Raise an error (the subclass's) before anything starts, if something is missing."""

    # --- the common part --------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def check_port(self, port: int) -> None:
        with socket.socket() as s:
            try:
                s.bind((self.host, port))
            except OSError as err:
                raise self.PortInUse(
                    f"port {port} on {self.host} is taken ({err.strerror}): another program, perhaps "
                    f"{self.name} started earlier, listens there. Leave out port= to get a free one, pick "
                    f"another, or stop that program (`lsof -i :{port}` or `ss -ltnp` shows which it is).") from None

    def start(self):
        """Start the server and wait (at most ``timeout`` s) until it answers; return self."""
        if self.running:
            return self
        self.check_ready_to_start()
        for attempt in range(3):
            self.port = self._asked_port or free_port(self.host)
            try:
                self.check_port(self.port)
                self._spawn()
                return self
            except self.PortInUse:             # another program took our free port first: try another
                if self._asked_port or attempt == 2:
                    raise
        return self

    def _spawn(self) -> None:
        fd, name = tempfile.mkstemp(prefix=f"labkit-{type(self).__name__.lower()}-", suffix=".log")
        self._log_path = Path(name)
        start = time.monotonic()
        with os.fdopen(fd, "wb") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=self.environment(),
                                            start_new_session=os.name == "posix")
        atexit.register(self.stop)
        while True:
            if self.answers():
                self.startup_s = time.monotonic() - start
                return
            if self.process.poll() is not None:
                tail = self.log_tail()
                code = self.process.returncode
                self.stop()
                if "already in use" in tail or "could not bind" in tail.lower():
                    raise self.PortInUse(f"{self.name} could not listen on {self.host}:{self.port}: the port "
                                         "was taken while it started. Start it again (leave out port= to get "
                                         f"a free one). Its last lines:\n{tail}")
                raise self.StartupFailed(f"{self.name} exited during start-up (code {code}). "
                                         f"Its last lines:\n{tail}")
            if time.monotonic() - start > self.timeout:
                tail = self.log_tail()
                self.stop()
                raise self.StartupFailed(
                    f"{self.name} did not answer at {self.url} within {self.timeout:g} s, so it was stopped. "
                    "On a busy machine it can take longer: pass a larger timeout=. Its last lines:\n"
                    + (tail or "(nothing)"))
            time.sleep(min(0.2, max(0.0, self.timeout - (time.monotonic() - start))) + 0.005)

    def answers(self) -> bool:
        """Does the server answer its ready page with 200?"""
        try:
            with urllib.request.urlopen(f"{self.url}{self.ready_path}", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the server printed (its output goes to a temporary file)."""
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
            elif os.name == "posix":           # the server is gone; what it started may not be
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
                os.killpg(proc.pid, sig)       # its own group: its children go too
            else:
                proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass

    def show(self, height: int = 620):
        """The server's page inline: an IFrame of ``url`` (on Colab, through Colab's port proxy)."""
        if not self.running:
            raise self.Error(f"{self.name} is not running: call start() first (or use `with`).")
        if "google.colab" in sys.modules:      # the browser cannot reach the Colab machine's 127.0.0.1
            from google.colab import output

            output.serve_kernel_port_as_iframe(self.port, height=str(height))
            return None
        from IPython.display import IFrame

        return IFrame(self.url, width="100%", height=height)
