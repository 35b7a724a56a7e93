"""labkit.book: the executed copies, running a chapter for the book, and the site itself.

The fast tests check the recorder against the kernel's message sequences, the checks that
keep a partial or stale book from being built, and the staged sources. The slow ones run
real notebooks: through nbval with ``tests/executed_notebooks.py`` and through nbclient
with a time budget. Three drive Chromium: a small book of made-up chapters (one fails, one
draws a plot) shows the page checks catch an error; widgets (a progress bar, an Output
widget holding a plot, a slider), run by nbval and by nbclient, show on their pages from
their saved state; and the ``book`` test builds the book of ``make test``'s own run from
``runs/executed/`` and opens every chapter's page, each widget drawn or saying why not. It
runs after the notebooks (``make test`` runs it last: ``pytest -m book``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from labkit.book import executed, run, site, widgets
from labkit.book.executed import BookError, Recorder

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def msg(kind, **content):
    return {"msg_type": kind, "header": {"msg_type": kind}, "parent_header": {}, "content": content}


def chapter(folder: Path, name: str, *sources: str) -> Path:
    nb = new_notebook(cells=[new_markdown_cell(f"# {name}\n\nA chapter.")] + [new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / name))
    return folder / name


def executed_copy(src: Path, copies: Path, *, ran: int | None = None, errors: int = 0) -> Path:
    import datetime as dt

    nb = nbformat.read(str(src), as_version=4)
    n = sum(c.cell_type == "code" for c in nb.cells)
    nb.metadata[executed.KEY] = executed.run_info(
        nb, mode="quick", runner="make test (nbval)", started=dt.datetime.now(dt.timezone.utc),
        wall_s=1.0, code_cells_run=n if ran is None else ran, errors=errors)
    return executed.write(nb, copies / src.name)


# --- the recorder ------------------------------------------------------------------------------

def test_streams_join_and_a_carriage_return_overwrites_its_line():
    r = Recorder()
    r.message(0, msg("execute_input", code="", execution_count=1))
    r.message(0, msg("stream", name="stdout", text="epoch 1\repoch 2"))
    r.message(0, msg("stream", name="stdout", text="\repoch 3\ndone\n"))
    r.message(0, msg("stream", name="stderr", text="warn\n"))
    assert [(o.output_type, o.name, o.text) for o in r.outputs[0]] == [
        ("stream", "stdout", "epoch 3\ndone\n"), ("stream", "stderr", "warn\n")]


def test_a_display_update_replaces_what_an_earlier_cell_shows():
    r = Recorder()
    r.message(0, msg("display_data", data={"text/html": "<b>0%</b>"}, metadata={}, transient={"display_id": "d"}))
    r.message(1, msg("update_display_data", data={"text/html": "<b>100%</b>"}, metadata={}, transient={"display_id": "d"}))
    assert r.outputs[0][0].data == {"text/html": "<b>100%</b>"}
    assert r.outputs[1] == []


def test_clear_output_now_and_with_wait():
    r = Recorder()
    r.message(0, msg("stream", name="stdout", text="a\n"))
    r.message(0, msg("clear_output", wait=False))
    assert r.outputs[0] == []
    r.message(0, msg("stream", name="stdout", text="b\n"))
    r.message(0, msg("clear_output", wait=True))
    assert [o.text for o in r.outputs[0]] == ["b\n"]           # kept until the next output
    r.message(0, msg("execute_result", data={"text/plain": "2"}, metadata={}, execution_count=1))
    assert [o.output_type for o in r.outputs[0]] == ["execute_result"]


# --- the checks before a build -------------------------------------------------------------------

def test_check_names_every_missing_stale_or_incomplete_copy(tmp_path):
    notebooks, copies = tmp_path / "notebooks", tmp_path / "executed"
    fine = chapter(notebooks, "00_fine.ipynb", "1")
    missing = chapter(notebooks, "01_missing.ipynb", "1")
    stale = chapter(notebooks, "02_stale.ipynb", "1")
    part = chapter(notebooks, "03_part.ipynb", "1", "2")
    for nb in (fine, stale):
        executed_copy(nb, copies)
    executed_copy(part, copies, ran=1)
    chapter(notebooks, "02_stale.ipynb", "2")                   # the chapter changed after it ran
    with pytest.raises(BookError) as err:
        executed.check(notebooks, copies)
    text = str(err.value)
    assert "00_fine" not in text
    assert f"{missing.name}: no executed copy" in text
    assert f"{stale.name}: the executed copy is stale" in text
    assert f"{part.name}: only 1 of 2 code cells ran" in text
    assert "make test" in text


def test_stage_lists_the_chapters_present_in_file_name_order(tmp_path):
    notebooks, copies = tmp_path / "notebooks", tmp_path / "executed"
    for name in ("10_b.ipynb", "02_a.ipynb", "41_c.ipynb"):
        executed_copy(chapter(notebooks, name, "1"), copies)
    (notebooks / "scratch.ipynb").write_text((notebooks / "02_a.ipynb").read_text())   # not a chapter
    source = tmp_path / "source"
    assert site.stage(notebooks, copies, source) == ["02_a", "10_b", "41_c"]
    toctree = (source / "index.md").read_text().split("```{toctree}")[1]
    assert toctree.index("02_a") < toctree.index("10_b") < toctree.index("41_c")
    staged = nbformat.read(str(source / "10_b.ipynb"), as_version=4)
    assert staged.cells[0].source.startswith("# 10_b") and "labkit-run" in staged.cells[1].source
    assert executed.machine_line() in staged.cells[1].source


def widget_open(comm, name, **state):
    return msg("comm_open", comm_id=comm, target_name="jupyter.widget", data={"state": {
        "_model_name": name, "_model_module": "@jupyter-widgets/controls", "_model_module_version": "2.0.0",
        **state}, "buffer_paths": []})


def widget_view(comm):
    return msg("display_data", data={widgets.VIEW: {"model_id": comm, "version_major": 2, "version_minor": 0},
                                     "text/plain": "VBox()"}, metadata={})


def test_the_recorder_keeps_widget_state_and_what_an_output_widget_captures():
    r = Recorder()
    r.message(0, widget_open("h", "HTMLModel", value="<b>epoch 0</b>"))
    r.message(0, widget_open("s", "IntSliderModel", value=3, description="epochs"))
    r.message(0, widget_open("o", "OutputModel", _model_module="@jupyter-widgets/output", outputs=[], msg_id=""))
    r.message(0, widget_open("b", "VBoxModel", children=["IPY_MODEL_h", "IPY_MODEL_s", "IPY_MODEL_o"]))
    r.message(0, widget_view("b"))
    r.message(0, msg("comm_msg", comm_id="h", data={"method": "update", "state": {"value": "<b>epoch 9</b>"},
                                                    "buffer_paths": []}))
    r.message(0, msg("comm_msg", comm_id="o", data={"method": "update", "state": {"msg_id": "req-1"}, "buffer_paths": []}))
    captured = {**msg("stream", name="stdout", text="inside the widget\n"), "parent_header": {"msg_id": "req-1"}}
    r.message(0, captured)
    r.message(0, msg("comm_msg", comm_id="o", data={"method": "update", "state": {"msg_id": ""}, "buffer_paths": []}))
    r.message(0, {**msg("stream", name="stdout", text="after\n"), "parent_header": {"msg_id": "req-1"}})
    r.message(0, {**msg("comm_open", comm_id="x", target_name="other.comm", data={"state": {"a": 1}})})
    assert [o.output_type for o in r.outputs[0]] == ["display_data", "stream"]      # comms are no outputs
    assert r.outputs[0][1].text == "after\n"
    nb = executed.with_outputs(new_notebook(cells=[new_code_cell("w")]), r)
    state = nb.metadata["widgets"][widgets.STATE]["state"]
    assert set(state) == {"h", "s", "o", "b"}                                         # not the other comm
    assert state["h"]["state"]["value"] == "<b>epoch 9</b>" and state["h"]["model_name"] == "HTMLModel"
    assert state["o"]["state"]["outputs"][0]["text"] == "inside the widget\n"


def test_a_widget_is_drawn_from_its_state_and_its_controls_say_they_need_a_kernel():
    import base64

    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    r = Recorder()
    r.message(0, widget_open("p", "FloatProgressModel", value=7.0, max=10.0, description="training"))
    r.message(0, {**widget_open("i", "ImageModel", format="png", width="20"), "buffers": [png]})
    r.message(0, msg("comm_msg", comm_id="i", data={"method": "update", "state": {}, "buffer_paths": [["value"]]},
                     ) | {"buffers": [png]})
    r.message(0, widget_open("b", "HBoxModel", children=["IPY_MODEL_p", "IPY_MODEL_i"]))
    r.message(0, widget_view("b"))
    r.message(1, widget_open("s", "FloatSliderModel", value=0.03, description="learning rate"))
    r.message(1, widget_open("d", "DropdownModel", index=1, _options_labels=["ReLU", "Tanh"], description="activation"))
    r.message(1, widget_open("c", "HBoxModel", children=["IPY_MODEL_s", "IPY_MODEL_d"]))
    r.message(1, widget_view("c"))
    r.message(2, widget_view("gone"))
    nb = executed.with_outputs(new_notebook(cells=[new_markdown_cell("# t")] + [new_code_cell("w") for _ in range(3)]), r)
    info = {"date": "d", "mode": "full", "runner": "r", "machine": "m", "code_cells": 3,
            "code_cells_run": 3, "errors": 0, "wall_s": 1}
    staged = site.page(nb, info)
    assert "widgets" not in staged.metadata                   # MyST-NB adds no web script
    static, control, missing = (c.outputs[0].data for c in staged.cells[2:5])
    assert '<progress value="7.0" max="10.0">' in static["text/html"] and "training" in static["text/html"]
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}" width="20"' in static["text/html"]
    assert widgets.LIVE_LINE not in static["text/html"]       # nothing in it needs a kernel
    assert "learning rate <code>0.03</code>" in control["text/html"] and widgets.LIVE_LINE in control["text/html"]
    assert "activation <code>Tanh</code>" in control["text/html"]               # the label, not the index
    assert control["text/html"].count(widgets.LIVE_LINE) == 1                    # one line a widget
    assert missing == {"text/plain": widgets.MISSING_LINE}


def test_web_images_become_links_so_every_image_is_the_books_own():
    text = ("[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/x)\n"
            "![a chart](http://example.org/c.png) and ![local](figures/a.png)")
    assert site.offline_images(text) == ("[Binder](https://mybinder.org/v2/gh/x)\n"
                                         "[a chart](http://example.org/c.png) and ![local](figures/a.png)")


def test_the_command_line_refuses_a_budget_that_is_not_positive():
    proc = subprocess.run([sys.executable, "-m", "labkit.book", "--budget", "0"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--budget must be a positive number of seconds" in proc.stderr


# --- real kernels ------------------------------------------------------------------------------

@pytest.mark.slow
def test_an_nbval_run_leaves_an_executed_copy(tmp_path):
    nb = chapter(tmp_path / "nb", "07_tiny.ipynb",
                 "from IPython.display import HTML, display\nh = display(HTML('<i>first</i>'), display_id=True)",
                 "h.update(HTML('<i>last</i>'))\nprint('x', end='')\nprint('\\ry')",
                 "import os\nos.environ.get('LABKIT_QUICK')")
    env = {**os.environ, "LABKIT_RUNS": str(tmp_path / "runs"), "LABKIT_QUICK": "1",
           "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "executed_notebooks", "-p", "no:cacheprovider",
            "--nbval-lax", "--rootdir", str(nb.parent), str(nb)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, cwd=nb.parent, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:]
    copy_ = nbformat.read(str(tmp_path / "runs" / "executed" / nb.name), as_version=4)
    outs = [c.outputs for c in copy_.cells if c.cell_type == "code"]
    assert outs[0][0]["data"]["text/html"] == "<i>last</i>"
    assert outs[1][0]["text"] == "y\n"
    assert outs[2][0]["data"]["text/plain"] == "'1'"
    info = copy_.metadata[executed.KEY]
    assert (info["mode"], info["code_cells_run"], info["errors"]) == ("quick", 3, 0)
    assert executed.problem(nb, tmp_path / "runs" / "executed") is None

    # only some cells selected: the copy says so, and the book will not take it
    subprocess.run(args + ["--deselect", f"{nb.name}::Cell 1", "--deselect", f"{nb.name}::Cell 2"], env=env, capture_output=True, text=True, cwd=nb.parent, timeout=240)
    assert "only 1 of 3 code cells ran" in executed.problem(nb, tmp_path / "runs" / "executed")


@pytest.mark.slow
def test_a_chapter_runs_for_the_book_within_its_budget(tmp_path):
    nb = chapter(tmp_path / "nb", "08_env.ipynb", "import os\nprint(repr(os.environ.get('LABKIT_QUICK')))")
    info = run.run_chapter(nb, tmp_path / "out" / nb.name, mode="full", budget_s=120)
    assert (info["mode"], info["code_cells_run"], info["runner"]) == ("full", 1, "make book (nbclient)")
    copy_ = nbformat.read(str(tmp_path / "out" / nb.name), as_version=4)
    assert copy_.cells[1].outputs[0].text == "None\n"      # full mode: no LABKIT_QUICK

    # past the budget in full mode: stopped, nothing written, then quick mode, and the copy says why
    slow = chapter(tmp_path / "nb", "09_slow.ipynb",
                   "import os, time\nif not os.environ.get('LABKIT_QUICK'):\n    time.sleep(60)")
    said = []
    info = run.run_for_book(slow, tmp_path / "out", budget_s=8, show=said.append)
    assert said[1] == "09_slow.ipynb: full mode did not finish within 8 s; quick mode instead"
    assert info["mode"] == "quick" and "did not finish within the book's budget of 8 s" in info["why_quick"]
    assert run.run_for_book(slow, tmp_path / "out", budget_s=8, show=said.append)["mode"] == "quick"
    assert said[-1] == "09_slow.ipynb: full mode did not fit 8 s before; quick mode"


# --- the site in Chromium ------------------------------------------------------------------------

def page_problems(page, url: str, info: dict) -> list[str]:
    """What is wrong with one chapter's page: no title, an image that did not load, a cell
    error shown, or no note of the run's machine and date."""
    page.goto(url)
    page.wait_for_selector("main section > h1", timeout=30_000)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_load_state("load")
    problems = []
    broken = page.evaluate("""() => [...document.images]
        .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'))""")
    if broken:
        problems.append(f"images that did not load: {broken}")
    errors = page.locator(".cell:not(.tag_raises-exception) .cell_output .output.traceback, "
                          ".cell:not(.tag_raises-exception) .cell_output .output.error").count()
    if errors:
        problems.append(f"{errors} cell error(s) shown")
    note = page.locator(".labkit-run")
    text = note.inner_text() if note.count() else ""
    if info["machine"] not in text or info["date"] not in text:
        problems.append("no note of the run's machine and date")
    return problems


