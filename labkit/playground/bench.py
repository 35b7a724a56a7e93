"""How fast the Playground redraws: ``python -m labkit.playground.bench``.

One frame of Play is one training epoch plus one redraw (the output heatmap with its
points as a PNG, every neuron's small map and the links as SVG, the loss curve and
numbers). The benchmark times, for the original's default network (4-2) and for a
4-4-2 network, on 250 training points (circle, 50 % train):

* the epoch alone (NumPy engine), the redraw alone, and a whole frame as the widget's
  play thread does it (the widget's values are set; no browser is attached here);
* the same heatmap drawn as a matplotlib figure and saved to PNG, for comparison;
* with ``--engines``, one epoch with each engine.

The figure seen in a real browser is measured by ``tests/test_playground_browser.py``
(epochs per second shown in Chromium while playing); its last value is printed here if
``runs/playground_browser.json`` exists. Numbers depend on the machine and on its load,
both printed first.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

from labkit import machine

from . import engines
from .experiment import Experiment

SETUPS = {"4-2 (the original's default)": "networkShape=4,2&seed=0.5",
          "4-4-2": "networkShape=4,4,2&seed=0.5"}


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _matplotlib_frame(exp) -> None:
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    import io

    out = exp.grid_outputs()[-1][..., 0]
    fig = Figure(figsize=(3, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.imshow(out, extent=(-6, 6, -6, 6), cmap=matplotlib.colormaps["RdBu"], vmin=-1, vmax=1)
    ax.scatter(exp.X_train[:, 0], exp.X_train[:, 1], c=exp.y_train, cmap="RdBu", s=9,
               edgecolors="white", linewidths=0.5)
    fig.savefig(io.BytesIO(), format="png")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.playground.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60, help="frames per measurement (default 60)")
    parser.add_argument("--engines", action="store_true", help="also time one epoch per engine")
    parser.add_argument("--no-matplotlib", action="store_true", help="skip the matplotlib comparison")
    args = parser.parse_args(argv)

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"CPU: {machine.cpu_model()} | CPUs usable: {cpus} | load average: {load}")
    print(f"Python {platform.python_version()} | numpy {np.__version__} | frames per figure: {args.frames}")
    print()
    header = f"{'network':28s} {'epoch ms':>9s} {'redraw ms':>10s} {'frame ms':>9s} {'frames/s':>9s} {'KB/frame':>9s}"
    if not args.no_matplotlib:
        header += f" {'matplotlib fig/s':>17s}"
    print(header)
    for label, setup in SETUPS.items():
        from .widget import Playground

        pg = Playground(setup)
        exp = pg.exp
        assert len(exp.y_train) == 250
        for _ in range(3):                       # warm up
            exp.step()
            pg.redraw()
        epoch = _median_ms(exp.step, args.frames)
        redraw = _median_ms(pg.redraw, args.frames)

        def frame():
            exp.step()
            pg.redraw()

        per_frame = _median_ms(frame, args.frames) / 1000
        size = (len(pg.heatmap.value) + len(pg.network.value) + len(pg.curve.value)) / 1024
        line = (f"{label:28s} {epoch:9.2f} {redraw:10.2f} {per_frame * 1000:9.2f} "
                f"{1 / per_frame:9.1f} {size:9.1f}")
        if not args.no_matplotlib:
            mpl = _median_ms(lambda: _matplotlib_frame(exp), max(5, args.frames // 4))
            line += f" {1000 / (epoch + mpl):17.1f}"
        print(line)
        pg.close()
    print("\nmedians over the frames; frame = one epoch + one redraw, as Play does; frames/s is "
          "the figure to compare with the 10 redraws/s the Playground needs to feel live.")
    if not args.no_matplotlib:
        print("matplotlib fig/s: the same epoch, then the output heatmap and points drawn as a "
              "matplotlib figure and saved as PNG (no network diagram) - for comparison.")

    if args.engines:
        print(f"\none epoch, 4-4-2 network, batch size 10 (median of {max(3, args.frames // 10)}):")
        base = Experiment(SETUPS["4-4-2"])
        for name in engines.ENGINES:
            net = base.net.copy()
            try:
                t = time.perf_counter()
                engine = engines.create(name, net)
                start = time.perf_counter() - t
            except engines.EngineError as err:
                print(f"  {name:6s} not available: {err}")
                continue
            engine.train_epoch(base.F_train, base.y_train, 10, 0.03)      # warm-up (tracing, jit)
            ms = _median_ms(lambda: engine.train_epoch(base.F_train, base.y_train, 10, 0.03),
                            max(3, args.frames // 10))
            print(f"  {name:6s} {ms:8.2f} ms per epoch   (first use incl. import {start:5.1f} s)")

    record = os.path.join(os.path.dirname(__file__), "..", "..", "runs", "playground_browser.json")
    try:
        with open(record) as f:
            seen = json.load(f)
        seen["frames_per_second_4-2"], seen["frames_per_second_4-4-2"], seen["load_average"]
    except (OSError, ValueError, KeyError):
        seen = None
    if seen:
        print(f"\nlast measured in Chromium by tests/test_playground_browser.py (frames shown per "
              f"second while playing; Play is capped at {_max_fps()}): "
              f"4-2 {seen['frames_per_second_4-2']:.1f}, 4-4-2 {seen['frames_per_second_4-4-2']:.1f} "
              f"(load average then: {', '.join(f'{x:.1f}' for x in seen['load_average'])})")
    return 0


def _max_fps() -> int:
    from .widget import Playground
    return Playground.max_fps


if __name__ == "__main__":
    raise SystemExit(main())
