"""Widgets on the book's static pages: their state, kept from the run, drawn as plain HTML.

A widget's output in a notebook holds only a reference (``application/vnd.jupyter.widget-view+json``,
a model id); what it shows lives in the kernel, sent to the front end as comm messages. So
an executed copy keeps the widgets' last state in its metadata, in the format of the
widget-state schema that nbclient (``store_widget_state``) and JupyterLab's "save widget
state" write (``metadata.widgets["application/vnd.jupyter.widget-state+json"]``):
``State`` builds it from the kernel's messages during an nbval run; an nbclient run writes
it itself.

MyST-NB can show widgets from that state, by loading the ipywidgets HTML manager (and
RequireJS) from a CDN (``nb_ipywidgets_js``); the book's pages load nothing from the web,
so ``to_html`` draws the state itself: boxes, HTML, labels, images, progress bars and
Output widgets (their text and plots) as they last were. Controls (sliders, buttons, text
boxes, drop-downs) are drawn with their last values, and the widget is followed by one line
saying that they need a live kernel.
"""
from __future__ import annotations

import base64
import html
import re

STATE = "application/vnd.jupyter.widget-state+json"
VIEW = "application/vnd.jupyter.widget-view+json"
TARGET = "jupyter.widget"
LIVE_LINE = ("This widget's controls need a live kernel: on this page they show their last "
             "values; run the notebook in JupyterLab to use them.")
MISSING_LINE = "[an interactive widget: it works in JupyterLab; this run kept no state to draw it here]"
_REF = "IPY_MODEL_"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class State:
    """The widgets' state in one notebook run, from the kernel's comm messages, with the
    Output widgets' captured outputs (what a front end does with them)."""

    def __init__(self):
        self.models: dict[str, dict] = {}            # comm id -> {"state": {...}, "buffers": {path: b64}}
        self.capturing: dict[str, str] = {}          # execute request id -> Output widget's comm id

    def message(self, msg: dict) -> bool:
        """Take a comm message; True when it was one (it is then no cell output)."""
        kind, content = msg["msg_type"], msg["content"]
        if kind not in ("comm_open", "comm_msg", "comm_close"):
            return False
        comm = content.get("comm_id")
        if kind == "comm_open" and content.get("target_name") != TARGET:
            return True
        if kind == "comm_close":
            self.capturing = {k: v for k, v in self.capturing.items() if v != comm}
            return True
        data = content.get("data") or {}
        if "state" not in data or (kind == "comm_msg" and comm not in self.models):
            return True                               # custom messages, other comms' traffic
        model = self.models.setdefault(comm, {"state": {}, "buffers": {}})
        model["state"].update(data["state"])
        for path, buf in zip(data.get("buffer_paths") or [], msg.get("buffers") or []):
            model["buffers"][tuple(path)] = base64.b64encode(bytes(buf)).decode("ascii")
        if model["state"].get("_model_name") == "OutputModel" and "msg_id" in data["state"]:
            self.capturing = {k: v for k, v in self.capturing.items() if v != comm}
            if data["state"]["msg_id"]:
                self.capturing[data["state"]["msg_id"]] = comm
        return True

    def capture(self, msg: dict) -> list | None:
        """The outputs list of the Output widget capturing this message's request, or None."""
        comm = self.capturing.get((msg.get("parent_header") or {}).get("msg_id"))
        return None if comm is None else self.models[comm]["state"].setdefault("outputs", [])

    def metadata(self) -> dict | None:
        """``metadata.widgets`` for the notebook, or None when no widget was made."""
        if not self.models:
            return None
        state = {}
        for comm, model in self.models.items():
            s = model["state"]
            entry = {"model_name": s.get("_model_name"), "model_module": s.get("_model_module"),
                     "model_module_version": s.get("_model_module_version"), "state": s}
            if model["buffers"]:
                entry["buffers"] = [{"path": list(p), "encoding": "base64", "data": d}
                                    for p, d in model["buffers"].items()]
            state[comm] = entry
        return {STATE: {"version_major": 2, "version_minor": 0, "state": state}}


# --- drawing ------------------------------------------------------------------------------------

_ROW = {"HBoxModel"}
_COLUMN = {"VBoxModel", "BoxModel", "GridBoxModel", "AccordionModel", "TabModel", "StackModel"}
_TEXT = {"HTMLModel": True, "HTMLMathModel": True, "LabelModel": False}


def _buffer(entry: dict, key: str) -> str | None:
    for buf in entry.get("buffers") or []:
        if buf.get("path") == [key] and buf.get("encoding") == "base64":
            return buf["data"]
    value = entry.get("state", {}).get(key)
    return value if isinstance(value, str) else None