def widget_outputs(source: Path) -> dict[str, tuple[int, int]]:
    """For each staged page with widget outputs: how many are drawn, how many say no state was kept."""
    found = {}
    for path in sorted(source.glob("*.ipynb")):
        outs = [o.get("data", {}) for c in nbformat.read(str(path), as_version=4).cells for o in c.get("outputs", [])]
        drawn = sum('class="labkit-widget"' in "".join(d.get("text/html", "")) for d in outs)
        missing = sum(d.get("text/plain") == widgets.MISSING_LINE for d in outs)
        if drawn or missing:
            found[path.stem] = (drawn, missing)
    return found


def open_book(html_dir: Path, http_server, check):
    from jupyterlab_page import ARGS, CHROMIUM, need_browser
    from playwright.sync_api import sync_playwright

    need_browser()
    base, _ = http_server(html_dir)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            check(browser.new_page(viewport={"width": 1300, "height": 900}), base)
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(300)
def test_the_page_checks_catch_an_error_and_a_plot_loads(tmp_path, http_server):
    notebooks, copies = tmp_path / "notebooks", tmp_path / "executed"
    good = chapter(notebooks, "01_plot.ipynb",
                   "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
                   "plt.plot([1, 2, 3])\nplt.show()")
    bad = chapter(notebooks, "02_fails.ipynb", "1 / 0", "[][0]")
    nb = nbformat.read(str(bad), as_version=4)
    nb.cells[2].metadata["tags"] = [executed.EXPECTED]               # fails on purpose: not a problem
    nbformat.write(nb, str(bad))
    for nb in (good, bad):
        assert run.run_chapter(nb, copies / nb.name, mode="quick", budget_s=120) is not None
    html_dir = site.build(notebooks, copies, tmp_path / "book")
    infos = json.loads((tmp_path / "book" / "source" / "book.json").read_text())

    def check(page, base):
        assert page_problems(page, f"{base}01_plot.html", infos["01_plot"]) == []
        assert page.evaluate("document.querySelectorAll('.cell_output img').length") == 1
        assert page_problems(page, f"{base}02_fails.html", infos["02_fails"]) == ["1 cell error(s) shown"]
        assert page.locator(".cell.tag_raises-exception .output.traceback").count() == 1
        assert (infos["02_fails"]["errors"], infos["02_fails"]["expected_errors"]) == (1, 1)
    open_book(html_dir, http_server, check)


