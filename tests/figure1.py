"""The review's Figure 1 (pycaffe's LeNet NetSpec), written once for every Caffe test.

``figure1(caffe)`` returns the function as the figure prints it, bound to a Caffe module:
``labkit.caffe`` or real pycaffe. Its body is the figure's own; only where ``caffe``, ``L``
and ``P`` come from differs. ``deploy_lenet`` is the same net for inference, and
``write_deploy_files`` writes it with a set of canonical weights (labkit.caffe only).
"""

#: Figure 1's layer names -> the canonical parameter names (its ``score`` is ``fc2``).
CANONICAL = {"conv1": "conv1", "conv2": "conv2", "fc1": "fc1", "score": "fc2"}


def figure1(caffe):
    L, P = caffe.layers, caffe.params

    def lenet(lmdb, batch_size):
        n = caffe.NetSpec()
        n.data, n.label = L.Data(batch_size=batch_size, backend=P.Data.LMDB, source=lmdb,
                                 transform_param=dict(scale=1./255), ntop=2)
        n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=20, weight_filler=dict(type='xavier'))
        n.pool1 = L.Pooling(n.conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
        n.conv2 = L.Convolution(n.pool1, kernel_size=5, num_output=50, weight_filler=dict(type='xavier'))
        n.pool2 = L.Pooling(n.conv2, kernel_size=2, stride=2, pool=P.Pooling.MAX)
        n.fc1 = L.InnerProduct(n.pool2, num_output=500, weight_filler=dict(type='xavier'))
        n.relu1 = L.ReLU(n.fc1, in_place=True)
        n.score = L.InnerProduct(n.relu1, num_output=10, weight_filler=dict(type='xavier'))
        n.loss = L.SoftmaxWithLoss(n.score, n.label)
        return n.to_proto()

    return lenet


def deploy_lenet(caffe, batch_size=1, softmax=False):
    """Figure 1's LeNet for inference: an Input layer instead of Data, no loss; a Softmax on
    top of ``score`` with ``softmax=True``."""
    L, P = caffe.layers, caffe.params
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[batch_size, 1, 28, 28]))
    n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=20)
    n.pool1 = L.Pooling(n.conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.conv2 = L.Convolution(n.pool1, kernel_size=5, num_output=50)
    n.pool2 = L.Pooling(n.conv2, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.fc1 = L.InnerProduct(n.pool2, num_output=500)
    n.relu1 = L.ReLU(n.fc1, in_place=True)
    n.score = L.InnerProduct(n.relu1, num_output=10)
    if softmax:
        n.prob = L.Softmax(n.score)
    return n.to_proto()


def write_deploy_files(caffe, folder, weights, *, softmax=False, prototxt="lenet_deploy.prototxt"):
    """The deploy prototxt and a caffemodel of ``weights`` (canonical names) in ``folder``,
    written by ``labkit.caffe``; returns (prototxt, caffemodel)."""
    net = deploy_lenet(caffe, softmax=softmax)
    caffe.write_net(net, folder / prototxt)
    caffe.write_caffemodel(folder / "lenet.caffemodel", net,
                           {layer: [weights[f"{c}.weight"], weights[f"{c}.bias"]] for layer, c in CANONICAL.items()})
    return folder / prototxt, folder / "lenet.caffemodel"
