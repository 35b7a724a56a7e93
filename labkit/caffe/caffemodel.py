"""The .caffemodel file: a NetParameter in protobuf's binary format whose layers carry
their learned blobs (``LayerParameter.blobs``, each a ``BlobProto`` with a ``BlobShape``).

Caffe writes the whole net definition with the weights; a reader matches layers by name
and takes their blobs in order (a Convolution has weights (out, in, h, w) then bias (out,);
an InnerProduct weights (out, in) then bias). Older files give the shape as four fields
``num, channels, height, width`` instead of ``shape``; both are read.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from labkit.caffe import caffe_pb2
from labkit.caffe.errors import CaffemodelError


def blob_to_array(blob) -> np.ndarray:
    """A BlobProto's data as a float32 array of its shape."""
    if blob.HasField("shape"):
        shape = tuple(blob.shape.dim)
    elif blob.num or blob.channels or blob.height or blob.width:   # the old 4-D form
        shape = (blob.num, blob.channels, blob.height, blob.width)
    else:
        shape = (len(blob.data) or len(blob.double_data),)
    values = blob.data if len(blob.data) else blob.double_data
    arr = np.asarray(values, dtype=np.float32)
    if arr.size != int(np.prod(shape)):
        raise CaffemodelError(f"a blob of shape {shape} holds {arr.size} values instead of {int(np.prod(shape))}")
    return arr.reshape(shape)


def array_to_blob(arr, diff=None) -> "caffe_pb2.BlobProto":
    """A BlobProto (float data, ``shape`` set) from an array, as Caffe's ``Blob::ToProto``."""
    arr = np.asarray(arr, dtype=np.float32)
    blob = caffe_pb2.BlobProto()
    blob.shape.dim.extend(int(d) for d in arr.shape)
    blob.data.extend(arr.ravel().tolist())
    if diff is not None:
        blob.diff.extend(np.asarray(diff, np.float32).ravel().tolist())
    return blob


def read_caffemodel(path) -> "caffe_pb2.NetParameter":
    """The NetParameter stored in a binary .caffemodel file."""
    path = Path(path)
    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(path.read_bytes())
    except Exception as e:   # protobuf's DecodeError, whatever its class in this runtime
        raise CaffemodelError(f"{path} is not a binary NetParameter (a .caffemodel): {e}") from None
    return net


def blobs_by_layer(net) -> "OrderedDict[str, list[np.ndarray]]":
    """Layer name -> its blobs as arrays, for the layers that have blobs."""
    return OrderedDict((layer.name, [blob_to_array(b) for b in layer.blobs]) for layer in net.layer if layer.blobs)


def write_caffemodel(path, net, weights: dict | None = None) -> Path:
    """Write ``net`` (a NetParameter) as a binary .caffemodel. With ``weights``
    (layer name -> list of arrays) the blobs of those layers are set first."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    if weights:
        names = {layer.name for layer in out.layer}
        unknown = sorted(set(weights) - names)
        if unknown:
            raise CaffemodelError(f"weights for layers {unknown} that the net does not have")
        for layer in out.layer:
            if layer.name in weights:
                del layer.blobs[:]
                layer.blobs.extend(array_to_blob(a) for a in weights[layer.name])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.SerializeToString())
    return path
