"""pycaffe's NetSpec: write a Caffe net as Python calls, get its NetParameter back.

Under this API the pycaffe LeNet function of the 2017 review (Figure 1) runs with only its
imports changed::

    from labkit import caffe
    from labkit.caffe import layers as L, params as P

    n = caffe.NetSpec()
    n.data, n.label = L.Data(batch_size=64, backend=P.Data.LMDB, source="mnist_train_lmdb",
                             transform_param=dict(scale=1./255), ntop=2)
    n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=20, weight_filler=dict(type="xavier"))
    ...
    print(n.to_proto())      # the prototxt

The rules are pycaffe's: ``L.<Type>(*bottoms, **kwargs)`` makes a layer of that type;
keyword arguments go to the layer's own parameter message (``convolution_param`` for a
Convolution) when it has such a field, else to the LayerParameter (``include``,
``loss_weight``, ``param``, ``transform_param`` ...); dicts fill sub-messages, lists fill
repeated fields. ``ntop`` sets the number of outputs and ``in_place=True`` writes the
output over the input blob. A layer takes the name of its (first) top, as assigned on the
NetSpec; unnamed ones get ``<Type><k>``.
"""
from __future__ import annotations

from collections import Counter, OrderedDict

from labkit.caffe import caffe_pb2


def _param_fields() -> dict[str, str]:
    """Layer type -> the name of its parameter field, read off LayerParameter as pycaffe
    does: ``convolution_param`` holds a ConvolutionParameter, so type Convolution uses it."""
    out = {}
    for field in caffe_pb2.LayerParameter.DESCRIPTOR.fields:
        if field.name.endswith("_param") and field.message_type is not None:
            out[field.message_type.name[: -len("Parameter")]] = field.name
    out.pop("Transformation", None), out.pop("Loss", None)   # shared by several types
    return out


PARAM_FIELDS = _param_fields()


def _assign(message, name: str, value, where: str) -> None:
    """Set field ``name`` of ``message`` from a Python value (scalar, str, dict, list)."""
    field = message.DESCRIPTOR.fields_by_name.get(name)
    if field is None:
        known = ", ".join(sorted(message.DESCRIPTOR.fields_by_name))
        raise TypeError(f"{where}: {message.DESCRIPTOR.name} has no field {name!r}; its fields are: {known}")
    repeated = field.is_repeated
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not repeated and len(values) != 1:
        raise TypeError(f"{where}: {message.DESCRIPTOR.name}.{name} takes one value, got {value!r}")
    if field.message_type is not None:
        for item in values:
            target = getattr(message, name).add() if repeated else getattr(message, name)
            if isinstance(item, dict):
                for k, v in item.items():
                    _assign(target, k, v, where)
            elif isinstance(item, type(target)):
                target.CopyFrom(item)
            else:
                raise TypeError(f"{where}: {message.DESCRIPTOR.name}.{name} is a {field.message_type.name} "
                                f"message; give it as a dict, e.g. {name}=dict(...), not {item!r}")
        return
    if field.enum_type is not None:
        values = [_enum_value(field, v, where) for v in values]
    try:
        if repeated:
            getattr(message, name).extend(values)
        else:
            setattr(message, name, values[0])
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where}: bad value {value!r} for {message.DESCRIPTOR.name}.{name}: {e}") from None


def _enum_value(field, value, where: str) -> int:
    if isinstance(value, str):
        v = field.enum_type.values_by_name.get(value)
        if v is None:
            names = ", ".join(field.enum_type.values_by_name)
            raise TypeError(f"{where}: {field.name} takes one of {names}; got {value!r}")
        return v.number
    return int(value)


class Top:
    """One output blob of a layer, before it has a name."""

    def __init__(self, fn: "Function", n: int):
        self.fn, self.n = fn, n

    def to_proto(self) -> "caffe_pb2.NetParameter":
        """A NetParameter with the layers this top depends on."""
        return to_proto(self)

    def __repr__(self):
        return f"<Top {self.n} of {self.fn.type_name}>"


