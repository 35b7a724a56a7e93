"""labkit.caffe's file formats: the schema, prototxt text, NetSpec, net transforms, caffemodel.

Field numbers are checked against Caffe's published schema (they are what makes a file
written here readable by Caffe); everything else is checked by writing and reading back.
"""
import pytest

from labkit import caffe
from labkit.caffe import caffe_pb2, layers as L, params as P
from labkit.caffe._protoparse import ProtoSyntaxError, parse_proto
from figure1 import figure1


lenet = figure1(caffe)


# Facts from BVLC Caffe's caffe.proto: (message, field) -> number.
CAFFE_FIELD_NUMBERS = {
    ("NetParameter", "name"): 1, ("NetParameter", "layer"): 100, ("NetParameter", "input"): 3,
    ("LayerParameter", "name"): 1, ("LayerParameter", "type"): 2, ("LayerParameter", "bottom"): 3,
    ("LayerParameter", "top"): 4, ("LayerParameter", "loss_weight"): 5, ("LayerParameter", "param"): 6,
    ("LayerParameter", "blobs"): 7, ("LayerParameter", "include"): 8, ("LayerParameter", "phase"): 10,
    ("LayerParameter", "transform_param"): 100, ("LayerParameter", "accuracy_param"): 102,
    ("LayerParameter", "convolution_param"): 106, ("LayerParameter", "data_param"): 107,
    ("LayerParameter", "inner_product_param"): 117, ("LayerParameter", "pooling_param"): 121,
    ("LayerParameter", "input_param"): 143, ("BlobProto", "shape"): 7, ("BlobProto", "data"): 5,
    ("BlobShape", "dim"): 1, ("Datum", "data"): 4, ("Datum", "label"): 5,
    ("ConvolutionParameter", "kernel_size"): 4, ("ConvolutionParameter", "stride"): 6,
    ("ConvolutionParameter", "weight_filler"): 7, ("PoolingParameter", "pool"): 1,
    ("PoolingParameter", "kernel_size"): 2, ("PoolingParameter", "stride"): 3,
    ("DataParameter", "source"): 1, ("DataParameter", "batch_size"): 4, ("DataParameter", "backend"): 8,
    ("ParamSpec", "lr_mult"): 3, ("ParamSpec", "decay_mult"): 4,
    ("SolverParameter", "net"): 24, ("SolverParameter", "test_iter"): 3, ("SolverParameter", "base_lr"): 5,
    ("SolverParameter", "max_iter"): 7, ("SolverParameter", "lr_policy"): 8, ("SolverParameter", "gamma"): 9,
    ("SolverParameter", "power"): 10, ("SolverParameter", "momentum"): 11,
    ("SolverParameter", "weight_decay"): 12, ("SolverParameter", "stepsize"): 13,
    ("SolverParameter", "snapshot"): 14, ("SolverParameter", "snapshot_prefix"): 15,
    ("SolverParameter", "random_seed"): 20, ("SolverParameter", "stepvalue"): 34,
    ("SolverState", "history"): 3,
}


@pytest.mark.parametrize("message,field", sorted(CAFFE_FIELD_NUMBERS))
def test_schema_uses_caffes_field_numbers(message, field):
    desc = getattr(caffe_pb2, message).DESCRIPTOR
    assert desc.fields_by_name[field].number == CAFFE_FIELD_NUMBERS[message, field]


def test_schema_enums_and_defaults_are_caffes():
    assert (caffe_pb2.TRAIN, caffe_pb2.TEST) == (0, 1)
    assert (P.Pooling.MAX, P.Pooling.AVE, P.Data.LEVELDB, P.Data.LMDB) == (0, 1, 0, 1)
    assert caffe_pb2.NetState().phase == caffe.TEST
    assert caffe_pb2.PoolingParameter().stride == 1 and caffe_pb2.ParamSpec().lr_mult == 1.0
    assert caffe_pb2.FillerParameter().type == "constant"
    assert caffe_pb2.SolverParameter().random_seed == -1


def test_proto_reader_rejects_what_it_does_not_support():
    with pytest.raises(ProtoSyntaxError, match="line 2"):
        parse_proto('syntax = "proto2";\nservice S {}\n')
    with pytest.raises(ProtoSyntaxError, match="unknown type 'Missing'"):
        parse_proto('syntax = "proto2";\npackage p;\nmessage A { optional Missing m = 1; }\n')
    fd = parse_proto('syntax = "proto2"; package p; message A { enum E { X = 0; } optional E e = 1 [default = X];'
                     ' repeated float f = 2 [packed = true]; optional double d = 3 [default = 1e-8]; }')
    e, f, d = fd.message_type[0].field
    assert e.type_name == ".p.A.E" and e.default_value == "X" and f.options.packed and d.default_value == "1e-8"


