"""Drawing for the Playground with NumPy only: RGB arrays, PNG bytes and SVG text.

No plotting library is involved, so one redraw costs a few milliseconds: the heatmap is a
palette lookup on a 100 x 100 grid, enlarged by repeating pixels, with the data points
stamped on as small discs; PNG encoding is ``zlib``. The network diagram and the loss
curve are SVG text (the original draws them as SVG too).

Colours are the original's: orange ``#f59322`` for -1, grey ``#e8eaeb`` for 0, blue
``#0877bd`` for +1. The heatmap uses 31 shades of that scale (values clipped to
[-1, 1]), drawn at alpha 160/255 over white as the page does; links use the continuous
scale, and their width grows from 1 to 10 pixels as ``|w|`` goes from 0 to 5.
"""
from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

ORANGE, GREY, BLUE = (0xF5, 0x93, 0x22), (0xE8, 0xEA, 0xEB), (0x08, 0x77, 0xBD)
NUM_SHADES = 30


def _scale(t):
    """Colour at t in [0, 1] on orange -> grey -> blue, as float RGB."""
    t = np.clip(np.asarray(t, float), 0, 1)[..., None]
    lo = np.array(ORANGE) + (np.array(GREY) - np.array(ORANGE)) * (t / 0.5)
    hi = np.array(GREY) + (np.array(BLUE) - np.array(GREY)) * ((t - 0.5) / 0.5)
    return np.where(t <= 0.5, lo, hi)


_SHADES = np.round(_scale(np.linspace(0, 1, NUM_SHADES + 1)))
#: The heatmap's palette: the shades at alpha 160/255 over a white page.
PALETTE = np.round(_SHADES * 160 / 255 + 255 * (1 - 160 / 255)).astype(np.uint8)
#: The data points' colours (full strength).
POINT_PALETTE = _SHADES.astype(np.uint8)


def shade_index(values: np.ndarray, discretize: bool = False) -> np.ndarray:
    """Which of the 31 shades each value gets (d3's quantize scale on [-1, 1])."""
    v = np.asarray(values, float)
    if discretize:
        v = np.where(v >= 0, 1.0, -1.0)
    k = NUM_SHADES + 1
    return np.clip(np.floor(k * (v + 1) / 2), 0, k - 1).astype(np.intp)


def hex_color(value: float) -> str:
    """The continuous scale (links, biases): -1 orange, 0 grey, +1 blue, clipped."""
    t = min(max(value, -1.0), 1.0)
    a, b = (GREY, BLUE) if t > 0 else (GREY, ORANGE)
    t = abs(t)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def heatmap(values: np.ndarray, size: int, discretize: bool = False) -> np.ndarray:
    """An ``(size, size, 3)`` uint8 image of a square grid of values (row 0 at the top)."""
    idx = shade_index(values, discretize)
    n = idx.shape[0]
    if size % n == 0:
        idx = np.repeat(np.repeat(idx, size // n, axis=0), size // n, axis=1)
    else:
        pick = np.arange(size) * n // size
        idx = idx[np.ix_(pick, pick)]
    return PALETTE[idx]


def _disc(radius: float):
    r = int(np.ceil(radius))
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    d = np.hypot(dy, dx)
    return d, dy.ravel(), dx.ravel()


_D, _DY, _DX = _disc(4)
_FILL = (_D <= 3).ravel()
_RING = ((_D > 3) & (_D <= 4)).ravel()


def draw_points(img: np.ndarray, X: np.ndarray, labels: np.ndarray, ring=(255, 255, 255),
                domain=(-6.0, 6.0)) -> np.ndarray:
    """Stamp points on ``img`` in place: discs of radius 3 in the label's colour with a
    1-pixel ring (white for training points, dark for test points, as the original)."""
    if len(X) == 0:
        return img
    h, w = img.shape[:2]
    lo, hi = domain
    inside = np.all((X >= lo) & (X <= hi), axis=1)
    X, labels = X[inside], labels[inside]
    cols = np.round((X[:, 0] - lo) / (hi - lo) * (w - 1)).astype(int)
    rows = np.round((hi - X[:, 1]) / (hi - lo) * (h - 1)).astype(int)
    rr = rows[:, None] + _DY[None, :]
    cc = cols[:, None] + _DX[None, :]
    ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    ring_mask = ok & _RING[None, :]
    img[rr[ring_mask], cc[ring_mask]] = ring
    colours = POINT_PALETTE[shade_index(labels)]
    fill_mask = ok & _FILL[None, :]
    img[rr[fill_mask], cc[fill_mask]] = np.broadcast_to(colours[:, None, :], rr.shape + (3,))[fill_mask]
    return img


def png(rgb: np.ndarray, level: int = 1) -> bytes:
    """PNG bytes of an ``(h, w, 3)`` uint8 array (no filter, zlib ``level``)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    raw = np.zeros((h, w * 3 + 1), np.uint8)
    raw[:, 1:] = rgb.reshape(h, w * 3)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + chunk(b"IEND", b""))


def data_uri(rgb: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png(rgb)).decode("ascii")


def reduce(grid: np.ndarray, factor: int = 10) -> np.ndarray:
    """Block means, as the original shrinks a neuron's 100 x 100 map to 10 x 10 (extra
    trailing axes, such as one per neuron, are kept)."""
    n = grid.shape[0] // factor
    blocks = grid[:n * factor, :n * factor].reshape(n, factor, n, factor, *grid.shape[2:])
    return blocks.sum(axis=(1, 3)) / (factor * factor)


# -- SVG --------------------------------------------------------------------------------
def loss_curve_svg(history, width: int = 300, height: int = 60) -> str:
    """Train (grey) and test (black) loss against epoch, scaled to their range, as the
    original's little line chart."""
    h = np.asarray(history, float).reshape(-1, 2)
    lo, hi = (float(h.min()), float(h.max())) if len(h) else (0.0, 1.0)
    span, n = (hi - lo) or 1.0, max(len(h) - 1, 1)
    lines = []
    for col, colour in ((0, "#777"), (1, "black")):
        pts = " ".join(f"{i * (width - 4) / n + 2:.1f},{height - 2 - (v - lo) / span * (height - 4):.1f}"
                       for i, v in enumerate(h[:, col]))
        lines.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'style="background:#fafafa">{"".join(lines)}</svg>')


