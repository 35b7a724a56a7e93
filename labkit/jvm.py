"""A Java runtime, and the H2O server a notebook runs in it: found, checked, started, stopped.

    >>> from labkit import jvm
    >>> jvm.java_info()                    # JavaInfo(path=..., major=17, text='openjdk version "17.0.15" ...')
    >>> with jvm.H2OServer(max_mem="1g") as server:
    ...     server.connect()               # the h2o client, talking to this server only
    ...     ...                            # train; a failing cell still leaves through the with
    >>> jvm.java_processes()               # [] : no JVM of ours is left running

H2O-3's Python package (``h2o`` on PyPI) bundles the server, ``h2o.jar``, and normally
starts it itself (``h2o.init()``). Here ``labkit.localserver`` starts it instead, the way it
starts TensorBoard and Netron: ``java -Xmx<max_mem> -jar h2o.jar`` on a free port of
127.0.0.1 (H2O also takes the port above it for its own node-to-node traffic, so both must be
free), a bounded wait for its REST API (``/3/Cloud``) to answer, its output in a temporary
file for error messages, and a clean stop (SIGTERM to its process group, SIGKILL after a
grace period) when the ``with`` block ends, whatever raised inside it, or when Python exits.

Java is looked for in ``$JAVA_HOME/bin`` first, then on ``PATH``. ``h2o.jar`` 3.46 runs on
Java 8 to 17 (``water.JavaVersionSupport``: ``MIN_SUPPORTED_JAVA_VERSION = 8``,
``MAX_SUPPORTED_JAVA_VERSION = 17``; outside that it exits with code 3), so another version
is refused here, before anything starts, with what to install. Every failure raises a
``JVMError`` subclass saying what was wrong and what to do: ``JavaNotFound``,
``UnsupportedJava``, ``PortInUse``, ``OutOfMemory`` (``max_mem`` too small to start, or to
hold what a job needs), ``StartupFailed`` (it exited, or did not answer in time).
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import NamedTuple

from labkit import localserver

#: Java versions h2o.jar 3.46 accepts (its water.JavaVersionSupport).
H2O_JAVA = (8, 17)
#: What to install where Java is missing or unsupported (Debian/Ubuntu).
INSTALL_HINT = ("On Debian or Ubuntu `make system-deps` installs it (as root: apt-get install "
                "openjdk-17-jre-headless); elsewhere install a Java 17 runtime (e.g. Eclipse Temurin 17) "
                "and set JAVA_HOME to it.")
#: What a JVM prints when its heap (-Xmx) is too small to start or to go on.
OOM_MARKERS = ("java.lang.OutOfMemoryError", "Too small maximum heap", "Too small initial heap",
               "Could not reserve enough space")
MAX_MEM = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")


class JVMError(localserver.ServerError):
    """Java or the server in it could not do what was asked; the message says why and what to do."""


class JavaNotFound(JVMError):
    """No java executable in $JAVA_HOME/bin or on PATH."""


class UnsupportedJava(JVMError):
    """A Java whose version the server does not run on, or whose version cannot be read."""


class PortInUse(JVMError, localserver.PortInUse):
    """Something already listens on the port asked for (or on the one above it)."""


class StartupFailed(JVMError, localserver.StartupFailed):
    """The server exited, or did not answer, during its start-up."""


class OutOfMemory(JVMError):
    """The JVM's heap (max_mem, its -Xmx) was too small to start or to finish a job."""


class JavaInfo(NamedTuple):
    path: str
    major: int
    text: str       # the first line `java -version` prints


# --- Java ----------------------------------------------------------------------------------------