def test_figure1_gives_pycaffes_prototxt():
    net = lenet("mnist_train_lmdb", 64)
    assert [(l.name, l.type, list(l.bottom), list(l.top)) for l in net.layer] == [
        ("data", "Data", [], ["data", "label"]),
        ("conv1", "Convolution", ["data"], ["conv1"]),
        ("pool1", "Pooling", ["conv1"], ["pool1"]),
        ("conv2", "Convolution", ["pool1"], ["conv2"]),
        ("pool2", "Pooling", ["conv2"], ["pool2"]),
        ("fc1", "InnerProduct", ["pool2"], ["fc1"]),
        ("relu1", "ReLU", ["fc1"], ["fc1"]),            # in place: writes over its bottom
        ("score", "InnerProduct", ["fc1"], ["score"]),
        ("loss", "SoftmaxWithLoss", ["score", "label"], ["loss"]),
    ]
    data = net.layer[0]
    assert data.data_param.batch_size == 64 and data.data_param.backend == P.Data.LMDB
    assert data.data_param.source == "mnist_train_lmdb"
    assert abs(data.transform_param.scale - 1 / 255) < 1e-9
    assert net.layer[1].convolution_param.kernel_size == [5]
    assert net.layer[1].convolution_param.weight_filler.type == "xavier"
    text = caffe.to_text(net)
    assert 'layer {\n  name: "data"\n  type: "Data"\n  top: "data"\n  top: "label"\n' in text
    assert "    backend: LMDB\n" in text and "    pool: MAX\n" in text
    assert caffe.parse_net(text) == net


def test_netspec_rules():
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[2, 3]))
    n.ip = L.InnerProduct(n.data, num_output=4, param=[dict(lr_mult=1), dict(lr_mult=2, decay_mult=0)],
                          include=dict(phase=caffe.TRAIN), loss_weight=0.5)
    unnamed = L.ReLU(n.ip)
    n.out = L.Sigmoid(unnamed)
    net = n.to_proto()
    ip = net.layer[1]
    assert [p.lr_mult for p in ip.param] == [1, 2] and ip.param[1].decay_mult == 0
    assert ip.include[0].phase == caffe.TRAIN and list(ip.loss_weight) == [0.5]
    assert net.layer[0].input_param.shape[0].dim == [2, 3]
    assert (net.layer[2].name, list(net.layer[2].top)) == ("ReLU1", ["ReLU1"])   # pycaffe's auto-names
    with pytest.raises(TypeError, match="unknown argument 'kernal_size'"):
        n2 = caffe.NetSpec()
        n2.c = L.Convolution(n.data, kernal_size=3)
        n2.to_proto()
    with pytest.raises(AttributeError, match="MAX, AVE, STOCHASTIC"):
        P.Pooling.MAXIMUM
    with pytest.raises(TypeError, match="bottom 0"):
        L.ReLU("data")


def test_prototxt_errors_name_line_and_column(tmp_path):
    path = tmp_path / "bad.prototxt"
    path.write_text('name: "x"\nlayer {\n  name: "conv1"\n  kernel_size: 5\n}\n')
    with pytest.raises(caffe.PrototxtError) as err:
        caffe.read_net(path)
    assert (err.value.line, err.value.column) == (4, 3)
    assert f"{path}:4:3" in str(err.value) and "kernel_size" in str(err.value) and "  ^" in str(err.value)
    with pytest.raises(caffe.PrototxtError, match=r"<string>:1:\d+.*TRIAN"):
        caffe.parse_net("layer { include { phase: TRIAN } }")
    with pytest.raises(caffe.PrototxtError, match=r":2:"):
        caffe.parse_solver('base_lr: 0.01\nmomentum: "high"\n')


def test_solver_prototxt_round_trip(tmp_path):
    s = caffe_pb2.SolverParameter(
        net="lenet_train_test.prototxt", test_iter=[100], test_interval=500, base_lr=0.01, momentum=0.9,
        weight_decay=0.0005, lr_policy="multistep", gamma=0.1, power=0.75, stepsize=1000,
        stepvalue=[5000, 7000], display=100, max_iter=10000, snapshot=5000, snapshot_prefix="lenet",
        random_seed=2017, solver_mode=caffe_pb2.SolverParameter.CPU)
    path = caffe.write_solver(s, tmp_path / "solver.prototxt")
    text = path.read_text()
    assert 'net: "lenet_train_test.prototxt"\n' in text and "stepvalue: 5000\nstepvalue: 7000\n" in text
    assert "solver_mode: CPU" in text
    assert caffe.read_solver(path) == s