def _output_html(out: dict) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        return f"<pre>{html.escape(out.get('text', ''))}</pre>"
    if kind == "error":
        return "<pre>" + html.escape(_ANSI.sub("", "\n".join(out.get("traceback", [])))) + "</pre>"
    data = out.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            src = "".join(data[mime]) if isinstance(data[mime], list) else data[mime]
            return f'<img alt="" src="data:{mime};base64,{src.strip()}">'
    if "image/svg+xml" in data:
        return "".join(data["image/svg+xml"])
    if "text/html" in data:
        return "".join(data["text/html"])
    if "text/plain" in data:
        return f"<pre>{html.escape(''.join(data['text/plain']))}</pre>"
    return ""


def _control(name: str, s: dict) -> str:
    what = name.removesuffix("Model")
    value = s.get("value", s.get("index", ""))
    labels, index = s.get("_options_labels") or [], s.get("index")
    if isinstance(index, int) and 0 <= index < len(labels):              # Dropdown, RadioButtons, ...
        value = labels[index]
    elif isinstance(index, list):                                        # SelectMultiple
        value = ", ".join(labels[i] for i in index if isinstance(i, int) and 0 <= i < len(labels))
    if what in ("Button", "ToggleButton"):
        name = s.get("description") or s.get("icon") or "button"
        state = f": {'on' if value else 'off'}" if what == "ToggleButton" else ""
        shown = f"[{html.escape(str(name))}{state}]"
    else:
        label = s.get("description") or ""
        shown = (f"{html.escape(str(label))} " if label else "") + f"<code>{html.escape(str(value))[:200]}</code>"
    return f'<span class="labkit-widget-control" title="{what}: needs a live kernel">{shown}</span>'


def _draw(model_id: str, models: dict, live: list, depth: int = 0) -> str:
    entry = models.get(model_id)
    if entry is None or depth > 50:
        live.append(model_id)
        return f'<span class="labkit-widget-control">[{html.escape(model_id)}: no state]</span>'
    s, name = entry.get("state", {}), entry.get("model_name") or entry.get("state", {}).get("_model_name", "")
    if name in _ROW or name in _COLUMN:
        kids = [_draw(c[len(_REF):], models, live, depth + 1) for c in s.get("children", [])
                if isinstance(c, str) and c.startswith(_REF)]
        titles = s.get("titles") or []
        if titles and name in ("AccordionModel", "TabModel", "StackModel"):
            kids = [f"<div><b>{html.escape(t or '')}</b>{k}</div>" for t, k in zip(titles, kids)] + kids[len(titles):]
        direction = "row" if name in _ROW else "column"
        return (f'<div class="labkit-widget-box" style="display:flex;flex-direction:{direction};'
                f'gap:4px;flex-wrap:wrap">' + "".join(kids) + "</div>")
    if name in _TEXT:
        label = s.get("description") or ""
        text = s.get("value", "") if _TEXT[name] else html.escape(str(s.get("value", "")))
        return f"<div>{html.escape(label) + ' ' if label else ''}{text}</div>"
    if name == "ImageModel":
        data = _buffer(entry, "value")
        if not data:
            return ""
        size = "".join(f' {k}="{html.escape(str(s[k]))}"' for k in ("width", "height") if s.get(k))
        return f'<img alt="" src="data:image/{html.escape(s.get("format", "png"))};base64,{data}"{size}>'
    if name == "OutputModel":
        return '<div class="labkit-widget-output">' + "".join(_output_html(o) for o in s.get("outputs", [])) + "</div>"
    if name in ("FloatProgressModel", "IntProgressModel"):
        label = html.escape(str(s.get("description") or ""))
        return (f'<div>{label} <progress value="{s.get("value", 0)}" max="{s.get("max", 100)}"></progress> '
                f'{s.get("value", 0)} / {s.get("max", 100)}</div>')
    live.append(model_id)
    return _control(name, s)


def to_html(model_id: str, metadata: dict | None) -> tuple[str, bool] | None:
    """The widget ``model_id`` drawn from a notebook's ``metadata.widgets``, and whether it
    has controls that need a live kernel; None when the notebook kept no state for it."""
    models = ((metadata or {}).get(STATE) or {}).get("state") or {}
    if model_id not in models:
        return None
    live: list[str] = []
    body = _draw(model_id, models, live)
    return f'<div class="labkit-widget" style="overflow-x:auto">{body}</div>', bool(live)


def static_output(data: dict, metadata: dict | None) -> dict:
    """A widget output's ``data`` as the book shows it: drawn HTML (plus the live-kernel line
    when it has controls), or one line saying no state was kept."""
    drawn = to_html((data.get(VIEW) or {}).get("model_id", ""), metadata)
    if drawn is None:
        return {"text/plain": MISSING_LINE}
    body, live = drawn
    line = f'<p class="labkit-widget-live"><em>{html.escape(LIVE_LINE, quote=False)}</em></p>' if live else ""
    return {"text/html": body + line, "text/plain": LIVE_LINE if live else "[a widget]"}