def find_java() -> str:
    """The java executable: ``$JAVA_HOME/bin/java`` if JAVA_HOME is set, else the first on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / ("java.exe" if os.name == "nt" else "java")
        if java.is_file() and os.access(java, os.X_OK):
            return str(java)
        raise JavaNotFound(f"JAVA_HOME is {home}, but there is no java executable at {java}. Point JAVA_HOME "
                           "at a Java installation (the folder holding bin/java) or unset it to use java from "
                           "PATH. " + INSTALL_HINT)
    found = shutil.which("java")
    if found is None:
        raise JavaNotFound("no Java found: JAVA_HOME is not set and there is no `java` on PATH. H2O's server "
                           "is a Java program. " + INSTALL_HINT)
    return found


def parse_java_version(text: str) -> int:
    """The major version in what ``java -version`` prints: '"17.0.15"' -> 17, '"1.8.0_412"' -> 8."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?[^"]*"', text)
    if match is None:
        raise UnsupportedJava(f"cannot read a Java version in what `java -version` printed: {text.strip()[:200]!r}. "
                              + INSTALL_HINT)
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    return minor if major == 1 else major          # "1.8" is Java 8


def java_info(java: str | None = None) -> JavaInfo:
    """Which Java runs: its path, major version and the first line of ``java -version``."""
    java = java or find_java()
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise JavaNotFound(f"{java} did not run (`java -version`: {err}). " + INSTALL_HINT) from None
    text = (proc.stderr or proc.stdout).strip()
    return JavaInfo(java, parse_java_version(text), text.splitlines()[0] if text else "")


def check_java(supported: tuple[int, int] = H2O_JAVA, java: str | None = None) -> JavaInfo:
    """``java_info()``, raising ``UnsupportedJava`` outside ``supported`` (inclusive)."""
    info = java_info(java)
    low, high = supported
    if not low <= info.major <= high:
        raise UnsupportedJava(f"{info.path} is Java {info.major} ({info.text}); h2o.jar 3.46 runs on Java "
                              f"{low} to {high} only. " + INSTALL_HINT
                              + " With several Javas installed, set JAVA_HOME to a supported one.")
    return info


# --- H2O's server ------------------------------------------------------------------------------

def h2o_jar() -> Path:
    """h2o.jar as the h2o package finds it: ``$H2O_JAR_PATH``, else inside the package (no import)."""
    own = os.environ.get("H2O_JAR_PATH")
    if own:
        if not Path(own).is_file():
            raise JVMError(f"H2O_JAR_PATH is {own}, but no file is there: unset it to use the h2o package's "
                           "own h2o.jar, or point it at one.")
        return Path(own)
    spec = find_spec("h2o")
    if spec is None or not spec.submodule_search_locations:
        raise JVMError("the h2o package is not installed in this Python: pip install h2o==3.46.0.12 "
                       "(the workbook's JVM group; it bundles h2o.jar, about 270 MB).")
    jar = Path(list(spec.submodule_search_locations)[0]) / "backend" / "bin" / "h2o.jar"
    if not jar.is_file():
        raise JVMError(f"the h2o package has no server at {jar}: this is the client-only package "
                       "(h2o_client?). Install `h2o`, which bundles h2o.jar.")
    return jar