WIDGET_CELLS = (
    "import ipywidgets as w\nimport matplotlib.pyplot as plt\n"
    "bar = w.FloatProgress(value=0, max=10, description='training')\nbar",
    "bar.value = 10\nout = w.Output()\ndisplay(out)\nwith out:\n"
    "    print('drawn inside the widget')\n    plt.plot([1, 3, 2])\n    plt.show()",
    "w.VBox([w.HTML('<b>the playground</b>'), w.FloatSlider(value=0.03, description='learning rate')])",
)


def widget_checks(page, url: str, info: dict) -> None:
    """A page of WIDGET_CELLS: the bar full, the plot inside the Output widget, one live-kernel line."""
    assert page_problems(page, url, info) == []
    assert page.evaluate("[...document.querySelectorAll('.labkit-widget progress')].map(p => p.value)") == [10]
    assert page.locator(".labkit-widget-output img").count() == 1
    assert "drawn inside the widget" in page.locator(".labkit-widget-output").inner_text()
    assert page.locator(".labkit-widget-live").count() == 1
    assert "learning rate" in page.locator(".labkit-widget-control").inner_text()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(400)
def test_widgets_show_on_the_page_from_an_nbval_run_and_an_nbclient_run(tmp_path, http_server):
    notebooks, runs = tmp_path / "notebooks", tmp_path / "runs"
    by_nbval = chapter(notebooks, "01_widgets.ipynb", *WIDGET_CELLS)
    by_nbclient = chapter(notebooks, "02_widgets.ipynb", *WIDGET_CELLS)
    env = {**os.environ, "LABKIT_RUNS": str(runs), "LABKIT_QUICK": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "executed_notebooks", "-p", "no:cacheprovider",
                           "--nbval-lax", "--rootdir", str(notebooks), str(by_nbval)],
                          env=env, capture_output=True, text=True, cwd=notebooks, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:]
    copies = runs / "executed"
    assert run.run_chapter(by_nbclient, copies / by_nbclient.name, mode="quick", budget_s=120) is not None
    for name in (by_nbval.name, by_nbclient.name):
        assert widgets.STATE in nbformat.read(str(copies / name), as_version=4).metadata["widgets"], name
    html_dir = site.build(notebooks, copies, tmp_path / "book")
    infos = json.loads((tmp_path / "book" / "source" / "book.json").read_text())

    def check(page, base):
        for stem in infos:
            widget_checks(page, f"{base}{stem}.html", infos[stem])
    open_book(html_dir, http_server, check)


