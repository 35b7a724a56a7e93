"""Fixtures shared by labkit's tests: an isolated data cache and HTTP servers on 127.0.0.1."""
from __future__ import annotations

import functools
import http.server
import socket
import threading

import pytest


def pytest_configure(config):
    """Every nbval run of a chapter keeps an executed copy with its outputs in ``runs/executed/``
    (``tests/executed_notebooks.py``): the book (``make book``) is built from them. The ``book``
    marker is the test that builds it, run after the notebooks (``tests/test_book.py``)."""
    import executed_notebooks

    if not config.pluginmanager.is_registered(executed_notebooks):
        config.pluginmanager.register(executed_notebooks, "executed_notebooks")
    config.addinivalue_line("markers", "book: builds the book from runs/executed/; run after the notebooks")
    _share_the_quick_comparison(config)


def _share_the_quick_comparison(config):
    """One quick comparison run for the whole session (``labkit.compare.once``): the
    ``test_compare`` fixture and chapter 40 both ask for it, and it costs minutes. Set up by
    the controlling process only; xdist's workers, and the kernels nbval starts, inherit it."""
    import os
    import shutil
    import tempfile

    from labkit.compare import once

    if hasattr(config, "workerinput") or os.environ.get(once.VAR):
        return
    where = tempfile.mkdtemp(prefix="labkit-compare-once-")
    os.environ[once.VAR] = where
    config.add_cleanup(lambda: (os.environ.pop(once.VAR, None), shutil.rmtree(where, ignore_errors=True)))


def pytest_collection_modifyitems(config, items):
    """Every nbval item (a chapter's cell) carries the ``notebooks`` marker, so tiers can leave them out.
    Chapter 40's cells get a longer time limit: its run cell may wait for the shared quick run
    (``labkit.compare.once``) that ``tests/test_compare.py`` started, then its own turn."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebooks)
        if item.path.name == "40_compare.ipynb":   # its run cell may wait for the session's shared run
            item.add_marker(pytest.mark.timeout(2400))


@pytest.fixture
def isolated_data(tmp_path, monkeypatch):
    """A fresh, empty ``$LABKIT_CACHE`` under tmp_path; no data variables from the caller leak in."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("LABKIT_CACHE", str(cache))
    for var in ("LABKIT_DATA", "LABKIT_MIRRORS", "LABKIT_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    return cache


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.server.requested.append(self.path)
        super().do_GET()


@pytest.fixture
def http_server():
    """``serve(folder) -> (base_url, requested_paths)``: a static file server on 127.0.0.1."""
    servers = []

    def serve(folder):
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_Handler, directory=str(folder)))
        server.requested = []
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/", server.requested

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dead_url():
    """A URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
