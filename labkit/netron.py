"""Netron from a notebook: a saved model's graph, drawn by Netron's own page, served on this machine.

    >>> from labkit.netron import Netron
    >>> view = Netron("runs/onnx/pytorch.onnx").start()   # a free port on 127.0.0.1 only
    >>> view.show()                                         # the page, inline (an IFrame)
    >>> view.stop()

Netron (the ``netron`` package on PyPI) is a viewer for model files of many toolkits: ONNX,
Keras archives, PyTorch files, Caffe's prototxt and caffemodel, MXNet's symbol JSON, Paddle's
programs. Its Python package serves one file and its web page (all of it inside the package:
nothing is fetched from the internet). Here it runs as a child process, ``netron FILE --host
127.0.0.1 --port N``, with ``labkit.localserver`` doing what it does for TensorBoard: a free
port, a bounded wait for the first answer, a clean stop. The page asks the server for the
file by the name Netron gives it; ``served_file()`` fetches the same bytes, so a test can tell
that the server serves the file it was given.

A file Netron would not open raises ``NetronError`` before anything starts: missing, empty, or
a kind Netron does not read (``KINDS``). Where the server cannot run (no ``netron`` package,
no free port, a start-up that does not answer), ``labkit.interchange.onnxfiles.summary`` gives
the graph as text; chapter 31 falls back to it.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from labkit import localserver

#: File name endings Netron reads, among those this workbook writes (Netron reads many more).
KINDS = (".onnx", ".keras", ".h5", ".pt", ".pt2", ".pth", ".prototxt", ".caffemodel", "-symbol.json", ".params",
         ".json", ".pdmodel", ".pdiparams", ".pdparams", ".tflite", ".pb")


class NetronError(localserver.ServerError):
    """Netron could not do what was asked; the message says why and what to do."""


class PortInUse(NetronError, localserver.PortInUse):
    """Something already listens on the port asked for."""


class NotInstalled(NetronError):
    """The netron package is missing from this Python."""


class StartupFailed(NetronError, localserver.StartupFailed):
    """The server exited, or did not answer, during its start-up."""


class Netron(localserver.LocalServer):
    """Netron serving ``path`` on 127.0.0.1 (``port=None``: a free port)."""

    name = "Netron"
    ready_path = ""
    Error, PortInUse, StartupFailed = NetronError, PortInUse, StartupFailed

    def __init__(self, path: str | os.PathLike, *, port: int | None = None, host: str = localserver.HOST,
                 timeout: float = 60.0):
        super().__init__(port=port, host=host, timeout=timeout)
        self.path = Path(path).expanduser().resolve()

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<Netron {state}, {self.path.name}>"

    def check_ready_to_start(self) -> None:
        if importlib.util.find_spec("netron") is None:
            raise NotInstalled(f"Netron is not installed in this Python ({sys.executable}): pip install netron "
                               "(it is in the workbook's requirements.lock). Without it, "
                               "labkit.interchange.onnxfiles.summary(path) prints an ONNX graph as text.")
        if not self.path.is_file():
            raise NetronError(f"no model file at {self.path} for Netron to show: "
                              + ("it is a folder; pass one file in it" if self.path.is_dir() else "no such file"))
        if self.path.stat().st_size == 0:
            raise NetronError(f"{self.path} is empty (0 bytes): there is nothing for Netron to draw; write it again")
        if not self.path.name.endswith(KINDS):
            raise NetronError(f"{self.path.name}: Netron reads model files ending {', '.join(KINDS)} (and more); "
                              "this is none of them. Pass the model file itself.")

    def command(self) -> list[str]:
        # the netron package has no __main__: call its main() the way its console script does
        return [sys.executable, "-c", "import sys, netron; sys.argv[0] = 'netron'; netron.main()",
                str(self.path), "--host", self.host, "--port", str(self.port), "--verbosity", "quiet"]

    def served_file(self) -> bytes:
        """The model file as the server hands it to its page (the page asks for it by name)."""
        if not self.running:
            raise NetronError("Netron is not running: call start() first (or use `with`).")
        url = f"{self.url}data/{urllib.parse.quote(self.path.name)}"
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read()