class H2OServer(localserver.LocalServer):
    """H2O's server in a JVM of its own on 127.0.0.1 (``port=None``: a free port), with a heap of
    ``max_mem`` ('1g', '512m': Java's -Xmx) and ``nthreads`` worker threads (None: all cores)."""

    name = "the H2O server"
    ready_path = "3/Cloud"
    Error, PortInUse, StartupFailed = JVMError, PortInUse, StartupFailed

    def __init__(self, *, max_mem: str = "1g", nthreads: int | None = None, port: int | None = None,
                 host: str = localserver.HOST, timeout: float = 120.0):
        super().__init__(port=port, host=host, timeout=timeout)
        if not isinstance(max_mem, str) or not MAX_MEM.match(max_mem):
            raise ValueError(f"max_mem={max_mem!r}: give Java's -Xmx size as a string, a number with an "
                             "optional unit k, m or g, e.g. '1g' or '512m'.")
        if nthreads is not None and (not isinstance(nthreads, int) or nthreads < 1):
            raise ValueError(f"nthreads={nthreads!r}: give a whole number of threads >= 1, or None for all cores.")
        self.max_mem, self.nthreads = max_mem, nthreads
        self.java: JavaInfo | None = None
        self.connected = False
        self._ice_root: tempfile.TemporaryDirectory | None = None

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<H2OServer {state}, max_mem={self.max_mem}>"

    def check_ready_to_start(self) -> None:
        self.jar = h2o_jar()
        self.java = check_java(H2O_JAVA)

    def check_port(self, port: int) -> None:
        super().check_port(port)
        super().check_port(port + 1)          # H2O's internal port: the web port + 1

    def command(self) -> list[str]:
        self._ice_root = self._ice_root or tempfile.TemporaryDirectory(prefix="labkit-h2o-")
        cmd = [self.java.path, f"-Xmx{self.max_mem}", "-Dsys.ai.h2o.telemetry.disabled=true",
               "-jar", str(self.jar), "-ip", self.host, "-web_ip", self.host, "-port", str(self.port),
               "-name", f"labkit-{os.getpid()}-{self.port}", "-ice_root", self._ice_root.name]
        return cmd + (["-nthreads", str(self.nthreads)] if self.nthreads else [])

    def start(self):
        try:
            return super().start()
        except localserver.StartupFailed as err:
            if any(marker in str(err) for marker in OOM_MARKERS):
                raise self._oom("to start", str(err)) from None
            if "(code 3)" in str(err):
                raise UnsupportedJava(f"h2o.jar refused this Java ({self.java.text}). " + INSTALL_HINT) from None
            raise

    def _oom(self, what: str, output: str) -> OutOfMemory:
        said = [line.strip() for line in output.splitlines() if any(m in line for m in OOM_MARKERS)]
        return OutOfMemory(f"the JVM ran out of memory {what}: max_mem={self.max_mem!r} (Java's -Xmx) is too "
                           "small. Raise max_mem (a job needs several times its data's size in memory), e.g. "
                           "H2OServer(max_mem='2g'). The JVM said: " + " | ".join(said[:2]))

    def check_memory(self) -> None:
        """Raise ``OutOfMemory`` if the server has reported running out of heap so far."""
        if self._log_path is not None and self._log_path.exists():
            text = self._log_path.read_text(errors="replace")
            if any(marker in text for marker in OOM_MARKERS):
                raise self._oom("while working", text)

    def connect(self):
        """Point the ``h2o`` client at this server (quietly, no telemetry); return the h2o module."""
        if not self.running:
            raise JVMError("the H2O server is not running: call start() first (or use `with`).")
        import h2o

        with contextlib.redirect_stdout(io.StringIO()):     # its "your H2O is N months old" notice
            h2o.connect(url=self.url, verbose=False, telemetry=False)
        h2o.no_progress()
        self.connected = True
        return h2o

    def stop(self, timeout: float = 10.0) -> None:
        if self.connected:
            self.connected = False
            try:
                import h2o

                h2o.connection().close()
            except Exception:                    # the client may already be gone; the JVM goes anyway
                pass
        super().stop(timeout)
        if self._ice_root is not None:
            self._ice_root.cleanup()
            self._ice_root = None


def descendants(match, parent: int | None = None) -> list:
    """The living processes under ``parent`` (default: this Python) for which ``match(process)``
    is true, as ``psutil.Process``; [] when none. A process that ends while looked at is skipped."""
    import psutil

    found = []
    for child in psutil.Process(parent or os.getpid()).children(recursive=True):
        try:
            if match(child) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.Error:
            continue
    return found


def java_processes(parent: int | None = None) -> list:
    """The Java processes this Python started (its descendants), as ``psutil.Process``; [] when none."""
    return descendants(lambda p: "java" in p.name().lower(), parent)
