"""The workbook's Node side: find Node, check it and ConvNetJS, and talk to a ConvNetJS net.

    >>> from labkit import node
    >>> node.check()                      # raises NodeNotReady saying what to run, else None
    >>> node.versions()                   # {'node': '20.20.2', 'convnetjs': '0.3.0'}
    >>> with node.Worker() as w:          # a Node process holding one convnetjs.Net
    ...     w.call("build", defs=[...])

ConvNetJS is JavaScript, so the ConvNetJS chapter (``notebooks/18_convnetjs.ipynb``) runs
its net in a Node process: ``js/lenet_worker.js``, beside ``js/package.json`` and the
``js/package-lock.json`` that pins ``convnetjs``. ``make setup`` runs ``npm ci`` there
(``tools/setup.sh``); Node itself comes from the system (``make system-deps``).

The protocol is JSON lines both ways (``Worker.call``): one request, one reply, arrays as
base64 (``b64`` / ``from_b64``). The device table asks this module the questions it asks
a Python toolkit's module (``labkit.probes.CONVNETJS``), so its ``__version__`` is the
installed ConvNetJS's. ``python -m labkit.node`` prints what is ready and what to run.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import threading
import weakref
from collections import deque
from pathlib import Path

import numpy as np

from labkit import paths

#: The oldest Node the worker runs on (Debian 11 and Ubuntu 22.04 ship Node 12).
MIN_NODE = (12, 0)
PACKAGE = "convnetjs"
WORKER = "lenet_worker.js"
_SETUP = "run `make setup` in the workbook's folder (or `npm ci --prefix js`)"


class NodeNotReady(RuntimeError):
    """Node or ConvNetJS is missing or unusable here; the message says what to run."""


def js_dir() -> Path:
    """The workbook's ``js/`` folder (package.json, the lock file, the worker)."""
    root = paths.repo_root()
    if root is None or not (root / "js" / WORKER).is_file():
        raise NodeNotReady("the ConvNetJS chapter needs the workbook's js/ folder (its Node worker and "
                           "package-lock.json), which an installed labkit does not carry: clone the "
                           "workbook and run `make setup` there.")
    return root / "js"


def find_node() -> str | None:
    """The ``node`` executable on PATH (Debian once called it ``nodejs``), or None."""
    return shutil.which("node") or shutil.which("nodejs")


def parse_version(text: str) -> tuple[int, ...]:
    """'v20.20.2' -> (20, 20, 2); a clear ValueError for anything else."""
    m = re.fullmatch(r"\s*v?(\d+)\.(\d+)\.(\d+)\S*\s*", text)
    if not m:
        raise ValueError(f"not a Node version: {text!r}")
    return tuple(int(g) for g in m.groups())


def node_version(exe: str) -> tuple[int, ...]:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    return parse_version(out.stdout)


def _lock_version(folder: Path) -> str | None:
    try:
        lock = json.loads((folder / "package-lock.json").read_text())
    except (OSError, ValueError):
        return None
    return (lock.get("packages", {}).get(f"node_modules/{PACKAGE}")
            or lock.get("dependencies", {}).get(PACKAGE) or {}).get("version")


