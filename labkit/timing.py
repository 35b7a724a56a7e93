"""Timers, throughput and a live training display.

    >>> from labkit.timing import Timer, throughput, LiveProgress, record
    >>> with Timer("one epoch"):
    ...     train_one_epoch()
    >>> throughput(lambda: model(x), items_per_call=64, sync=torch.cuda.synchronize)
    >>> with LiveProgress(steps, unit="img", batch_size=64, title="PyTorch LeNet") as live:
    ...     for x, y in batches:
    ...         ...
    ...         live.update(loss=loss, acc=acc)

Every clock here is ``time.perf_counter`` unless a test hands in another one.
"""
from __future__ import annotations

import html
import math
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from labkit import settings
from labkit.tables import clock as _clock_text, num as _num


# --- Timer --------------------------------------------------------------------------------------

class Timer:
    """``with Timer("label") as t: ...`` then ``t.elapsed`` (seconds). Prints when given a label.

    ``elapsed`` reads the time so far while the block runs, and the final time after it.
    """

    def __init__(self, label: str | None = None, *, clock: Callable[[], float] = time.perf_counter,
                 stream=None):
        self.label, self._clock, self._stream = label, clock, stream
        self._start: float | None = None
        self._stop: float | None = None

    def __enter__(self) -> "Timer":
        self._start, self._stop = self._clock(), None
        return self

    def __exit__(self, *exc) -> None:
        self._stop = self._clock()
        if self.label:
            print(f"{self.label}: {self.elapsed:.3f} s", file=self._stream or sys.stdout)

    @property
    def elapsed(self) -> float:
        if self._start is None:
            return 0.0
        return (self._stop if self._stop is not None else self._clock()) - self._start

    def __repr__(self) -> str:
        return f"Timer({self.label or ''!r}, elapsed={self.elapsed:.3f} s)"


# --- throughput ------------------------------------------------------------------------------

@dataclass
class Throughput:
    """What ``throughput`` measured. ``samples`` are items/s, one per repeat (warm-up excluded)."""

    median: float
    samples: list[float]
    seconds: list[float]
    calls: list[int]
    items_per_call: float
    warmup: int
    label: str = ""
    unit: str = "items"

    @property
    def per_item(self) -> float:
        """Seconds per item at the median rate."""
        return 1.0 / self.median if self.median else math.inf

    def __repr__(self) -> str:
        lo, hi = min(self.samples), max(self.samples)
        name = f"{self.label}: " if self.label else ""
        return (f"<Throughput {name}{_num(self.median)} {self.unit}/s (median of {len(self.samples)}, "
                f"range {_num(lo)}-{_num(hi)}; {self.calls[0]} calls of {_num(self.items_per_call)} "
                f"{self.unit} per sample, {self.warmup} warm-up calls not counted)>")


def throughput(fn: Callable[[], Any], items_per_call: float, *, warmup: int = 1, repeats: int = 5,
               min_time: float = 0.0, sync: Callable[[], Any] | None = None, label: str = "",
               unit: str = "items", clock: Callable[[], float] = time.perf_counter) -> Throughput:
    """Items per second of ``fn()``, the median of ``repeats`` samples, after ``warmup`` calls.

    Each sample calls ``fn`` until at least ``min_time`` seconds have passed (at least once);
    the number of calls found for the first sample is used for all of them, so every sample
    does the same work. ``sync`` (e.g. ``torch.cuda.synchronize``) runs before the clock
    starts and before it stops, so queued GPU work is counted where it belongs.
    """
    if repeats < 1 or warmup < 0 or items_per_call <= 0:
        raise ValueError("throughput needs repeats >= 1, warmup >= 0 and items_per_call > 0")
    sync = sync or (lambda: None)
    for _ in range(warmup):
        fn()
    samples, seconds, calls = [], [], []
    n = None
    for _ in range(repeats):
        sync()
        start = clock()
        done = 0
        while True:
            fn()
            done += 1
            if n is not None:
                if done >= n:
                    sync()
                    break
            else:
                sync()
                if clock() - start >= min_time:
                    break
        elapsed = clock() - start
        n = done
        seconds.append(elapsed)
        calls.append(done)
        samples.append(done * items_per_call / elapsed if elapsed > 0 else math.inf)
    return Throughput(statistics.median(samples), samples, seconds, calls, items_per_call,
                      warmup, label, unit)


