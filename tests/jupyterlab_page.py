"""What the browser tests share: a JupyterLab of their own on 127.0.0.1, Debian's Chromium
through Playwright, running every cell of a notebook from the Run menu, and reading numbers
off the page.

``tests/test_playground_browser.py`` and ``tests/test_convnetjs_browser.py`` use it. The
server gets its own config, settings, workspace and runtime folders, a token, a free port,
news and update checks off, and ``LABKIT_QUICK=1``; it and its kernels are shut down at the end.
Without /usr/bin/chromium or the playwright package the test is skipped, except under
``CI=true``, where that is a failure.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labkit.localserver import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def need_browser():
    missing = [what for what, ok in [
        (f"{CHROMIUM} (apt-get install chromium, or `make system-deps`)", CHROMIUM.exists()),
        ("the playwright package (it is in requirements.lock)",
         importlib.util.find_spec("playwright") is not None)] if not ok]
    if not missing:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the browser test cannot run: missing {'; '.join(missing)}")
    pytest.skip(f"missing {'; '.join(missing)}")


def _get(url: str, timeout: float = 2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


@contextlib.contextmanager
def jupyterlab(notebook: Path, tmp_path: Path, name: str | None = None):
    """A JupyterLab on 127.0.0.1 serving a copy of ``notebook`` (as ``name``); yields (url, token, tmp_path)."""
    need_browser()
    import psutil

    work = tmp_path / "lab"
    work.mkdir()
    shutil.copy(notebook, work / (name or notebook.name))
    config, settings = tmp_path / "config", tmp_path / "settings"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    notify = settings / "@jupyterlab" / "apputils-extension"
    notify.mkdir(parents=True)
    (notify / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "LABKIT_QUICK": "1"}
    token, port = secrets.token_hex(16), free_port()
    log = open(tmp_path / "jupyterlab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate"]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{url}/api/status?token={token}")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start; its log:\n{(tmp_path / 'jupyterlab.log').read_text()[-3000:]}")
            time.sleep(0.3)
        yield url, token, tmp_path
    finally:
        started = [server] + [psutil.Process(c.pid) for c in psutil.Process(server.pid).children(recursive=True)] \
            if server.poll() is None else [server]
        try:
            req = urllib.request.Request(f"{url}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(req, timeout=5)
        except OSError:
            pass
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)
        for proc in started[1:]:          # kernels the server started, if any outlived it
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        log.close()


def run_all_cells(page, url: str, token: str, name: str, n_code: int, timeout_ms: int = 150_000) -> None:
    """Open notebook ``name`` in the lab, run every cell from the Run menu, wait for all ``n_code``
    code cells to finish, and fail on a widget error or a Python traceback shown in the page."""
    page.goto(f"{url}/lab/tree/{name}?token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    # A "Select Kernel" dialog can come up on first open: Enter accepts the default.
    page.wait_for_timeout(1500)
    if page.locator(".jp-Dialog").count():
        page.keyboard.press("Enter")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                           "[data-status='idle']", timeout=60_000)
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click()
    done = """n => {
        const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
        return p.length === n && p.every(t => /\\[\\d+\\]/.test(t));
    }"""
    page.wait_for_function(done, arg=n_code, timeout=timeout_ms)
    text = page.locator(".jp-Notebook").inner_text()
    assert "Error displaying widget" not in text
    assert "Traceback (most recent call last)" not in text, "a cell failed in the browser"


def number(page, selector, timeout_ms: int = 20_000) -> float:
    """The number shown in the first element matching ``selector`` (waits until one is shown)."""
    # Read the text in the same step that sees a digit in it: the page replaces these
    # labels while it trains, so a second look can land between two updates and find ''.
    shown = page.wait_for_function(
        "s => { const t = (document.querySelector(s) || {}).textContent || ''; return /[0-9]/.test(t) ? t : null; }",
        arg=selector, timeout=timeout_ms)
    return float(re.sub(r"[^0-9.\-]", "", shown.json_value()))


def keep_in_runs(name: str, screenshot: Path, figures: dict) -> None:
    """Keep a browser test's screenshot and printed figures under the workbook's ``runs/``
    (``runs/NAME.png``, ``runs/NAME.json``, the machine's load average added)."""
    runs = Path(__file__).resolve().parents[1] / "runs"
    runs.mkdir(exist_ok=True)
    shutil.copy(screenshot, runs / f"{name}.png")
    (runs / f"{name}.json").write_text(json.dumps({**figures, "load_average": os.getloadavg()}))
