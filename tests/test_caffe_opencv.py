"""What labkit.caffe writes opens in OpenCV's dnn module, an independent reader of Caffe's
formats, and computes the same outputs."""
import numpy as np
import pytest

from labkit import caffe, lenet as ref
from figure1 import figure1

cv2 = pytest.importorskip("cv2")


lenet = figure1(caffe)


def test_deploy_prototxt_and_caffemodel_open_in_opencv(tmp_path):
    x, _ = ref.probe_batch()
    deploy = caffe.deploy(lenet("unused_lmdb", 64), {"data": (1, 1, 28, 28)})
    proto = caffe.write_net(deploy, tmp_path / "lenet_deploy.prototxt")
    net = caffe.Net(proto, caffe.TEST, seed=ref.SEED)       # Caffe's xavier filler, seed 2017
    # trained-looking weights: move them off the initial values so biases are not all zero
    rng = np.random.default_rng(1)
    for blobs in net.params.values():
        for b in blobs:
            b.data[...] += rng.normal(0, 0.01, b.data.shape).astype(np.float32)
    weights = net.save(tmp_path / "lenet.caffemodel")
    ours = net.forward(data=x)["prob"]
    ours_scores = net.blobs["score"].data.copy()

    cv = cv2.dnn.readNetFromCaffe(str(proto), str(weights))
    cv.setInput(x)
    theirs_scores, theirs = cv.forward(["score", "prob"])
    assert theirs.shape == (20, 10)
    assert np.max(np.abs(theirs_scores - ours_scores)) < 1e-4
    assert np.max(np.abs(theirs - ours)) < 1e-4
    assert (theirs.argmax(1) == ours.argmax(1)).all()


def test_initial_weights_through_opencv_match_the_numpy_reference(tmp_path):
    x, _ = ref.probe_batch()
    deploy = caffe.deploy(lenet("unused_lmdb", 64), {"data": (1, 1, 28, 28)})
    proto = caffe.write_net(deploy, tmp_path / "d.prototxt")
    w = ref.initial_weights()
    weights = caffe.write_caffemodel(tmp_path / "init.caffemodel", deploy, {
        "conv1": [w["conv1.weight"], w["conv1.bias"]], "conv2": [w["conv2.weight"], w["conv2.bias"]],
        "fc1": [w["fc1.weight"], w["fc1.bias"]], "score": [w["fc2.weight"], w["fc2.bias"]]})
    cv = cv2.dnn.readNetFromCaffe(str(proto), str(weights))
    cv.setInput(x)
    ref.check_logits(cv.forward("score"))
