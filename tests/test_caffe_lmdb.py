"""The LMDB of Datum records that Caffe's Data layer reads, as convert_mnist_data wrote it."""
import lmdb
import numpy as np
import pytest

from labkit import caffe
from labkit.caffe import caffe_pb2, layers as L, params as P


@pytest.fixture
def digits():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=7)


def test_records_are_caffes_mnist_datums(tmp_path, digits):
    images, labels = digits
    path = caffe.convert_mnist(images, labels, tmp_path / "mnist_train_lmdb")
    assert (path / "data.mdb").exists()
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as txn:
        items = list(txn.cursor())
    env.close()
    assert [k for k, _ in items] == [b"%08d" % i for i in range(7)]
    d = caffe_pb2.Datum.FromString(items[3][1])
    assert (d.channels, d.height, d.width, d.label, d.encoded) == (1, 28, 28, labels[3], False)
    assert d.data == images[3].tobytes()


def test_read_back_and_rewrite(tmp_path, digits):
    images, labels = digits
    path = caffe.convert_mnist(images, labels, tmp_path / "db")
    x, y = caffe.read_lmdb(path)
    assert x.shape == (7, 1, 28, 28) and x.dtype == np.uint8 and np.array_equal(x[:, 0], images)
    assert np.array_equal(y, labels)
    caffe.convert_mnist(images[:3], labels[:3], path)        # replaces, does not append
    assert len(caffe.read_lmdb(path)[0]) == 3
    with pytest.raises(FileNotFoundError, match="convert_mnist"):
        caffe.read_lmdb(tmp_path / "missing")
    with pytest.raises(TypeError, match="uint8"):
        caffe.convert_mnist(images.astype(np.float32), labels, tmp_path / "f")


def test_data_layer_reads_in_order_scales_and_wraps_around(tmp_path, digits):
    images, labels = digits
    caffe.convert_mnist(images, labels, tmp_path / "db")
    n = caffe.NetSpec()
    n.data, n.label = L.Data(batch_size=3, backend=P.Data.LMDB, source=str(tmp_path / "db"),
                             transform_param=dict(scale=1. / 255), ntop=2)
    net = caffe.Net(n.to_proto(), caffe.TRAIN)
    assert net.blobs["data"].shape == (3, 1, 28, 28)
    seen = []
    for _ in range(3):
        out = net.forward()
        seen += list(out["label"])
        assert out["data"].max() <= 1.0
    assert seen == list(labels) + list(labels[:2])            # 7 records, batches of 3: wraps around
    assert np.allclose(out["data"][0, 0], images[6] / 255.0, atol=1e-7)
    n.data, n.label = L.Data(batch_size=3, backend=P.Data.LEVELDB, source=str(tmp_path / "db"), ntop=2)
    with pytest.raises(ValueError, match="LEVELDB is not supported"):
        caffe.Net(n.to_proto(), caffe.TRAIN)