class Function:
    """A layer call: its type, its input tops and its keyword arguments."""

    def __init__(self, type_name: str, inputs, params: dict):
        self.type_name = type_name
        for i, inp in enumerate(inputs):
            if not isinstance(inp, Top):
                raise TypeError(f"L.{type_name}: bottom {i} is {inp!r}; bottoms are the tops of other "
                                "layers (n.data, n.conv1, ...), parameters go in keyword arguments")
        self.inputs = tuple(inputs)
        params = dict(params)
        self.ntop = int(params.pop("ntop", 1))
        self.in_place = bool(params.pop("in_place", False))
        if self.in_place and self.ntop != len(self.inputs):
            raise TypeError(f"L.{type_name}: in_place=True needs as many tops as bottoms")
        self.params = params
        self.tops = tuple(Top(self, k) for k in range(self.ntop))

    def _top_name(self, top: Top, names: dict, autonames: Counter) -> str:
        if top not in names:
            autonames[top.fn.type_name] += 1
            names[top] = f"{top.fn.type_name}{autonames[top.fn.type_name]}"
        return names[top]

    def _to_proto(self, layers: "OrderedDict", names: dict, autonames: Counter) -> None:
        if self in layers:
            return
        bottoms = []
        for inp in self.inputs:
            inp.fn._to_proto(layers, names, autonames)
            bottoms.append(layers[inp.fn].top[inp.n])
        layer = caffe_pb2.LayerParameter(type=self.type_name, bottom=bottoms)
        if self.in_place:
            layer.top.extend(bottoms)
        else:
            layer.top.extend(self._top_name(t, names, autonames) for t in self.tops)
        if self in names:
            layer.name = names[self]
        elif self.ntop:
            layer.name = self._top_name(self.tops[0], names, autonames)
        else:
            autonames[self.type_name] += 1
            layer.name = f"{self.type_name}{autonames[self.type_name]}"
        where = f"layer {layer.name!r} (L.{self.type_name})"
        own = PARAM_FIELDS.get(self.type_name)
        for key, value in self.params.items():
            if key.endswith("param") or own is None:
                _assign(layer, key, value, where)
            elif key in getattr(layer, own).DESCRIPTOR.fields_by_name:
                _assign(getattr(layer, own), key, value, where)
            elif key in layer.DESCRIPTOR.fields_by_name:
                _assign(layer, key, value, where)
            else:
                known = sorted(getattr(layer, own).DESCRIPTOR.fields_by_name)
                raise TypeError(f"{where}: unknown argument {key!r}: not a field of {own} "
                                f"({', '.join(known)}) nor of LayerParameter")
        layers[self] = layer


def to_proto(*tops: Top) -> "caffe_pb2.NetParameter":
    """A NetParameter with every layer the given tops depend on, in dependency order."""
    layers, names, autonames = OrderedDict(), {}, Counter()
    for top in tops:
        top.fn._to_proto(layers, names, autonames)
    net = caffe_pb2.NetParameter()
    net.layer.extend(layers.values())
    return net


class NetSpec:
    """Collects named tops: ``n.conv1 = L.Convolution(n.data, ...)`` names the blob and the
    layer ``conv1``; ``n.to_proto()`` returns the NetParameter (print it for the prototxt)."""

    def __init__(self):
        super().__setattr__("tops", OrderedDict())

    def __setattr__(self, name, value):
        if not isinstance(value, Top):
            raise TypeError(f"NetSpec.{name}: assign a layer's top (L.Type(...)), not {value!r}")
        self.tops[name] = value

    def __getattr__(self, name):
        try:
            return self.tops[name]
        except KeyError:
            raise AttributeError(f"this NetSpec has no top {name!r}; it has {list(self.tops)}") from None

    __setitem__ = __setattr__

    def __getitem__(self, name):
        return self.__getattr__(name)

    def to_proto(self) -> "caffe_pb2.NetParameter":
        names = {top: name for name, top in self.tops.items()}
        layers, autonames = OrderedDict(), Counter()
        for top in self.tops.values():
            top.fn._to_proto(layers, names, autonames)
        net = caffe_pb2.NetParameter()
        net.layer.extend(layers.values())
        return net


class Layers:
    """``L.<Type>(*bottoms, **params)``: a layer of any Caffe type. Returns its top, a tuple
    of tops when ``ntop > 1``, or the layer itself when ``ntop=0``."""

    def __getattr__(self, type_name):
        if type_name.startswith("__"):
            raise AttributeError(type_name)

        def layer(*bottoms, **params):
            fn = Function(type_name, bottoms, params)
            return fn if fn.ntop == 0 else fn.tops[0] if fn.ntop == 1 else fn.tops
        layer.__name__ = type_name
        return layer


class _Params:
    def __init__(self, type_name: str, cls):
        self._type_name, self._cls = type_name, cls

    def __getattr__(self, name):
        try:
            return getattr(self._cls, name)
        except AttributeError:
            enums = [v.name for e in self._cls.DESCRIPTOR.enum_types for v in e.values]
            raise AttributeError(f"P.{self._type_name} has no {name!r}; its enum values are: "
                                 f"{', '.join(enums)}") from None


class Parameters:
    """``P.<Type>.<VALUE>``: the enum values of a layer's parameter message, e.g.
    ``P.Pooling.MAX`` or ``P.Data.LMDB``."""

    def __getattr__(self, type_name):
        if type_name.startswith("__"):
            raise AttributeError(type_name)
        cls = getattr(caffe_pb2, f"{type_name}Parameter", None)
        if cls is None:
            raise AttributeError(f"labkit's Caffe schema has no {type_name}Parameter")
        return _Params(type_name, cls)


layers = Layers()
params = Parameters()