# --- the live training display ---------------------------------------------------------------

def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ in {"ZMQInteractiveShell", "Shell"}   # Jupyter, Colab


class LiveProgress:
    """Progress, speed, time left, loss and accuracy while a loop trains; the history after.

    In a notebook it shows a progress bar with a status line and a small loss/accuracy
    curve, updated in place (IPython display updates: they work in JupyterLab, Notebook,
    Colab and VS Code and stay in the saved notebook as the final state). Elsewhere it
    prints a line every ``text_every`` seconds and one at the end. ``mode`` ('notebook',
    'text' or 'off') overrides the choice; so does ``$LABKIT_PROGRESS``.

    ``update()`` costs a few microseconds: it appends to the history and redraws only when
    ``every`` seconds (status) or ``plot_every`` seconds (curve) have passed.
    ``history`` maps 'step', 'time', 'items', 'loss', 'acc' and any other metric passed
    to ``update`` to lists of equal length (NaN where a step gave no value).
    """

    def __init__(self, total: int | None = None, *, unit: str = "img", batch_size: int = 1,
                 title: str = "", mode: str | None = None, every: float = 0.25,
                 plot_every: float = 1.0, text_every: float = 10.0, window: float = 3.0,
                 stream=None, clock: Callable[[], float] = time.perf_counter):
        self.total, self.unit, self.batch_size, self.title = total, unit, batch_size, title
        self.every, self.plot_every, self.text_every, self.window = every, plot_every, text_every, window
        self._stream, self._clock = stream, clock
        mode = mode or settings.progress_mode() or ("notebook" if _in_notebook() else "text")
        if mode not in {"notebook", "text", "off"}:
            raise ValueError(f"LiveProgress mode must be 'notebook', 'text' or 'off', not {mode!r}")
        self.mode = mode
        self.history: dict[str, list[float]] = {"step": [], "time": [], "items": [], "loss": [], "acc": []}
        self.steps = 0
        self.items = 0
        self.closed = False
        self._handles = None
        self._figure = None
        self._plot_gap = plot_every
        self._start_clock()
        if self.mode == "notebook":
            self._show()                 # it imports matplotlib: restart the clock after it
            self._start_clock()

    def _start_clock(self) -> None:
        self._start = self._end = self._clock()
        self._recent: deque[tuple[float, int]] = deque([(self._start, 0)])
        self._last_status = self._last_plot = self._last_text = self._start

    # the numbers

    @property
    def elapsed(self) -> float:
        return (self._end if self.closed else self._clock()) - self._start

    @property
    def rate(self) -> float:
        """Items per second over the whole run so far."""
        t = self.elapsed
        return self.items / t if t > 0 else 0.0

    @property
    def recent_rate(self) -> float:
        """Items per second over the last ``window`` seconds (what the display shows)."""
        (t0, i0), (t1, i1) = self._recent[0], self._recent[-1]
        return (i1 - i0) / (t1 - t0) if t1 > t0 else self.rate

    @property
    def eta(self) -> float | None:
        """Seconds left at the recent rate, or None without a total."""
        if self.total is None:
            return None
        left = max(self.total - self.steps, 0) * self.batch_size
        rate = self.recent_rate
        return left / rate if rate > 0 else None

    def _last(self, name: str) -> float | None:
        for v in reversed(self.history.get(name, [])):
            if not math.isnan(v):
                return v
        return None

    def status(self) -> str:
        """One line: title, step, percentage, speed, time left, latest metrics."""
        parts = [self.title] if self.title else []
        if self.total:
            parts.append(f"step {self.steps}/{self.total} ({100 * self.steps / self.total:.0f}%)")
        else:
            parts.append(f"step {self.steps}")
        rate = self.rate if self.closed else self.recent_rate
        parts.append(f"{_num(rate)} {self.unit}/s")
        if self.closed:
            parts.append(f"{_clock_text(self.elapsed)} total")
        elif self.eta is not None:
            parts.append(f"{_clock_text(self.eta)} left")
        for name in self.history:
            if name not in ("step", "time", "items") and self._last(name) is not None:
                parts.append(f"{name} {self._last(name):.4g}")
        return "  ".join(parts)

    # feeding it

    def update(self, n: int = 1, *, items: int | None = None, loss: float | None = None,
               acc: float | None = None, **metrics: float) -> None:
        """``n`` more steps done (``items`` of them, default ``n * batch_size``) and their metrics."""
        if self.closed:
            raise RuntimeError("LiveProgress.update() after close()")
        now = self._clock()
        self.steps += n
        self.items += n * self.batch_size if items is None else items
        values = {"loss": loss, "acc": acc, **metrics}
        h = self.history
        for name in values:
            if name not in h:
                h[name] = [math.nan] * len(h["step"])
        h["step"].append(self.steps)
        h["time"].append(now - self._start)
        h["items"].append(self.items)
        for name in h:
            if name not in ("step", "time", "items"):
                v = values.get(name)
                h[name].append(math.nan if v is None else float(v))
        self._recent.append((now, self.items))
        while len(self._recent) > 2 and now - self._recent[1][0] >= self.window:
            self._recent.popleft()
        if self.mode == "notebook" and now - self._last_status >= self.every:
            self._last_status = now
            self._refresh(plot=now - self._last_plot >= self._plot_gap)
        elif self.mode == "text" and now - self._last_text >= self.text_every:
            self._last_text = now
            print(self.status(), file=self._stream or sys.stdout, flush=True)

    def close(self) -> None:
        """Final display: the totals, and the whole curve."""
        if self.closed:
            return
        self._end = self._clock()
        self.closed = True
        if self.mode == "notebook":
            self._refresh(plot=True)
        elif self.mode == "text":
            print(self.status(), file=self._stream or sys.stdout, flush=True)

    def __enter__(self) -> "LiveProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<LiveProgress {self.status()}>"

    # the notebook view

    def _html(self) -> str:
        bar = ""
        if self.total:
            bar = (f"<progress value='{min(self.steps, self.total)}' max='{self.total}' "
                   "style='width:24em;vertical-align:middle'></progress> ")
        return f"<div style='font-family:monospace'>{bar}{html.escape(self.status())}</div>"

    def _png(self) -> bytes | None:
        """The loss/accuracy curve as PNG bytes (matplotlib's Agg canvas, no pyplot), or None.

        The figure and its lines are made once and only their data change afterwards.
        """
        curves = tuple(n for n in self.history if n not in ("step", "time", "items")
                       and any(not math.isnan(v) for v in self.history[n]))
        if not curves:
            return None
        from io import BytesIO

        if self._figure is None or self._figure[0] != curves:
            self._figure = (curves, *self._new_figure(curves))
        _, fig, lines = self._figure
        for name, line in lines.items():
            pairs = [(s, v) for s, v in zip(self.history["step"], self.history[name]) if not math.isnan(v)]
            line.set_data([p[0] for p in pairs], [p[1] for p in pairs])
        for ax in fig.axes:
            ax.relim()
            ax.autoscale_view()
        buf = BytesIO()
        fig.canvas.print_png(buf)
        return buf.getvalue()

    @staticmethod
    def _new_figure(curves):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        groups = [g for g in ([n for n in curves if "acc" not in n], [n for n in curves if "acc" in n]) if g]
        fig = Figure(figsize=(3.6 * len(groups), 2.2), dpi=80)
        fig.subplots_adjust(left=0.5 / (3.6 * len(groups)), right=0.98, bottom=0.2, top=0.95, wspace=0.3)
        FigureCanvasAgg(fig)
        lines = {}
        for ax, names in zip(fig.subplots(1, len(groups), squeeze=False)[0], groups):
            for name in names:
                lines[name], = ax.plot([], [], label=name, lw=1)
            ax.set_xlabel("step")
            ax.legend(loc="upper right", fontsize=8)
            ax.grid(alpha=0.3)
        return fig, lines

    def _show(self) -> None:
        from IPython.display import HTML, display
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401  (import it now)

        self._handles = (display(HTML(self._html()), display_id=True),
                         display(HTML(""), display_id=True))

    def _refresh(self, plot: bool) -> None:
        from IPython.display import HTML, Image

        self._handles[0].update(HTML(self._html()))
        if plot:
            start = self._clock()
            png = self._png()
            if png is not None:
                self._handles[1].update(Image(data=png, format="png"))
            self._last_plot = self._clock()
            # drawing may take 50 ms on a slow machine: keep it under a tenth of the time
            self._plot_gap = max(self.plot_every, 10 * (self._last_plot - start))
