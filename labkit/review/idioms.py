"""LeNet as it was written in the idiom of each system the review names that cannot run here.
Written for this workbook from each system's documentation; **none of it is run**. Each points
to the runnable chapter that teaches the same idea (``labkit.review.systems.teaching_chapter``).

    >>> from labkit.review import idioms
    >>> print(idioms.get("torch7").text)
"""
from __future__ import annotations

from dataclasses import dataclass

LABEL = "not run"


@dataclass(frozen=True)
class Idiom:
    system: str        # labkit.review.systems key
    language: str      # what the text is written in (for display and syntax colouring)
    text: str
    idea: str          # the idea it shares with the runnable chapter


IDIOMS: tuple[Idiom, ...] = (
    Idiom("torch7", "lua", """\
-- LeNet in Torch7: Lua, the nn package (not run)
require 'nn'

local net = nn.Sequential()
net:add(nn.SpatialConvolution(1, 20, 5, 5))    -- 1x28x28 -> 20x24x24
net:add(nn.SpatialMaxPooling(2, 2, 2, 2))      -- -> 20x12x12
net:add(nn.SpatialConvolution(20, 50, 5, 5))   -- -> 50x8x8
net:add(nn.SpatialMaxPooling(2, 2, 2, 2))      -- -> 50x4x4
net:add(nn.View(50 * 4 * 4))
net:add(nn.Linear(800, 500))
net:add(nn.ReLU())
net:add(nn.Linear(500, 10))
net:add(nn.LogSoftMax())
local criterion = nn.ClassNLLCriterion()

-- one SGD step; labels run from 1 to 10 in Lua
local output = net:forward(inputs)
local loss = criterion:forward(output, labels)
net:zeroGradParameters()
net:backward(inputs, criterion:backward(output, labels))
net:updateParameters(0.01)
""", "a container of layers called in order, and a forward/backward/update step written out; "
         "PyTorch kept the layer names (nn.Sequential, nn.Linear, nn.ReLU)"),
    Idiom("cntk", "brainscript", """\
# LeNet in CNTK 2 BrainScript, a .cntk file run as `cntk configFile=lenet.cntk` (not run)
command = train
train = {
    action = "train"
    BrainScriptNetworkBuilder = {
        model = Sequential (
            ConvolutionalLayer {20, (5:5), pad = false} :
            MaxPoolingLayer {(2:2), stride = (2:2)} :
            ConvolutionalLayer {50, (5:5), pad = false} :
            MaxPoolingLayer {(2:2), stride = (2:2)} :
            DenseLayer {500, activation = ReLU} :
            LinearLayer {10}
        )
        features = Input {28:28:1}
        labels = Input {10}
        z = model (features / 255)
        ce = CrossEntropyWithSoftmax (labels, z)
        errs = ClassificationError (labels, z)
        featureNodes = (features) ; labelNodes = (labels)
        criterionNodes = (ce) ; evaluationNodes = (errs) ; outputNodes = (z)
    }
    SGD = { minibatchSize = 64 ; learningRatesPerSample = 0.0001 ; maxEpochs = 10 }
    reader = {
        readerType = "CNTKTextFormatReader" ; file = "Train-28x28_cntk_text.txt"
        input = { features = { dim = 784 ; format = "dense" } ; labels = { dim = 10 ; format = "dense" } }
    }
}
""", "layers composed into one model in a few lines (Keras's Sequential), the loss and metrics "
         "named apart from the model; CNTK 2.7's advice for its models was ONNX (chapter 31)"),
    Idiom("pylearn2", "yaml", """\
# LeNet-like network in a Pylearn2 YAML file, run as `train.py lenet.yaml` (not run).
# Pylearn2's convolutional layers carry their non-linearity: each convolution here is
# followed by a ReLU, where Caffe's LeNet has none.
!obj:pylearn2.train.Train {
    dataset: !obj:pylearn2.datasets.mnist.MNIST { which_set: 'train', start: 0, stop: 50000 },
    model: !obj:pylearn2.models.mlp.MLP {
        batch_size: 64,
        input_space: !obj:pylearn2.space.Conv2DSpace { shape: [28, 28], num_channels: 1 },
        layers: [
            !obj:pylearn2.models.mlp.ConvRectifiedLinear {
                layer_name: 'conv1', output_channels: 20, kernel_shape: [5, 5],
                pool_shape: [2, 2], pool_stride: [2, 2], irange: .05 },
            !obj:pylearn2.models.mlp.ConvRectifiedLinear {
                layer_name: 'conv2', output_channels: 50, kernel_shape: [5, 5],
                pool_shape: [2, 2], pool_stride: [2, 2], irange: .05 },
            !obj:pylearn2.models.mlp.RectifiedLinear { layer_name: 'fc1', dim: 500, irange: .05 },
            !obj:pylearn2.models.mlp.Softmax { layer_name: 'y', n_classes: 10, irange: .05 }
        ]
    },
    algorithm: !obj:pylearn2.training_algorithms.sgd.SGD {
        learning_rate: .01,
        learning_rule: !obj:pylearn2.training_algorithms.learning_rule.Momentum { init_momentum: .9 },
        monitoring_dataset: { 'valid': !obj:pylearn2.datasets.mnist.MNIST {
            which_set: 'train', start: 50000, stop: 60000 } },
        termination_criterion: !obj:pylearn2.termination_criteria.EpochCounter { max_epochs: 10 }
    }
}
""", "the whole experiment (data, network, solver, stopping rule) as a configuration file, as "
         "Caffe's prototxt and solver files do"),
    Idiom("dsstne", "json", """\
{
    "_comment" : "LeNet in DSSTNE's neural network layer definition language (not run)",
    "Version" : 0.8,
    "Name" : "LeNet",
    "Kind" : "FeedForward",
    "Layers" : [
        { "Name" : "Input", "Kind" : "Input", "N" : "auto", "DataSet" : "mnist_input" },
        { "Name" : "Conv1", "Kind" : "Hidden", "Type" : "Convolution", "N" : 20,
          "Kernel" : [5, 5], "KernelStride" : [1, 1], "Activation" : "Linear", "Source" : "Input" },
        { "Name" : "Pool1", "Kind" : "Pooling", "Function" : "Max", "Source" : "Conv1",
          "Kernel" : [2, 2], "KernelStride" : [2, 2] },
        { "Name" : "Conv2", "Kind" : "Hidden", "Type" : "Convolution", "N" : 50,
          "Kernel" : [5, 5], "KernelStride" : [1, 1], "Activation" : "Linear", "Source" : "Pool1" },
        { "Name" : "Pool2", "Kind" : "Pooling", "Function" : "Max", "Source" : "Conv2",
          "Kernel" : [2, 2], "KernelStride" : [2, 2] },
        { "Name" : "Fc1", "Kind" : "Hidden", "Type" : "FullyConnected", "N" : 500,
          "Activation" : "Relu", "Source" : "Pool2" },
        { "Name" : "Output", "Kind" : "Output", "Type" : "FullyConnected", "DataSet" : "mnist_output",
          "N" : "auto", "Activation" : "SoftMax", "Source" : "Fc1" }
    ],
    "ErrorFunction" : "CrossEntropy"
}
""", "a network declared as data, not code, and handed to an engine that owns training; DSSTNE "
         "was built for sparse recommendation data on GPUs, not for images"),
    Idiom("digits", "text", """\
DIGITS (a web application): LeNet on MNIST, clicked, not typed (not run)

1. Datasets > New Dataset > Images > Classification: point it at a folder with one
   sub-folder of 28x28 grayscale PNGs per digit; DIGITS writes train and validation
   LMDBs and a mean image, and shows how many images each class has.
2. Models > New Model > Images > Classification: pick that dataset; under Standard
   Networks choose LeNet (a Caffe prototxt shipped with DIGITS), or Custom Network and
   paste a prototxt into the text box; "Visualize" draws the network from the text, so a
   wrong layer name or shape shows before training.
3. Set the solver in the form (epochs, batch size, SGD, base learning rate and policy),
   choose the GPU(s), and Create: the page plots loss and accuracy live as Caffe trains.
4. On the finished model: "Classify One" uploads an image and shows the top classes and
   each layer's activations and weights; "Download Model" gives the prototxt and caffemodel.
""", "a network described by a prototxt, a solver filled in as settings, training watched live"),
    Idiom("deeplearning4j", "java", """\
// LeNet in Eclipse Deeplearning4j: Java, a configuration built layer by layer, then fit (not run)
import org.deeplearning4j.datasets.iterator.impl.MnistDataSetIterator;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.*;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

public class LeNet {
    public static void main(String[] args) throws Exception {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
            .seed(2017)
            .l2(0.0005)                                   // weight decay
            .updater(new Nesterovs(0.01, 0.9))            // SGD, Nesterov momentum 0.9
            .weightInit(WeightInit.XAVIER)
            .list()
            .layer(0, new ConvolutionLayer.Builder(5, 5).nIn(1).nOut(20).stride(1, 1)
                .activation(Activation.IDENTITY).build())          // 1x28x28 -> 20x24x24
            .layer(1, new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                .kernelSize(2, 2).stride(2, 2).build())            // -> 20x12x12
            .layer(2, new ConvolutionLayer.Builder(5, 5).nOut(50).stride(1, 1)
                .activation(Activation.IDENTITY).build())          // -> 50x8x8
            .layer(3, new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                .kernelSize(2, 2).stride(2, 2).build())            // -> 50x4x4
            .layer(4, new DenseLayer.Builder().nOut(500).activation(Activation.RELU).build())
            .layer(5, new OutputLayer.Builder(LossFunction.NEGATIVELOGLIKELIHOOD)
                .nOut(10).activation(Activation.SOFTMAX).build())
            .setInputType(InputType.convolutionalFlat(28, 28, 1))  // works out each nIn
            .build();

        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        DataSetIterator train = new MnistDataSetIterator(64, true, 2017);
        DataSetIterator test = new MnistDataSetIterator(64, false, 2017);
        net.fit(train, 10);                                        // 10 epochs
        System.out.println(net.evaluate(test).stats());
    }
}
""", "a network configured as a list of layer objects by a builder, then fit on an iterator; "
         "Keras's Sequential and fit are the same idea in Python"),
    Idiom("sklearn-theano", "python", """\
# sklearn-theano did not build LeNets: it wrapped pretrained ImageNet networks (OverFeat,
# GoogLeNet) as scikit-learn transformers, so a deep feature extractor became one pipeline
# step (not run)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn_theano.feature_extraction import OverfeatTransformer

clf = make_pipeline(OverfeatTransformer(output_layers=[-3]), LogisticRegression())
clf.fit(images_train, labels_train)    # images: (n, 231, 231, 3) uint8
print(clf.score(images_test, labels_test))
""", "a compiled Theano graph behind a plain Python call (Theano's chapter compiles one by hand)"),
)


def get(system: str) -> Idiom:
    for i in IDIOMS:
        if i.system == system:
            return i
    raise KeyError(f"no not-run idiom for {system!r}; there are: {', '.join(i.system for i in IDIOMS)}")
