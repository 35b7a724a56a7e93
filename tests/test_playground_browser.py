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

import json
import time
from pathlib import Path

import pytest
from jupyterlab_page import ARGS, CHROMIUM, jupyterlab, keep_in_runs, number, run_all_cells

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "50_playground.ipynb"
_number = number


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab on 127.0.0.1 serving a copy of the chapter; yields (url, token, folder)."""
    with jupyterlab(NOTEBOOK, tmp_path) as served:
        yield served


@pytest.mark.timeout(240)
def test_notebook_runs_and_the_playground_trains_in_chromium(lab):
    from playwright.sync_api import sync_playwright

    url, token, tmp = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            n_code = sum(c["cell_type"] == "code" for c in json.loads(NOTEBOOK.read_text())["cells"])
            run_all_cells(page, url, token, NOTEBOOK.name, n_code)
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
    keep_in_runs("playground_browser", tmp / "playground.png",
                 {"frames_per_second_4-2": rate, "frames_per_second_4-4-2": rate_442,
                  "loss_before": loss0, "loss_after": loss1})
    assert e2 > epoch0, "pressing Play did not move the epoch counter"
    assert loss1 < loss0, f"the training loss did not fall ({loss0} -> {loss1})"
    assert f2 > f1, "Play did not run the 4-4-2 network set through the State box"
