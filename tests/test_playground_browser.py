"""The Playground chapter in a real browser: JupyterLab + Debian's Chromium, driven by Playwright.

A temporary copy of ``notebooks/50_playground.ipynb`` is opened in a JupyterLab started
for this test (127.0.0.1, a free port, a token, its own config, settings and workspace
folders, news and update checks off). The test runs every cell from the Run menu, checks
that the widget rendered (no "Error displaying widget", no Python traceback, the heatmap
image loaded), presses Play, sees the epoch counter move and the training loss fall,
presses Pause, and saves screenshots (to the test's temp folder and to ``runs/``). Then it
types a 4-4-2 network into the widget's State box, plays it, and records the frames per
second Chromium showed for both networks in ``runs/playground_browser.json`` (printed, not
asserted: timing belongs to the benchmark); a bad string typed there must show a message.

Skipped only when /usr/bin/chromium is absent and ``CI`` is not ``true``; under CI a
missing browser is a failure. The server and its kernels are shut down at the end.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "50_playground.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _need_browser():
    missing = [what for what, ok in [
        (f"{CHROMIUM} (apt-get install chromium, or `make system-deps`)", CHROMIUM.exists()),
        ("the playwright package (it is in requirements.lock)",
         importlib.util.find_spec("playwright") is not None)] if not ok]
    if not missing:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the browser test cannot run: missing {'; '.join(missing)}")
    pytest.skip(f"missing {'; '.join(missing)}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab on 127.0.0.1 serving a copy of the chapter; yields (url, token, folder)."""
    _need_browser()
    import psutil

    work = tmp_path / "lab"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
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
    token, port = secrets.token_hex(16), _free_port()
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


def _number(page, selector) -> float:
    """The number shown in the first element matching ``selector`` (waits until one is shown)."""
    # Read the text in the same step that sees a digit in it: the widget replaces these
    # labels while it trains, so a second look can land between two updates and find ''.
    shown = page.wait_for_function(
        "s => { const t = (document.querySelector(s) || {}).textContent || ''; return /[0-9]/.test(t) ? t : null; }",
        arg=selector, timeout=20_000)
    return float(re.sub(r"[^0-9.\-]", "", shown.json_value()))


@pytest.mark.timeout(240)
def test_notebook_runs_and_the_playground_trains_in_chromium(lab):
    from playwright.sync_api import sync_playwright

    url, token, tmp = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(f"{url}/lab/tree/{NOTEBOOK.name}?token={token}")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
            # A "Select Kernel" dialog can come up on first open: Enter accepts the default.
            page.wait_for_timeout(1500)
            if page.locator(".jp-Dialog").count():
                page.keyboard.press("Enter")
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                                   "[data-status='idle']", timeout=60_000)

            page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click()
            n_code = sum(c["cell_type"] == "code" for c in json.loads(NOTEBOOK.read_text())["cells"])
            done = """n => {
                const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
                return p.length === n && p.every(t => /\\[\\d+\\]/.test(t));
            }"""
            page.wait_for_function(done, arg=n_code, timeout=150_000)

            text = page.locator(".jp-Notebook").inner_text()
            assert "Error displaying widget" not in text
            assert "Traceback (most recent call last)" not in text, "a cell failed in the browser"
            widget = page.locator(".labkit-playground")
            widget.wait_for(state="visible", timeout=30_000)
            widget.scroll_into_view_if_needed()
            assert page.locator(".labkit-pg-heatmap").evaluate("img => img.naturalWidth") > 0

            epoch0, loss0 = _number(page, ".labkit-pg-epoch"), _number(page, ".labkit-pg-train-loss")
            widget.locator("button", has_text="Play").click()
            page.wait_for_timeout(1000)
            e1, t1 = _number(page, ".labkit-pg-epoch"), time.monotonic()
            page.wait_for_timeout(3000)
            e2, t2 = _number(page, ".labkit-pg-epoch"), time.monotonic()
            loss1 = _number(page, ".labkit-pg-train-loss")
            widget.screenshot(path=str(tmp / "playground.png"))
            widget.locator("button", has_text="Pause").click()
            page.screenshot(path=str(tmp / "page.png"))

            # A 4-4-2 network through the State box (a pasted string), and its redraw rate.
            box = page.locator(".labkit-pg-state input")
            box.fill("networkShape=4,4,2&seed=0.5")
            box.press("Enter")
            page.wait_for_function("() => document.querySelector('.labkit-pg-epoch').textContent.includes('000,000')",
                                   timeout=30_000)
            assert page.locator(".labkit-pg-status").inner_text().strip() == ""
            widget.locator("button", has_text="Play").click()
            page.wait_for_timeout(1000)
            f1, u1 = _number(page, ".labkit-pg-epoch"), time.monotonic()
            page.wait_for_timeout(3000)
            f2, u2 = _number(page, ".labkit-pg-epoch"), time.monotonic()
            widget.locator("button", has_text="Pause").click()

            # A bad string gives a message in the widget, not a traceback.
            box.fill("dataset=moon")
            box.press("Enter")
            page.wait_for_function("() => document.querySelector('.labkit-pg-status').textContent"
                                   ".includes('unknown dataset')", timeout=30_000)
            assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
        finally:
            browser.close()

    rate, rate_442 = (e2 - e1) / (t2 - t1), (f2 - f1) / (u2 - u1)
    print(f"\nbrowser: epoch {epoch0:.0f} -> {e2:.0f}, training loss {loss0:.3f} -> {loss1:.3f}; "
          f"frames (epoch + redraw) per second seen in Chromium: {rate:.1f} (4-2), {rate_442:.1f} (4-4-2)")
    runs = ROOT / "runs"
    runs.mkdir(exist_ok=True)
    shutil.copy(tmp / "playground.png", runs / "playground_browser.png")
    (runs / "playground_browser.json").write_text(json.dumps(
        {"frames_per_second_4-2": rate, "frames_per_second_4-4-2": rate_442,
         "loss_before": loss0, "loss_after": loss1, "load_average": os.getloadavg()}))
    assert e2 > epoch0, "pressing Play did not move the epoch counter"
    assert loss1 < loss0, f"the training loss did not fall ({loss0} -> {loss1})"
    assert f2 > f1, "Play did not run the 4-4-2 network set through the State box"
