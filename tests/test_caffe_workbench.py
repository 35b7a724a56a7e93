"""The DIGITS-style workbench of labkit.caffe: the prototxt checked with file:line:column
problems (labkit/caffe/check.py), drawn as a graph (draw.py), trained with the live display
(workbench.py), and the widget driven from code."""
import numpy as np
import pytest

from labkit import graphs, lenet
from labkit.caffe import caffe_pb2, check as checking, convert_mnist, draw, workbench

# A small made-up net: real digits (the probe batch) through one hidden layer. Line numbers
# matter below: `type: "InnerProduct"` of layer "hidden" is on line 10, its bottom on line 11.
NET = '''name: "tiny"
layer {
  name: "data"  type: "Data"  top: "data"  top: "label"
  transform_param { scale: 0.00390625 }
  data_param { source: "SOURCE"  batch_size: 10  backend: LMDB }
}
# a comment with a { brace and the word layer {
layer {
  name: "hidden"
  type: "InnerProduct"
  bottom: "data"
  top: "hidden"
  inner_product_param { num_output: 32  weight_filler { type: "xavier" } }
}
layer { name: "relu"  type: "ReLU"  bottom: "hidden"  top: "hidden" }
layer: {
  name: "score"  type: "InnerProduct"  bottom: "hidden"  top: "score"
  inner_product_param { num_output: 10  weight_filler { type: "xavier" } }
}
layer { name: "loss"  type: "SoftmaxWithLoss"  bottom: "score"  bottom: "label"  top: "loss" }
layer {
  name: "accuracy"  type: "Accuracy"  bottom: "score"  bottom: "label"  top: "accuracy"
  include { phase: TEST }
}
'''


@pytest.fixture
def net_text(tmp_path):
    x, y = lenet.probe_batch()                            # 20 real MNIST digits, two of each class
    db = convert_mnist(np.round(x[:, 0] * 255).astype(np.uint8), y, tmp_path / "digits_lmdb")
    return NET.replace("SOURCE", str(db))


def spot_of(text, needle, k=0):
    """1-based line and column of the k-th occurrence of ``needle``."""
    at = -1
    for _ in range(k + 1):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - text.rfind("\n", 0, at)


def test_a_good_net_has_no_problems_and_its_shapes(net_text):
    checked = checking.check(net_text, "tiny.prototxt")
    assert checked.ok, str(checked)
    assert checked.shapes[caffe_pb2.TRAIN]["hidden"] == (10, 32)
    assert "accuracy" in checked.shapes[caffe_pb2.TEST] and "accuracy" not in checked.shapes[caffe_pb2.TRAIN]
    assert str(checked).startswith("tiny.prototxt: no problems")


def test_locate_finds_each_layer_and_field_despite_comments_and_layer_colon(net_text):
    spots = checking.locate(net_text)
    assert len(spots) == 6
    assert spots[1].at == spot_of(net_text, "layer {\n  name: \"hidden\"")
    assert spots[1].of("type") == (10, 3)
    assert spots[1].value("bottom", "data") == (11, 11)
    assert spots[3].at == spot_of(net_text, "layer: {")
    assert spots[0].value("source", spots[0].values["source"][0][0])[0] == 5


def test_a_syntax_error_gives_file_line_column(net_text):
    broken = net_text.replace("num_output: 32", "num_outputs: 32")
    checked = checking.check(broken, "broken.prototxt")
    (problem,) = checked.problems
    line, column = spot_of(broken, "num_outputs")
    assert (problem.line, problem.column) == (line, column) == (13, 25)
    assert str(problem).startswith("broken.prototxt:13:25: ") and "num_outputs" in str(problem)
    unclosed = checking.check(net_text.rsplit("}", 1)[0], "unclosed.prototxt")
    assert str(unclosed.problems[0]) == 'unclosed.prototxt:23:25: Expected "}".'     # after the last token


def test_an_unknown_layer_type_points_at_the_type_and_suggests_one(net_text):
    broken = net_text.replace('type: "InnerProduct"', 'type: "InnerProdcut"', 1)
    (problem,) = checking.check(broken, "broken.prototxt").problems
    assert str(problem).startswith("broken.prototxt:10:9: layer 'hidden' has type 'InnerProdcut'")
    assert "did you mean 'InnerProduct'?" in problem.message


def test_a_dangling_bottom_points_at_the_bottom(net_text):
    broken = net_text.replace('bottom: "data"', 'bottom: "dta"')
    (problem,) = checking.check(broken, "broken.prototxt").problems
    assert str(problem).startswith("broken.prototxt:11:11: layer 'hidden' (InnerProduct) needs bottom 'dta'")
    assert "blobs so far: data, label" in problem.message


def test_a_parameter_the_type_does_not_read_and_duplicate_names(net_text):
    broken = net_text.replace('top: "hidden"\n', 'top: "hidden"\n  pooling_param { pool: AVE }\n', 1)
    broken = broken.replace('name: "relu"', 'name: "hidden"')
    problems = checking.check(broken, "broken.prototxt").problems
    assert [(p.line, p.column) for p in problems] == [(13, 3), (16, 9)]
    assert "has pooling_param, which layers of type InnerProduct do not read (they read inner_product_param)" in \
        problems[0].message
    assert "two layers of the TRAIN phase are named 'hidden'" in problems[1].message


