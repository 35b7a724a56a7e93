"""labkit.netron (and labkit.localserver under it): Netron serves the file it was given on 127.0.0.1,
stops cleanly, and refuses what it cannot show with a clear error; in Chromium, its page draws the
network's layers.

The files are the LeNet of the shared weights as a Caffe deploy prototxt + caffemodel (labkit.caffe)
and as ONNX (labkit's converter): no toolkit process. The browser test blocks every request that
does not go to the Netron server (its page tries to reach an analytics service; the test stays
offline) and accepts its cookie notice, as a reader would.

The browser test needs Debian's Chromium and the playwright package: skipped without them, except
under CI (``CI=true``), where their absence is a failure.
"""
from __future__ import annotations

import importlib.util
import re
import socket
import time

import pytest
from figure1 import write_deploy_files
from jupyterlab_page import ARGS, CHROMIUM, need_browser

from labkit import caffe, lenet, localserver, netron


@pytest.fixture(scope="module")
def lenet_files(tmp_path_factory):
    """(prototxt, caffemodel, onnx) of the LeNet with the shared weights."""
    import onnx

    from labkit.interchange import caffe_onnx

    folder = tmp_path_factory.mktemp("netron")
    deploy, model = write_deploy_files(caffe, folder, lenet.initial_weights())
    onnx.save(caffe_onnx.caffe_to_onnx(deploy, model), folder / "lenet.onnx")
    return deploy, model, folder / "lenet.onnx"


# --- errors before anything starts ---------------------------------------------------------------

def test_what_netron_cannot_show_is_refused_with_the_reason(tmp_path):
    with pytest.raises(netron.NetronError, match=r"no model file at .*nothing\.onnx.*no such file"):
        netron.Netron(tmp_path / "nothing.onnx").start()
    with pytest.raises(netron.NetronError, match=r"it is a folder; pass one file in it"):
        netron.Netron(tmp_path).start()
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(netron.NetronError, match=r"empty\.onnx is empty \(0 bytes\)"):
        netron.Netron(tmp_path / "empty.onnx").start()
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(netron.NetronError, match=r"notes\.txt: Netron reads model files ending \.onnx"):
        netron.Netron(tmp_path / "notes.txt").start()


def test_missing_netron_names_the_fix_and_the_text_fallback(lenet_files, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(netron.importlib.util, "find_spec", lambda name, *a: None if name == "netron" else real(name, *a))
    with pytest.raises(netron.NotInstalled, match=r"pip install netron.*onnxfiles\.summary"):
        netron.Netron(lenet_files[2]).start()


def test_a_taken_port_is_refused(lenet_files):
    with socket.socket() as taken:
        taken.bind((localserver.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        view = netron.Netron(lenet_files[2], port=port)
        with pytest.raises(netron.PortInUse, match=rf"port {port} on 127\.0\.0\.1 is taken.*perhaps Netron"):
            view.start()
        assert isinstance(view, localserver.LocalServer) and view.process is None
    with pytest.raises(localserver.PortInUse):                # the shared class catches it too
        with socket.socket() as again:
            again.bind((localserver.HOST, 0))
            again.listen()
            netron.Netron(lenet_files[2], port=again.getsockname()[1]).start()


# --- the server ------------------------------------------------------------------------------------

def test_it_serves_the_file_it_was_given_and_stops(lenet_files):
    psutil = pytest.importorskip("psutil")
    with netron.Netron(lenet_files[2]) as view:
        assert view.url.startswith("http://127.0.0.1:") and view.running
        assert view.served_file() == lenet_files[2].read_bytes()
        pid = view.process.pid
    assert not view.running and view.process is None
    time.sleep(0.2)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(netron.NetronError, match="not running: call start"):
        view.show()
    with pytest.raises(netron.NetronError, match="not running: call start"):
        view.served_file()


def test_a_server_that_does_not_answer_in_time_is_stopped(lenet_files):
    view = netron.Netron(lenet_files[2], timeout=0.01)
    with pytest.raises(netron.StartupFailed, match=r"Netron did not answer .* within 0\.01 s, so it was stopped"):
        view.start()
    assert view.process is None


# --- in a browser ---------------------------------------------------------------------------------

#: What Netron draws for each file: the graph's nodes, by the names of their types, in order.
DRAWN = {
    "lenet.onnx": ["data", "Conv", "MaxPool", "Conv", "MaxPool", "Flatten", "Gemm", "Relu", "Flatten", "Gemm"],
    "lenet_deploy.prototxt": ["data", "Convolution", "Pooling", "Convolution", "Pooling", "InnerProduct", "ReLU",
                              "InnerProduct"],
}


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(180)
def test_netron_draws_the_layers_in_chromium(lenet_files, tmp_path):
    need_browser()
    from playwright.sync_api import sync_playwright

    psutil = pytest.importorskip("psutil")
    pids = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for path in (lenet_files[2], lenet_files[0]):
                with netron.Netron(path) as view:
                    pids.append(view.process.pid)
                    page = browser.new_page(viewport={"width": 1200, "height": 900})
                    base = view.url

                    def local_only(route):                   # nothing leaves this machine
                        (route.continue_ if route.request.url.startswith(base) else route.abort)()

                    page.route("**/*", local_only)
                    page.goto(view.url)
                    page.get_by_text("Accept").click(timeout=60_000)   # its cookie notice, offline
                    page.wait_for_selector("svg#canvas g.node", timeout=60_000)
                    # Netron's page refuses window.eval, which playwright's text queries use: read the HTML
                    drawn = re.findall(r"<text[^>]*>([^<]*)</text>", page.content())
                    page.screenshot(path=str(tmp_path / f"netron_{path.name}.png"))
                    page.close()
                assert drawn[:len(DRAWN[path.name])] == DRAWN[path.name], drawn
        finally:
            browser.close()
    time.sleep(0.3)
    alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"Netron processes left after stop(): {alive}"