def installed_version(folder: Path | None = None) -> str | None:
    """The ConvNetJS version in ``js/node_modules``, or None when it is not installed there."""
    try:
        folder = folder or js_dir()
        return json.loads((folder / "node_modules" / PACKAGE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError, NodeNotReady):
        return None


def problem(exe: str | None = None, folder: Path | None = None) -> str | None:
    """What stops the ConvNetJS chapter here, as a message saying what to run; None when ready."""
    exe = exe or find_node()
    if exe is None:
        return ("Node.js was not found on PATH. The ConvNetJS chapter runs its net in Node: install "
                "it with `make system-deps` (Debian/Ubuntu: apt-get install nodejs npm), then "
                + _SETUP + ".")
    try:
        have = node_version(exe)
    except (OSError, ValueError, subprocess.SubprocessError) as err:
        return f"{exe} did not report a Node version ({err}); reinstall Node (`make system-deps`)."
    if have[:2] < MIN_NODE:
        return (f"Node {'.'.join(map(str, have))} at {exe} is too old: the ConvNetJS worker needs Node "
                f"{MIN_NODE[0]} or newer. Install a newer nodejs (Debian 12 ships 18), then " + _SETUP + ".")
    try:
        folder = folder or js_dir()
    except NodeNotReady as err:
        return str(err)
    got, want = installed_version(folder), _lock_version(folder)
    if got is None:
        return (f"ConvNetJS is not installed in {folder / 'node_modules'} (`npm ci` has not run): " + _SETUP
                + ". It installs the version package-lock.json pins, with no global install.")
    if want and got != want:
        return (f"{folder / 'node_modules'} holds convnetjs {got} but package-lock.json pins {want}: " + _SETUP
                + " to install the pinned version.")
    return None


def check() -> None:
    """Raise ``NodeNotReady`` (with what to run) unless Node and the pinned ConvNetJS are ready."""
    why = problem()
    if why:
        raise NodeNotReady(why)


def versions() -> dict[str, str | None]:
    """Node's and ConvNetJS's versions (None for what is missing), without starting a worker."""
    exe = find_node()
    try:
        node = ".".join(map(str, node_version(exe))) if exe else None
    except (OSError, ValueError, subprocess.SubprocessError):
        node = None
    return {"node": node, PACKAGE: installed_version()}


def __getattr__(name):            # PEP 562: the device table reads a toolkit's __version__
    if name == "__version__":
        version = installed_version()
        if version is not None:
            return version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def library_source(minified: bool = False) -> str:
    """The text of ConvNetJS's browser build (``convnet.js``), e.g. to inline into a page."""
    check()
    name = "convnet-min.js" if minified else "convnet.js"
    return (js_dir() / "node_modules" / PACKAGE / "build" / name).read_text()


def runtime_files() -> list[Path]:
    """The Node runtime on disk: the executable, and the ``libnode`` Debian splits out of it."""
    exe = find_node()
    if exe is None:
        return []
    files = [Path(exe).resolve()]
    try:
        linked = subprocess.run(["ldd", str(files[0])], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        linked = ""
    files += [Path(m).resolve() for m in re.findall(r"=>\s*(\S*libnode\S*)", linked)]
    return files


def installed_size(packages=(PACKAGE,)) -> dict:
    """What a Node row needs on disk beyond the Python environment, in the shape of
    ``labkit.compare.installed_size``'s answer: the npm ``packages`` in ``js/node_modules``
    (JavaScript source, ``script_bytes``) and the Node runtime (native code)."""
    script, names = 0, []
    for name in packages:
        folder = js_dir() / "node_modules" / name
        if folder.is_dir():
            script += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            names.append(name)
    runtime = runtime_files()
    native = sum(f.stat().st_size for f in runtime)
    return {"bytes": script + native, "python_bytes": 0, "native_bytes": native, "script_bytes": script,
            "language": "JavaScript", "runtime": [str(f) for f in runtime], "distributions": names}


# --- arrays over the pipe ------------------------------------------------------------------

def b64(array: np.ndarray, dtype=np.float32) -> str:
    """A C-ordered array's bytes (little-endian ``dtype``) as base64 text."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode()


def from_b64(text: str, shape, dtype=np.float64) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape).copy()


# --- the worker process ----------------------------------------------------------------------

_LIVE: "weakref.WeakSet[Worker]" = weakref.WeakSet()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            proc.stdin.close()           # the worker exits when its input ends
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


class Worker:
    """A Node process running ``js/lenet_worker.js``: ``call(op, **fields) -> reply``.

    It holds one ConvNetJS net and its optimiser state; it stops with ``close()``, at the
    end of a ``with`` block, when the object is collected, or when Python exits."""

    def __init__(self, script: str | Path | None = None):
        check()
        script = Path(script) if script else js_dir() / WORKER
        self._tail: deque[str] = deque(maxlen=20)
        self._ids = 0
        self.proc = subprocess.Popen([find_node(), str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=str(script.parent), bufsize=1)
        threading.Thread(target=self._drain, daemon=True).start()
        self._finalizer = weakref.finalize(self, _stop, self.proc)
        _LIVE.add(self)

    def _drain(self):
        for line in self.proc.stderr:
            self._tail.append(line.rstrip())

    def call(self, op: str, **fields) -> dict:
        """Send one request and return the reply; RuntimeError with the worker's words if it fails."""
        if self.proc.poll() is not None:
            raise RuntimeError(self._died(f"the Node worker has exited (code {self.proc.returncode})"))
        self._ids += 1
        try:
            self.proc.stdin.write(json.dumps({"id": self._ids, "op": op, **fields}) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError) as err:
            raise RuntimeError(self._died(f"the Node worker stopped while reading {op!r} ({err})")) from None
        if not line:
            self.proc.wait(timeout=5)
            raise RuntimeError(self._died(f"the Node worker exited during {op!r} (code {self.proc.returncode})"))
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"ConvNetJS worker, {op!r}: {reply.get('error')}")
        return reply

    def _died(self, what: str) -> str:
        last = [ln for ln in self._tail if ln.strip()][-8:]
        return what + (". Its last output:\n" + "\n".join(last) if last else "")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close(self) -> None:
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def close_all() -> None:
    """Stop every worker this process started (the compare worker does, to read Node's peak memory)."""
    for w in list(_LIVE):
        w.close()



def main() -> int:
    why = problem()
    v = versions()
    print(f"node: {v['node'] or 'not found'} ({find_node() or 'not on PATH'}); {PACKAGE}: "
          f"{v[PACKAGE] or 'not installed'}")
    print(why or "ready: the ConvNetJS chapter can run here")
    return 1 if why else 0


if __name__ == "__main__":
    raise SystemExit(main())