@pytest.mark.book
@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(600)
def test_the_book_of_the_test_run(tmp_path, http_server):
    """After ``make test``'s notebooks: the book from ``runs/executed/``, every chapter's page
    whole in Chromium, and its search page finding the network every chapter builds."""
    try:
        html_dir = site.build(ROOT / "notebooks", executed.executed_dir(), tmp_path / "book")
    except BookError as err:
        pytest.fail(str(err))
    infos = json.loads((tmp_path / "book" / "source" / "book.json").read_text())

    def check(page, base):
        page.goto(f"{base}index.html")
        listed = page.evaluate("[...document.querySelectorAll('.toctree-wrapper a')].map(a => a.getAttribute('href'))")
        assert listed == [f"{stem}.html" for stem in infos], listed
        problems = {stem: p for stem, info in infos.items() if (p := page_problems(page, f"{base}{stem}.html", info))}
        assert not problems, problems
        for stem, (drawn, missing) in widget_outputs(tmp_path / "book" / "source").items():
            page.goto(f"{base}{stem}.html")
            page.wait_for_selector("main section > h1", timeout=30_000)
            assert page.locator(".labkit-widget").count() >= drawn, stem       # nested ones count too
            assert page.evaluate("t => document.body.innerText.split(t).length - 1", widgets.MISSING_LINE) == missing, stem
        page.goto(f"{base}search.html?q=LeNet")
        page.wait_for_selector("#search-results ul.search li", timeout=30_000)
        assert page.locator("#search-results ul.search li").count() >= 2
        banner = page.locator(".bd-header-announcement").inner_text()     # on every page, this one too
        dates = sorted(info["date"][:10] for info in infos.values())
        assert dates[0] in banner and dates[-1] in banner, banner
        machines = {info["machine"] for info in infos.values()}
        assert (machines.pop() in banner) if len(machines) == 1 else "machines" in banner, banner
    open_book(html_dir, http_server, check)