def test_a_build_error_lands_on_the_layer_and_field_it_names(net_text, tmp_path):
    broken = net_text.replace("num_output: 32", "num_output: 0")
    (problem,) = checking.check(broken, "broken.prototxt").problems
    assert (problem.line, problem.column) == spot_of(broken, "num_output: 0")
    assert "building the TRAIN net" in problem.message and "set num_output" in problem.message
    missing = net_text.replace(str(tmp_path / "digits_lmdb"), str(tmp_path / "nowhere_lmdb"))
    (problem,) = checking.check(missing, "missing.prototxt").problems
    assert (problem.line, problem.column) == spot_of(missing, '"' + str(tmp_path / "nowhere_lmdb"))
    assert "convert_mnist" in problem.message


def test_every_layer_type_of_the_engine_is_in_the_checker():
    from labkit.caffe import engine

    assert set(checking.LAYER_PARAMS) == set(engine.LAYER_TYPES)
    fields = {f.name for f in caffe_pb2.LayerParameter.DESCRIPTOR.fields}
    assert set().union(*checking.LAYER_PARAMS.values()) <= fields


def test_the_dot_source_names_every_layer_and_blob_and_graphviz_draws_it(net_text):
    checked = checking.check(net_text, "tiny.prototxt")
    for phase in (caffe_pb2.TRAIN, caffe_pb2.TEST):
        dot = draw.net_dot(checked.net, checked.shapes[phase], phase)
        layers = [layer for layer in checked.net.layer if phase == caffe_pb2.TEST or layer.name != "accuracy"]
        for layer in layers:
            assert f'"layer:{list(checked.net.layer).index(layer)}:{layer.name}"' in dot
        assert ("accuracy" in dot) == (phase == caffe_pb2.TEST)
    dot = draw.net_dot(checked.net, checked.shapes[caffe_pb2.TRAIN])
    assert 'label="hidden\\n10x32"' in dot and 'label="hidden (in place)\\n10x32"' in dot
    assert "xavier" not in dot and 'label="score\\nInnerProduct\\n10 out"' in dot
    text = draw.net_text(checked.net, checked.shapes[caffe_pb2.TRAIN])
    assert [line.split()[0] for line in text.splitlines()] == ["data", "hidden", "relu", "score", "loss"]
    if graphs.dot_program() is None:
        pytest.skip("Graphviz is not installed: the picture itself is not checked")
    svg = workbench.draw(checked).svg()
    assert svg.lstrip().startswith("<?xml") and all(name in svg for name in ("hidden", "score", "loss"))


def test_a_net_with_a_dangling_bottom_is_still_drawn_with_the_blob_in_red(net_text):
    checked = checking.check(net_text.replace('bottom: "data"', 'bottom: "dta"'), "broken.prototxt")
    drawing = workbench.draw(checked)
    assert "dta\\nmade by no layer" in drawing.dot_source and "color=red" in drawing.dot_source
    assert "(1 problem(s))" in drawing.dot_source
    with pytest.raises(checking.CheckError):
        workbench.draw(checking.check("layer {", "broken.prototxt"))


def test_a_short_training_reduces_the_loss(net_text):
    run = workbench.train(net_text, 40, "tiny.prototxt", test_iter=2, mode="off")
    losses = run.losses
    assert len(losses) == 40 and len(run.live.history["loss"]) >= 40
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses
    assert set(run.test) == {"accuracy", "loss"} and 0 <= run.test["accuracy"] <= 1
    with pytest.raises(checking.CheckError, match=r"broken.prototxt:11:11:"):
        workbench.train(net_text.replace('bottom: "data"', 'bottom: "dta"'), 5, "broken.prototxt", mode="off")


def test_the_solver_keeps_its_settings_and_drops_its_files(net_text):
    given = caffe_pb2.SolverParameter(net="other.prototxt", weights=["w.caffemodel"], base_lr=0.1,
                                      lr_policy="fixed", snapshot=10, snapshot_prefix="x")
    p = workbench.solver_for(checking.check(net_text).net, 7, given, test_iter=3)
    assert (p.base_lr, p.lr_policy, p.max_iter, p.snapshot, list(p.test_iter), p.test_interval) == \
        (pytest.approx(0.1), "fixed", 7, 0, [3], 7)
    assert not p.HasField("net") and not p.weights and not p.snapshot_prefix and p.net_param.name == "tiny"


def test_the_widget_driven_from_code(net_text):
    bench = workbench.Workbench(net_text.replace('bottom: "data"', 'bottom: "dta"'), "tiny.prototxt", steps=3)
    bench.buttons["validate"].click()
    assert isinstance(bench.last, checking.Checked) and str(bench.last.problems[0]).startswith("tiny.prototxt:11:11:")
    bench.buttons["train"].click()                        # refused, with the problem, inside the widget
    assert isinstance(bench.last, checking.CheckError)
    bench.editor.value = net_text
    assert bench.validate().ok
    bench.phase.value = caffe_pb2.TEST
    assert "accuracy" in bench.draw().dot_source
    bench.buttons["train"].click()
    assert isinstance(bench.last, workbench.Trained) and len(bench.last.losses) == 3