def test_merge_phases_and_deploy():
    train, test = lenet("train_lmdb", 64), lenet("test_lmdb", 100)
    net = caffe.merge_phases(train, test, name="LeNet")
    acc = net.layer.add(name="accuracy", type="Accuracy", bottom=["score", "label"], top=["accuracy"])
    acc.include.add(phase=caffe.TEST)
    assert [(l.name, [r.phase for r in l.include]) for l in net.layer][:3] == [
        ("data", [caffe.TRAIN]), ("data", [caffe.TEST]), ("conv1", [])]
    assert [l.name for l in caffe.filter_net(net, caffe.TRAIN).layer] == [l.name for l in train.layer]
    assert [l.name for l in caffe.filter_net(net, caffe.TEST).layer] == [l.name for l in test.layer] + ["accuracy"]
    assert caffe.filter_net(net, caffe.TEST).layer[0].data_param.batch_size == 100
    dep = caffe.deploy(net, {"data": (1, 1, 28, 28)})
    assert [l.type for l in dep.layer] == ["Input", "Convolution", "Pooling", "Convolution", "Pooling",
                                           "InnerProduct", "ReLU", "InnerProduct", "Softmax"]
    assert dep.layer[0].input_param.shape[0].dim == [1, 1, 28, 28] and dep.layer[-1].top == ["prob"]
    assert not any("label" in l.bottom for l in dep.layer)
    fed = caffe.with_inputs(train, {"data": (8, 1, 28, 28), "label": (8,)})
    assert fed.layer[0].type == "Input" and list(fed.layer[0].top) == ["data", "label"]
    assert [list(s.dim) for s in fed.layer[0].input_param.shape] == [[8, 1, 28, 28], [8]]


def test_caffemodel_round_trip_and_legacy_blobs(tmp_path):
    import numpy as np

    net = caffe_pb2.NetParameter(name="tiny")
    net.layer.add(name="ip", type="InnerProduct", bottom=["x"], top=["y"])
    w, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.array([0.5, -1], np.float32)
    path = caffe.write_caffemodel(tmp_path / "tiny.caffemodel", net, {"ip": [w, b]})
    back = caffe.read_caffemodel(path)
    assert back.layer[0].blobs[0].shape.dim == [2, 3]
    from labkit.caffe.caffemodel import blob_to_array, blobs_by_layer
    got = blobs_by_layer(back)["ip"]
    assert np.array_equal(got[0], w) and np.array_equal(got[1], b)
    old = caffe_pb2.BlobProto(num=1, channels=1, height=2, width=3, data=w.ravel().tolist())
    assert blob_to_array(old).shape == (1, 1, 2, 3)
    with pytest.raises(caffe.CaffemodelError, match="not a binary NetParameter"):
        (tmp_path / "junk.caffemodel").write_bytes(b"\xff\xff\xff")
        caffe.read_caffemodel(tmp_path / "junk.caffemodel")
    with pytest.raises(caffe.CaffemodelError, match=r"\['nope'\]"):
        caffe.write_caffemodel(tmp_path / "x.caffemodel", net, {"nope": [w]})


def test_importing_labkit_caffe_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, labkit.caffe; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_protoc_reads_the_schema_as_labkit_does(tmp_path):
    """Where protoc is installed, its descriptor of caffe.proto equals the one labkit builds."""
    import shutil
    import subprocess

    from google.protobuf import descriptor_pb2

    protoc = shutil.which("protoc")
    if protoc is None:
        pytest.skip("protoc is not installed")
    out = tmp_path / "caffe.pb"
    subprocess.run([protoc, f"--proto_path={caffe_pb2.PROTO_PATH.parent}", f"--descriptor_set_out={out}",
                    caffe_pb2.PROTO_PATH.name], check=True)
    theirs = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    mine = parse_proto(caffe_pb2.PROTO_PATH.read_text())

    def fields(fd):
        rows, todo = {}, [(m, m.name) for m in fd.message_type]
        while todo:
            msg, path = todo.pop()
            todo += [(n, f"{path}.{n.name}") for n in msg.nested_type]
            rows[path, "enums"] = [(e.name, [(v.name, v.number) for v in e.value]) for e in msg.enum_type]
            for f in msg.field:
                default = f.default_value
                if f.type in (f.TYPE_FLOAT, f.TYPE_DOUBLE) and default:
                    default = float(default)
                rows[path, f.name] = (f.number, f.label, f.type, f.type_name, default, f.options.packed)
        return rows

    assert fields(mine) == fields(theirs)
