"""Whole-net transformations of NetParameter messages, the edits Caffe users made by hand.

- :func:`filter_net`: the layers a net has in one phase (Caffe's ``Net::FilterNet``).
- :func:`merge_phases`: one train/test file from a train net and a test net.
- :func:`with_inputs`: Data layers replaced by Input layers, to feed arrays from Python.
- :func:`deploy`: the deploy net: Input in, no labels, loss replaced by a Softmax.
"""
from __future__ import annotations

from labkit.caffe import caffe_pb2


def _copy(net) -> "caffe_pb2.NetParameter":
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    return out


def _rule_met(rule, state) -> bool:
    if rule.HasField("phase") and rule.phase != state.phase:
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        return False
    stages = set(state.stage)
    return set(rule.stage) <= stages and not (set(rule.not_stage) & stages)


def layer_included(layer, state) -> bool:
    """Caffe's rule: with ``include`` rules, a layer is in if any rule is met; with
    ``exclude`` rules, it is out if any is met; with neither, it is in."""
    if layer.include and layer.exclude:
        raise ValueError(f"layer {layer.name!r} has both include and exclude rules; Caffe allows one kind")
    if layer.include:
        return any(_rule_met(r, state) for r in layer.include)
    return not any(_rule_met(r, state) for r in layer.exclude)


def filter_net(net, phase: int, level: int = 0, stages=()) -> "caffe_pb2.NetParameter":
    """The net as Caffe builds it in ``phase`` (caffe_pb2.TRAIN or TEST): layers whose
    include/exclude rules keep them, with the rules dropped."""
    state = caffe_pb2.NetState(phase=phase, level=level, stage=list(stages))
    if net.HasField("state"):
        state.MergeFrom(net.state)
        state.phase = phase
    out = _copy(net)
    del out.layer[:]
    for layer in net.layer:
        if layer_included(layer, state):
            kept = out.layer.add()
            kept.CopyFrom(layer)
            del kept.include[:], kept.exclude[:]
    return out


def merge_phases(train, test, name: str | None = None) -> "caffe_pb2.NetParameter":
    """One net for both phases, as Caffe's ``lenet_train_test.prototxt``: layers the two
    nets share appear once; layers that differ (the Data layers, usually) appear twice,
    marked ``include { phase: TRAIN }`` and ``include { phase: TEST }``."""
    out = caffe_pb2.NetParameter()
    if name or train.name or test.name:
        out.name = name or train.name or test.name
    test_layers = {layer.name: layer for layer in test.layer}
    done = set()
    for layer in train.layer:
        other = test_layers.get(layer.name)
        if other is not None and other == layer:
            out.layer.add().CopyFrom(layer)
            done.add(layer.name)
            continue
        kept = out.layer.add()
        kept.CopyFrom(layer)
        kept.include.add(phase=caffe_pb2.TRAIN)
        if other is not None:
            kept = out.layer.add()
            kept.CopyFrom(other)
            kept.include.add(phase=caffe_pb2.TEST)
            done.add(layer.name)
    for layer in test.layer:
        if layer.name not in done:
            kept = out.layer.add()
            kept.CopyFrom(layer)
            kept.include.add(phase=caffe_pb2.TEST)
    return out


def with_inputs(net, shapes: dict[str, tuple]) -> "caffe_pb2.NetParameter":
    """``net`` with each Data layer replaced by an Input layer that has the same tops, with
    the given shapes (e.g. ``data=(64, 1, 28, 28), label=(64,)``). Arrays are then passed
    to ``Net.forward(data=..., label=...)``, as pycaffe scripts did with Input layers."""
    out = _copy(net)
    for layer in out.layer:
        if layer.type in ("Data", "ImageData", "MemoryData"):
            missing = [t for t in layer.top if t not in shapes]
            if missing:
                raise ValueError(f"with_inputs: give a shape for {missing} (tops of layer {layer.name!r})")
            tops, name, include, exclude = list(layer.top), layer.name, list(layer.include), list(layer.exclude)
            layer.Clear()
            layer.name, layer.type = name, "Input"
            layer.top.extend(tops)
            layer.include.extend(include)
            layer.exclude.extend(exclude)
            for t in tops:
                layer.input_param.shape.add(dim=list(shapes[t]))
    return out


def deploy(net, shapes: dict[str, tuple], softmax: str | None = "prob", name: str | None = None
           ) -> "caffe_pb2.NetParameter":
    """The deploy net of a train/test net: its TEST-phase layers, each Data layer's tops in
    ``shapes`` fed by an Input layer (the rest, the labels, dropped), every layer that
    needed a dropped blob removed, and each SoftmaxWithLoss replaced by a Softmax layer
    with top ``softmax`` (no Softmax if ``softmax`` is None).

    >>> deploy(train_test_net, {"data": (1, 1, 28, 28)})   # doctest: +SKIP
    """
    test = filter_net(net, caffe_pb2.TEST)
    out = caffe_pb2.NetParameter()
    if name or net.name:
        out.name = name or net.name
    dropped = set()
    for layer in test.layer:
        if layer.type in ("Data", "ImageData", "MemoryData", "Input"):
            keep = [t for t in layer.top if t in shapes]
            dropped.update(t for t in layer.top if t not in shapes)
            if keep:
                new = out.layer.add(name=layer.name, type="Input", top=keep)
                for t in keep:
                    new.input_param.shape.add(dim=list(shapes[t]))
            continue
        if layer.type == "SoftmaxWithLoss" and softmax:
            new = out.layer.add(name=softmax, type="Softmax", bottom=[layer.bottom[0]], top=[softmax])
            if layer.HasField("softmax_param"):
                new.softmax_param.CopyFrom(layer.softmax_param)
            continue
        if any(b in dropped for b in layer.bottom) or layer.type.endswith("Loss"):
            dropped.update(layer.top)
            continue
        out.layer.add().CopyFrom(layer)
    return out
