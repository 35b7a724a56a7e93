"""Where a toolkit runs: the one rule every chapter and the comparison use to pick a device.

``select(toolkit, device)`` answers from the toolkit's device probe (``labkit.device``):
'auto' runs on a GPU where the toolkit sees one and says plainly when it found none, 'cpu'
runs on the CPU, 'gpu' is an error where the toolkit sees no GPU (with its install hint).
``LABKIT_DEVICE`` gives the default.
"""
from __future__ import annotations

from dataclasses import dataclass

from labkit import toolkits as registry
from labkit.device import Row, probe
from labkit.toolkits import resolve

DEVICES = ("auto", "cpu", "gpu")


@dataclass(frozen=True)
class Choice:
    """Where a toolkit runs: ``kind`` 'cpu' or 'gpu', ``name`` the device, ``message`` why."""

    toolkit: str
    kind: str
    name: str
    message: str
    gpu = property(lambda self: self.kind == "gpu")


def select(toolkit: str, device: str | None = None, *, row: Row | None = None) -> Choice:
    """The device ``toolkit`` runs on: ``device`` 'auto' (a GPU where the toolkit sees one, else
    the CPU), 'cpu', or 'gpu' (an error where it sees none); None reads ``LABKIT_DEVICE``, default
    'auto'. ``row``: the toolkit's probed row (default: ``probe(toolkit)``)."""
    from labkit import settings

    asked = (device or settings.text("LABKIT_DEVICE") or "auto").strip().lower()
    if asked not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {asked!r}" + ("" if device else
                         " from LABKIT_DEVICE") + "; 'auto' uses a GPU where the toolkit sees one")
    tk = registry.TOOLKITS[resolve(toolkit)]
    if asked == "cpu":
        return Choice(tk.name, "cpu", "cpu", f"{tk.name}: running on the CPU, as asked")
    row = row or probe(toolkit)
    if not row.usable:
        raise RuntimeError(f"{tk.name} cannot run here: {row.error or 'not installed'}")
    if row.gpu:
        return Choice(tk.name, "gpu", row.devices[0], f"{tk.name}: running on the GPU {row.devices[0]}")
    why = "cannot tell whether it sees a GPU" if row.gpu is None else "sees no GPU"
    if asked == "gpu":
        raise RuntimeError(f"device='gpu' asked, but {tk.name} {row.version} {why}. "
                           f"{tk.gpu_hint or 'Install its GPU build.'} Or pass device='auto' to run on the CPU.")
    return Choice(tk.name, "cpu", "cpu", f"no GPU found; running on CPU ({tk.name} {why})")
