"""labkit.tensorboard: the event files hold what was logged, TensorBoard shows it in a browser, and
each failure (a taken port, an unwritable log folder, TensorBoard or TensorFlow missing, a server
that does not answer) says what was wrong and how to fix it.

The logs are the chapter's kind (``notebooks/15_tensorflow.ipynb``): its own ``lenet`` cells train a
few steps, and the same summaries are written as its training loop writes them (loss and learning
rate per step, test accuracy, a histogram of every variable, training images, the traced graph of
the training step). The error-case tests start no server that lives and import no TensorFlow.

The browser test needs Debian's Chromium and the playwright package: skipped without them, except
under CI (``CI=true``), where their absence is a failure.
"""
from __future__ import annotations

import importlib.util
import os
import re
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from jupyterlab_page import ARGS, CHROMIUM, need_browser

from labkit import chapters, lenet, tensorboard

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "15_tensorflow.ipynb"
STEPS = 6


# --- the errors: fast, no TensorFlow --------------------------------------------------------------

def test_a_taken_port_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind((tensorboard.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        board = tensorboard.TensorBoard(tmp_path, port=port)
        with pytest.raises(tensorboard.PortInUse, match=rf"port {port} on 127\.0\.0\.1 is taken.*Leave out port="):
            board.start()
    assert board.process is None and not board.running


def test_a_free_port_is_free():
    port = tensorboard.free_port()
    with socket.socket() as s:
        s.bind((tensorboard.HOST, port))


def test_a_log_folder_that_cannot_be_made_says_why_and_what_to_do(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    want = r"cannot write TensorBoard logs to .*a-file/logs: Not a directory\. Pick a folder.*LABKIT_RUNS"
    with pytest.raises(tensorboard.LogDirNotWritable, match=want):
        tensorboard.log_dir(blocker / "logs")
    with pytest.raises(tensorboard.LogDirNotWritable, match=want):   # before TensorFlow is imported
        tensorboard.summary_writer(blocker / "logs")
    with pytest.raises(tensorboard.LogDirNotWritable, match=want):   # the server's folder: made first
        tensorboard.TensorBoard(blocker / "logs").start()
    assert tensorboard.log_dir(tmp_path / "new" / "run") == tmp_path / "new" / "run"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write to any folder")
def test_a_folder_without_write_permission(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(tensorboard.LogDirNotWritable, match=r"locked: Permission denied.*ls -ld"):
            tensorboard.log_dir(locked)
    finally:
        locked.chmod(0o700)


def test_missing_tensorboard_or_tensorflow_names_the_fix(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(tensorboard.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(tensorboard.NotInstalled, match="TensorBoard is not installed.*pip install tensorboard"):
        tensorboard.TensorBoard(tmp_path).start()
    with pytest.raises(tensorboard.NotInstalled, match="pip install tensorboard"):
        tensorboard.read_scalars(tmp_path)
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "tensorflow", None)      # `import tensorflow` now fails
    with pytest.raises(tensorboard.NotInstalled, match="needs TensorFlow.*pip install tensorflow"):
        tensorboard.summary_writer(tmp_path / "logs")
    with pytest.raises(FileNotFoundError, match="no TensorBoard event file"):
        tensorboard.read_scalars(tmp_path)


def test_a_server_that_does_not_answer_in_time_is_stopped(tmp_path):
    psutil = pytest.importorskip("psutil")
    board = tensorboard.TensorBoard(tmp_path, timeout=0.01)
    with pytest.raises(tensorboard.StartupFailed, match=r"did not answer .* within 0\.01 s, so it was stopped"):
        board.start()
    assert board.process is None
    assert not [p for p in psutil.process_iter(["cmdline"])
                if f"--port {board.port}" in " ".join(p.info["cmdline"] or [])]
    with pytest.raises(tensorboard.TensorBoardError, match="not running: call start"):
        board.show()


# --- the chapter's logs ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chapter_logs(tmp_path_factory):
    """Logs as chapter 15 writes them, from its own lenet cells: (log root, run folder, what was logged)."""
    ns = chapters.load(NOTEBOOK)
    tf = ns["tf"]
    root = tmp_path_factory.mktemp("tensorboard")
    run = root / "chapter15"
    x, y = lenet.probe_batch()
    recipe = lenet.FULL
    model = ns["load_canonical"](ns["build_lenet"](), lenet.initial_weights())
    step = ns["make_train_step"](model, recipe)
    logged = {"loss": [], "learning_rate": []}
    writer = tensorboard.summary_writer(run)
    with writer.as_default():
        tf.summary.image("training images", x[:4].transpose(0, 2, 3, 1), step=0, max_outputs=4)
        tf.summary.trace_on(graph=True)
        for i in range(STEPS):
            lr = recipe.lr_at(i)
            loss = step(x, y, lr)
            if i == 0:
                tf.summary.trace_export("train_step", step=0)
            tf.summary.scalar("loss", loss, step=i)
            tf.summary.scalar("learning_rate", lr, step=i)
            logged["loss"].append(loss)
            logged["learning_rate"].append(lr)
        acc = float((ns["predict_logits"](model, x).argmax(1) == y).mean())
        tf.summary.scalar("test_accuracy", acc, step=STEPS)
        logged["test_accuracy"] = [acc]
        for v in model.trainable_variables:
            tf.summary.histogram(v.name.split(":")[0], v, step=STEPS)
    writer.close()
    return root, run, logged, {v.name.split(":")[0]: int(np.prod(v.shape)) for v in model.trainable_variables}


@pytest.mark.slow
def test_the_event_files_hold_the_logged_values(chapter_logs):
    _, run, logged, sizes = chapter_logs
    scalars = tensorboard.read_scalars(run)
    assert set(scalars) == {"loss", "learning_rate", "test_accuracy"}
    for tag, values in logged.items():
        steps = [s for s, _ in scalars[tag]]
        assert steps == (list(range(STEPS)) if tag != "test_accuracy" else [STEPS]), (tag, steps)
        np.testing.assert_allclose([v for _, v in scalars[tag]], values, rtol=1e-6, err_msg=tag)  # stored as float32
    assert logged["loss"][-1] < logged["loss"][0]
    found = tensorboard.contents(run)
    assert found["scalars"] == ["learning_rate", "loss", "test_accuracy"]
    assert found["histograms"] == sorted(sizes) and found["images"] == ["training images"]
    assert found["graphs"] == ["train_step"]

    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.util import tensor_util

    acc = ea.EventAccumulator(str(run), size_guidance={ea.TENSORS: 0}).Reload()
    for name, size in sizes.items():                 # each histogram counts every value of its variable
        buckets = tensor_util.make_ndarray(acc.Tensors(name)[-1].tensor_proto)
        assert buckets.shape[1] == 3 and buckets[:, 2].sum() == size, name
    image = tensor_util.make_ndarray(acc.Tensors("training images")[0].tensor_proto)
    assert image[:2].tolist() == [b"28", b"28"] and len(image) == 2 + 4   # width, height, then 4 PNGs
    assert all(png.startswith(b"\x89PNG") for png in image[2:])


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(300)
def test_tensorboard_shows_the_runs_loss_in_chromium(chapter_logs, tmp_path):
    need_browser()
    from playwright.sync_api import sync_playwright

    root, run, logged, _ = chapter_logs
    psutil = pytest.importorskip("psutil")
    with tensorboard.TensorBoard(root, timeout=120) as board:
        assert board.url.startswith("http://127.0.0.1:")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                series = []                       # what the page itself asked TensorBoard for
                page.on("response", lambda r: series.append(r) if "scalars_multirun" in r.url else None)
                page.goto(board.url + "#scalars")
                card = page.locator("tf-scalar-card", has_text="tag: loss")
                card.wait_for(timeout=90_000)
                page.locator("tf-runs-selector", has_text=run.name).wait_for(timeout=30_000)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    loss = [r for r in series if re.search(r'name="tag"\s+loss\s', r.request.post_data or "")]
                    if loss and card.locator("path.line").count():
                        break
                    page.wait_for_timeout(250)
                assert loss, "the scalars page never asked for the loss series"
                shown = loss[-1].json()[run.name]
                assert [s for _, s, _ in shown] == list(range(STEPS))
                np.testing.assert_allclose([v for _, _, v in shown], logged["loss"], rtol=1e-6)
                drawn = [card.locator("path.line").nth(i).get_attribute("d") or ""
                         for i in range(card.locator("path.line").count())]
                assert max(d.count("L") + 1 for d in drawn) == STEPS, drawn   # one vertex per step
                card.screenshot(path=str(tmp_path / "tensorboard_loss.png"))
            finally:
                browser.close()
        pids = [board.process.pid] + [c.pid for c in psutil.Process(board.process.pid).children(recursive=True)]
    time.sleep(0.5)
    alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"TensorBoard processes left after stop(): {alive}"
