"""A NetParameter drawn as a graph: Graphviz ``dot`` source, and the same graph as text.

Caffe's own ``python/draw_net.py`` drew a prototxt with pydot; DIGITS showed the same kind
of picture in the browser. Here layers are boxes (name, type, the settings that decide the
shapes) and blobs are ovals (name and, when the net has been built, shape, batch first).
A layer that works in place (a ReLU whose top is its bottom) gets a second oval for the
blob it overwrites, so the graph has no cycles and reads top to bottom in execution order.

    from labkit.caffe.draw import draw_net
    draw_net(net_param, shapes, phase=caffe.TRAIN)     # SVG in a notebook, text without Graphviz
"""
from __future__ import annotations

from labkit import graphs
from labkit.caffe import caffe_pb2
from labkit.caffe.nets import filter_net

_DATA = ("Data", "Input", "ImageData", "MemoryData")
_FILL = {"data": "#dbe9f6", "param": "#fde7c8", "loss": "#f6d5d5", "other": "#eeeeee"}


def _pair(repeated, h: int, w: int, has_h: bool) -> str:
    if has_h:
        return f"{h}x{w}"
    values = list(repeated)
    return "x".join(str(v) for v in (values * 2 if len(values) == 1 else values))


def settings(layer) -> str:
    """The settings of a layer that decide its output, in a few words (kernel 5x5, 20 out)."""
    t = layer.type
    if t == "Convolution":
        p = layer.convolution_param
        words = [f"kernel {_pair(p.kernel_size, p.kernel_h, p.kernel_w, p.HasField('kernel_h'))}"]
        stride = _pair(p.stride, p.stride_h, p.stride_w, p.HasField("stride_h"))
        pad = _pair(p.pad, p.pad_h, p.pad_w, p.HasField("pad_h"))
        words += [f"stride {stride}"] if stride and stride != "1x1" else []
        words += [f"pad {pad}"] if pad and pad != "0x0" else []
        return ", ".join(words + [f"{p.num_output} out"])
    if t == "Pooling":
        p = layer.pooling_param
        kind = caffe_pb2.PoolingParameter.PoolMethod.Name(p.pool)
        if p.global_pooling:
            return f"{kind}, global"
        k = f"{p.kernel_h}x{p.kernel_w}" if p.HasField("kernel_h") else f"{p.kernel_size}x{p.kernel_size}"
        return f"{kind} {k}, stride {p.stride}"
    if t == "InnerProduct":
        return f"{layer.inner_product_param.num_output} out"
    if t == "Dropout":
        return f"ratio {layer.dropout_param.dropout_ratio:g}"
    if t == "Data":
        p = layer.data_param
        return f"{p.source}, batch {p.batch_size}"
    if t == "Input":
        return "; ".join("x".join(map(str, s.dim)) for s in layer.input_param.shape)
    return ""


def _kind(layer) -> str:
    if layer.type in _DATA:
        return "data"
    if layer.type.endswith("Loss") or layer.type == "Accuracy":
        return "loss"
    return "param" if layer.type in ("Convolution", "InnerProduct") else "other"


def _shape(shapes: dict, name: str) -> str:
    if name not in shapes:
        return ""
    shape = shapes[name]
    return "x".join(map(str, shape)) if shape else "scalar"


def net_dot(net, shapes: dict[str, tuple] | None = None, phase: int | None = caffe_pb2.TRAIN,
            title: str | None = None) -> str:
    """The ``dot`` source of ``net`` (a NetParameter) in ``phase`` (None: every layer, as
    written). ``shapes`` (blob name -> shape, e.g. ``Checked.shapes[phase]``) labels the blobs."""
    shapes = shapes or {}
    layers = filter_net(net, phase).layer if phase is not None else net.layer
    label = title or net.name or "net"
    if phase is not None:
        label += f" ({'TRAIN' if phase == caffe_pb2.TRAIN else 'TEST'} phase)"
    out = ["digraph net {", f"  label={graphs.quote(label)}; labelloc=t; rankdir=TB;",
           '  node [fontname="Helvetica", fontsize=10]; edge [color="#555555"];']
    version: dict[str, int] = {}      # blob name -> how many times it has been written

    def blob_node(name: str) -> str:
        return graphs.quote(f"blob:{name}:{version[name]}")

    for i, layer in enumerate(layers):
        node = graphs.quote(f"layer:{i}:{layer.name}")
        words = settings(layer)
        text = f"{layer.name}\n{layer.type}" + (f"\n{words}" if words else "")
        if phase is None and layer.include:        # every layer, as written: say which phase it is in
            phases = [("TRAIN", "TEST")[r.phase] for r in layer.include if r.HasField("phase")]
            text += f"\n({', '.join(phases)} only)"
        out.append(f"  {node} [shape=box, style=\"rounded,filled\", fillcolor=\"{_FILL[_kind(layer)]}\", "
                   f"label={graphs.quote(text)}];")
        for b in layer.bottom:
            if b not in version:              # a blob nobody made: drawn, in red, so it shows
                version[b] = 0
                out.append(f"  {blob_node(b)} [shape=ellipse, color=red, fontcolor=red, "
                           f"label={graphs.quote(b + chr(10) + 'made by no layer')}];")
            out.append(f"  {blob_node(b)} -> {node};")
        for t in layer.top:
            version[t] = version.get(t, -1) + 1
            where = _shape(shapes, t)
            extra = " (in place)" if t in layer.bottom else ""
            out.append(f"  {blob_node(t)} [shape=ellipse, label={graphs.quote(t + extra + (chr(10) + where if where else ''))}];")
            out.append(f"  {node} -> {blob_node(t)};")
    out.append("}")
    return "\n".join(out) + "\n"


def net_text(net, shapes: dict[str, tuple] | None = None, phase: int | None = caffe_pb2.TRAIN) -> str:
    """The same graph as lines of text: one layer a line, bottoms -> tops with their shapes."""
    shapes = shapes or {}
    layers = filter_net(net, phase).layer if phase is not None else net.layer

    def blobs(names) -> str:
        return ", ".join(n + (f" {_shape(shapes, n)}" if n in shapes else "") for n in names) or "-"

    width = max((len(layer.name) for layer in layers), default=0)
    lines = [f"{layer.name:<{width}}  {layer.type:<15} {blobs(layer.bottom)} -> {blobs(layer.top)}"
             + (f"   [{settings(layer)}]" if settings(layer) else "") for layer in layers]
    return "\n".join(lines)


def draw_net(net, shapes: dict[str, tuple] | None = None, phase: int | None = caffe_pb2.TRAIN,
             title: str | None = None) -> graphs.Drawing:
    """What a cell returns to show the net: the graph as SVG (Graphviz), or as text."""
    return graphs.show(net_dot(net, shapes, phase, title), net_text(net, shapes, phase))
