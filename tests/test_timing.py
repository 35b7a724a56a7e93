"""labkit.timing: Timer, throughput (on a fake clock), LiveProgress."""
from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

import pytest

from labkit.timing import LiveProgress, Timer, throughput

ROOT = Path(__file__).resolve().parent.parent


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


# --- Timer ---------------------------------------------------------------------------------

def test_timer_measures_and_prints_with_a_label():
    clock, out = FakeClock(), io.StringIO()
    with Timer("epoch 1", clock=clock, stream=out) as t:
        clock.advance(1.5)
        assert t.elapsed == 1.5           # readable while running
        clock.advance(1.0)
    clock.advance(99)                     # after the block, elapsed is frozen
    assert t.elapsed == 2.5
    assert out.getvalue() == "epoch 1: 2.500 s\n"


def test_timer_without_label_is_silent(capsys):
    with Timer() as t:
        pass
    assert t.elapsed >= 0 and capsys.readouterr().out == ""


# --- throughput -----------------------------------------------------------------------------

def test_throughput_excludes_warmup_and_takes_the_median():
    clock = FakeClock()
    durations = iter([50, 50, 50, 1, 2, 4, 5, 100])   # 3 slow warm-up calls, then 5 samples
    calls, syncs = [], []

    def fn():
        calls.append(1)
        clock.advance(next(durations))

    r = throughput(fn, items_per_call=10, warmup=3, repeats=5, sync=lambda: syncs.append(1), clock=clock)
    assert len(calls) == 8 and len(syncs) == 10            # 2 syncs per sample, none in warm-up
    assert r.samples == [10.0, 5.0, 2.5, 2.0, 0.1]
    assert r.median == 2.5 and r.calls == [1] * 5 and r.seconds == [1, 2, 4, 5, 100]
    assert r.per_item == 0.4
    assert "2.5 items/s" in repr(r) and "median of 5" in repr(r) and "3 warm-up" in repr(r)


def test_throughput_min_time_repeats_calls_per_sample():
    clock = FakeClock()
    count = [0]

    def fn():
        count[0] += 1
        clock.advance(0.1)

    r = throughput(fn, items_per_call=64, warmup=2, repeats=3, min_time=0.35, clock=clock, unit="img")
    assert r.calls == [4, 4, 4] and count[0] == 2 + 12
    assert r.median == pytest.approx(640.0)
    assert "640 img/s" in repr(r)


def test_throughput_rejects_nonsense():
    with pytest.raises(ValueError):
        throughput(lambda: None, items_per_call=1, repeats=0)
    with pytest.raises(ValueError):
        throughput(lambda: None, items_per_call=0)


# --- LiveProgress ---------------------------------------------------------------------------

def test_live_progress_text_mode_is_throttled_and_keeps_history():
    clock, out = FakeClock(), io.StringIO()
    live = LiveProgress(30, unit="img", batch_size=64, title="Fake LeNet", mode="text",
                        text_every=10, clock=clock, stream=out)
    for step in range(30):
        clock.advance(1.0)
        live.update(loss=1.0 / (step + 1), acc=step / 30 if step % 2 == 0 else None,
                    **({"val_acc": 0.5} if step >= 20 else {}))
    live.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 4                # at 10 s, 20 s, 30 s, and the final line
    assert lines[0] == "Fake LeNet  step 10/30 (33%)  64 img/s  0:20 left  loss 0.1  acc 0.2667"
    assert lines[-1] == ("Fake LeNet  step 30/30 (100%)  64 img/s  0:30 total  "
                         "loss 0.03333  acc 0.9333  val_acc 0.5")
    h = live.history
    assert set(h) == {"step", "time", "items", "loss", "acc", "val_acc"}
    assert all(len(v) == 30 for v in h.values())
    assert h["step"][-1] == 30 and h["items"][-1] == 30 * 64 and h["time"][0] == 1.0
    assert math.isnan(h["acc"][1]) and h["acc"][2] == pytest.approx(2 / 30)
    assert math.isnan(h["val_acc"][19]) and h["val_acc"][20] == 0.5
    assert live.rate == 64.0 and live.elapsed == 30.0
    with pytest.raises(RuntimeError):
        live.update()


def test_live_progress_rates_eta_partial_batches_and_context_manager():
    clock = FakeClock()
    with LiveProgress(10, batch_size=100, mode="off", window=3.0, clock=clock) as live:
        for _ in range(5):
            clock.advance(1.0)
            live.update()
        assert live.rate == 100.0 and live.eta == pytest.approx(5.0)
        for _ in range(4):
            clock.advance(0.5)            # twice as fast now: the recent rate follows
            live.update()
        assert live.recent_rate > 150 and live.rate < 150
        clock.advance(0.5)
        live.update(items=37)             # the last, partial batch
    assert live.closed and live.items == 937 and live.eta == 0.0
    assert LiveProgress(mode="off").eta is None                         # no total: no ETA
    assert "step 0" in LiveProgress(mode="off").status()


def test_live_progress_mode_choice(monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_PROGRESS", "off")
    live = LiveProgress(3)
    live.update(loss=1.0)
    live.close()
    assert live.mode == "off" and capsys.readouterr().out == ""
    monkeypatch.delenv("LABKIT_PROGRESS")
    assert LiveProgress(3).mode == "text"             # pytest is not a notebook
    with pytest.raises(ValueError, match="'notebook', 'text' or 'off'"):
        LiveProgress(3, mode="widgets")


def test_live_progress_drawing():
    clock = FakeClock()
    live = LiveProgress(20, batch_size=8, title="<t>", mode="off", clock=clock)
    assert live._png() is None                         # nothing to draw yet
    for i in range(20):
        clock.advance(0.1)
        live.update(loss=1 / (i + 1), acc=i / 20)
    png = live._png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    lines = {line.get_label(): line for line in live._figure[1].axes[0].lines + live._figure[1].axes[1].lines}
    assert list(lines["acc"].get_ydata()) == [i / 20 for i in range(20)]
    html = live._html()
    assert "<progress value='20' max='20'" in html and "&lt;t&gt;" in html


@pytest.mark.timeout(120)
def test_live_progress_in_a_real_kernel():
    """Notebook mode: display updates in place; the saved outputs hold the final state."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    source = textwrap.dedent("""
        from labkit.timing import LiveProgress
        live = LiveProgress(20, batch_size=8, title="kernel", every=0, plot_every=0)
        for i in range(20):
            live.update(loss=1 / (i + 1), acc=i / 20)
        live.close()
        print(live.mode)
    """)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nbclient.NotebookClient(nb, timeout=90, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = nb.cells[0].outputs
    assert [o.get("text", "").strip() for o in outputs if o.output_type == "stream"] == ["notebook"]
    shown = [o for o in outputs if o.output_type == "display_data"]
    assert len(shown) == 2                              # status and curve, updated in place
    assert "step 20/20 (100%)" in shown[0].data["text/html"] and "total" in shown[0].data["text/html"]
    assert "image/png" in shown[1].data