RECT = 30           # node size, as the original
ROW = RECT + 25     # vertical step between nodes


def link_width(w: float) -> float:
    return float(np.clip(1 + 9 * abs(w) / 5, 1, 10))


def network_svg(feature_keys, feature_labels, active, feature_pngs, neuron_pngs, net,
                names, width: int = 560) -> str:
    """The network as the original draws it: every input feature (switched-off ones pale),
    each neuron as a small heatmap of its output, links coloured and sized by weight (hover
    one to read its value), a small square per neuron coloured by its bias."""
    shape = net.shape
    n_cols = len(shape)                              # inputs, hidden..., output
    right = width - RECT - 10
    xs = [60] + [150 + (right - 150) * i / max(n_cols - 2, 1) for i in range(n_cols - 1)]
    height = ROW * max(len(feature_keys), max(shape[1:], default=1)) + 10
    pos = {}
    parts = []
    for i, key in enumerate(feature_keys):
        pos[("in", key)] = (xs[0], 5 + i * ROW)
    for layer in range(1, n_cols):
        for j in range(shape[layer]):
            pos[(layer, j)] = (xs[layer], 5 + j * ROW)
    active_keys = [k for k in feature_keys if k in active]
    for layer, W in enumerate(net.weights):
        srcs = [("in", k) for k in active_keys] if layer == 0 else [(layer, j) for j in range(W.shape[1])]
        for to in range(W.shape[0]):
            x2, y2 = pos[(layer + 1, to)]
            for frm, src in enumerate(srcs):
                x1, y1 = pos[src]
                w = float(W[to, frm])
                a, b = (x1 + RECT, y1 + RECT / 2), (x2, y2 + RECT / 2)
                mid = (a[0] + b[0]) / 2
                dead = " (dead: L1 set it to 0)" if net.dead[layer][to, frm] else ""
                parts.append(
                    f'<path d="M{a[0]:.1f},{a[1]:.1f} C{mid:.1f},{a[1]:.1f} {mid:.1f},{b[1]:.1f} '
                    f'{b[0]:.1f},{b[1]:.1f}" fill="none" stroke="{hex_color(w)}" '
                    f'stroke-width="{link_width(w):.2f}"><title>{names[layer][frm]} \u2192 '
                    f'{names[layer + 1][to]}: weight {w:.3f}{dead}</title></path>')
    for i, key in enumerate(feature_keys):
        x, y = pos[("in", key)]
        opacity = "1" if key in active else "0.25"
        parts.append(f'<g opacity="{opacity}"><text x="{x - 6}" y="{y + RECT / 2 + 4}" '
                     f'text-anchor="end" font-size="12" font-family="sans-serif">{feature_labels[i]}'
                     f'</text><image href="{feature_pngs[key]}" x="{x}" y="{y}" width="{RECT}" '
                     f'height="{RECT}" style="image-rendering:pixelated"/></g>')
    for layer in range(1, n_cols):
        for j in range(shape[layer]):
            x, y = pos[(layer, j)]
            b = float(net.biases[layer - 1][j])
            parts.append(f'<image href="{neuron_pngs[layer - 1][j]}" x="{x}" y="{y}" width="{RECT}" '
                         f'height="{RECT}" style="image-rendering:pixelated"><title>{names[layer][j]}'
                         f'</title></image><rect x="{x - 7}" y="{y + RECT - 2}" width="5" height="5" '
                         f'fill="{hex_color(b)}" stroke="#666" stroke-width="0.5"><title>bias of '
                         f'{names[layer][j]}: {b:.3f}</title></rect>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            + "".join(parts) + "</svg>")
