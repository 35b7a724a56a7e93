"""labkit.interchange: ONNX files checked and read back, our Caffe-to-ONNX converter and ONNX-to-PyTorch
importer held to the NumPy reference, clear errors for damaged files, the matrix and its facts, and
(slow) chapter 31's exports, whose state per toolkit is pinned here.

The fast tests build their ONNX files with labkit's own converter from the shared weights (no
toolkit process); PyTorch and onnxruntime run in this process.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from figure1 import write_deploy_files

from labkit import caffe, lenet
from labkit.interchange import caffe_onnx, formats, matrix, onnxfiles, run, torch_import

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "31_onnx.ipynb"


@pytest.fixture(scope="module")
def caffe_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("caffe")
    return write_deploy_files(caffe, folder, lenet.initial_weights(), softmax=True, prototxt="deploy.prototxt")


@pytest.fixture(scope="module")
def onnx_file(caffe_files, tmp_path_factory):
    import onnx

    path = tmp_path_factory.mktemp("onnx") / "lenet.onnx"
    onnx.save(caffe_onnx.caffe_to_onnx(*caffe_files, outputs=["score"]), path)
    return path


# --- our converter and importer, against the NumPy reference -------------------------------------

def test_caffe_to_onnx_computes_the_reference_logits_in_onnxruntime(onnx_file):
    info = onnxfiles.check(onnx_file)
    assert info["operators"] == ["Conv", "MaxPool", "Conv", "MaxPool", "Flatten", "Gemm", "Relu", "Flatten", "Gemm"]
    assert info["inputs"] == {"data": ["batch", 1, 28, 28]} and list(info["outputs"]) == ["score"]
    assert info["parameters"] == lenet.N_PARAMS
    x, _ = lenet.probe_batch()
    got = onnxfiles.run(onnxfiles.session(onnx_file), x, batch=7)   # in uneven batches: the batch is free
    assert lenet.check_logits(got) <= lenet.LOGITS_ATOL


def test_the_softmax_output_and_in_place_relu_keep_one_name_per_value(caffe_files):
    model = caffe_onnx.caffe_to_onnx(*caffe_files)           # default: the last layer's top, "prob"
    outputs = [o for n in model.graph.node for o in n.output]
    assert len(outputs) == len(set(outputs)) and "fc1/0" in outputs and "fc1" in outputs
    assert [o.name for o in model.graph.output] == ["prob"] and model.graph.node[-1].op_type == "Softmax"


def test_a_layer_the_converter_does_not_know_is_named(caffe_files, tmp_path):
    net = caffe.read_net(caffe_files[0])
    net.layer.add(name="norm", type="LRN", bottom=["score"], top=["norm"])
    caffe.write_net(net, tmp_path / "lrn.prototxt")
    with pytest.raises(caffe_onnx.UnsupportedLayer, match=r"layer 'norm' is of type 'LRN'.*it knows Input"):
        caffe_onnx.caffe_to_onnx(tmp_path / "lrn.prototxt", caffe_files[1])


def test_caffe_pooling_rounds_up_in_onnx_too(caffe_files, tmp_path):
    import onnxruntime as ort

    net = caffe.read_net(caffe_files[0])
    net.layer[2].pooling_param.kernel_size = 3                # pool1 3x3 stride 2 on 24x24: Caffe gives 12x12
    caffe.write_net(net, tmp_path / "pool3.prototxt")
    import onnx

    model = caffe_onnx.caffe_to_onnx(tmp_path / "pool3.prototxt", caffe_files[1], outputs=["pool1"])
    onnx.save(model, tmp_path / "pool3.onnx")
    out = ort.InferenceSession(str(tmp_path / "pool3.onnx")).run(None, {"data": np.zeros((2, 1, 28, 28), np.float32)})
    assert out[0].shape == (2, 20, 12, 12)


def test_our_importer_gives_a_trainable_module_with_the_reference_logits(onnx_file):
    import torch

    module = torch_import.to_torch(onnx_file)
    assert sum(p.numel() for p in module.parameters()) == lenet.N_PARAMS
    x, y = lenet.probe_batch()
    assert lenet.check_logits(torch_import.predict(module, x)) <= lenet.LOGITS_ATOL
    loss = torch.nn.functional.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()                                          # gradients reach every parameter
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_our_importer_refuses_an_unknown_operator_by_name(onnx_file, tmp_path):
    import onnx

    model = onnx.load(onnx_file)
    model.graph.node[6].op_type = "Selu"                     # the Relu
    onnx.save(model, tmp_path / "selu.onnx")
    with pytest.raises(torch_import.UnsupportedOperator, match=r"selu\.onnx.*does not translate Selu \(relu1\)"):
        torch_import.to_torch(tmp_path / "selu.onnx")


def test_layout_and_fixed_batch_are_read_from_the_graph(onnx_file, tmp_path):
    import onnx

    assert onnxfiles.layout(onnx_file) == ("NCHW", None)
    model = onnx.load(onnx_file)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_value = 4                                    # a batch fixed at 4
    onnx.save(model, tmp_path / "b4.onnx")
    assert onnxfiles.layout(tmp_path / "b4.onnx") == ("NCHW", 4)
    x, _ = lenet.probe_batch()                               # 20 images: run in 5 batches of 4
    assert lenet.check_logits(onnxfiles.run(onnxfiles.session(tmp_path / "b4.onnx"), x)) <= lenet.LOGITS_ATOL


def test_the_text_summary_lists_every_node(onnx_file):
    text = onnxfiles.summary(onnx_file)
    assert "431,080 parameters" in text and text.count("\n  ") == 9 and "transB=1" in text


# --- damaged files: every reader names the file and what it expected -------------------------------

def _damaged(path: Path, tmp_path: Path) -> dict[str, Path]:
    data = path.read_bytes()
    out = {"truncated": data[: len(data) // 2], "corrupt": data[:64] + bytes(reversed(data[64:])),
           "empty": b"", "text": b"<html>not found</html>"}
    files = {}
    for how, content in out.items():
        files[how] = tmp_path / f"{how}{''.join(path.suffixes)}"
        files[how].write_bytes(content)
    return files


@pytest.mark.parametrize("reader", ["onnx.load", "onnxruntime", "PyTorch (ours)"])
def test_every_onnx_reader_names_a_damaged_file(onnx_file, tmp_path, reader):
    load = {"onnx.load": formats.read_onnx, "onnxruntime": onnxfiles.session,
            "PyTorch (ours)": torch_import.to_torch}[reader]
    for how, path in _damaged(onnx_file, tmp_path).items():
        with pytest.raises(formats.ModelFileError, match=rf"{path.name}.*(Expected|expected) .*ModelProto"):
            load(path)
    with pytest.raises(formats.ModelFileError, match=r"no ONNX model \(\.onnx\) at .*missing\.onnx: no such file"):
        load(tmp_path / "missing.onnx")


@pytest.mark.slow
def test_opencv_reads_in_a_child_and_names_a_damaged_file(onnx_file, tmp_path):
    x, _ = lenet.probe_batch()
    got = run.opencv_logits(onnx_file, x)
    assert lenet.check_logits(got["logits"]) <= lenet.LOGITS_ATOL
    broken = _damaged(onnx_file, tmp_path)["truncated"]
    error = run.opencv_logits(broken, x)["error"]
    assert "ModelFileError" in error and broken.name in error


def test_caffemodel_damage_is_named(caffe_files, tmp_path):
    prototxt, weights = caffe_files
    for how, path in _damaged(weights, tmp_path).items():
        with pytest.raises(formats.ModelFileError, match=rf"{path.name}.*Caffe weights"):
            formats.opened(path, "caffemodel", "labkit.caffe",
                           lambda p: caffe_onnx.caffe_to_onnx(prototxt, p))


def test_zip_json_and_mxnet_files_are_sniffed(tmp_path):
    import io
    import struct
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"\0" * 4096)
    whole = tmp_path / "m.keras"
    whole.write_bytes(buf.getvalue())
    assert formats.sniff(whole, "keras") == whole
    (tmp_path / "half.keras").write_bytes(buf.getvalue()[:2000])
    with pytest.raises(formats.ModelFileError, match=r"half\.keras .*zip table of contents is missing or damaged"):
        formats.sniff(tmp_path / "half.keras", "keras")
    (tmp_path / "g-symbol.json").write_text('{"nodes": [')
    with pytest.raises(formats.ModelFileError, match=r"g-symbol\.json .*not valid JSON"):
        formats.sniff(tmp_path / "g-symbol.json", "mxnet-symbol")
    # MXNet's NDArray list: magic, reserved, one float32 array of shape (3,), no names
    arr = struct.pack("<IiI1qiii", 0xF993FAC9, 0, 1, 3, 1, 0, 0) + np.ones(3, np.float32).tobytes()
    params = struct.pack("<QQQ", 0x112, 0, 1) + arr + struct.pack("<Q", 0)
    (tmp_path / "p.params").write_bytes(params)
    assert formats.sniff(tmp_path / "p.params", "mxnet-params")
    (tmp_path / "short.params").write_bytes(params[:-12])
    with pytest.raises(formats.ModelFileError, match=r"short\.params .*truncated"):
        formats.sniff(tmp_path / "short.params", "mxnet-params")
    (tmp_path / "x.params").write_bytes(b"\0" * 64)
    with pytest.raises(formats.ModelFileError, match=r"x\.params .*magic number 0x112"):
        formats.sniff(tmp_path / "x.params", "mxnet-params")
    with pytest.raises(ValueError, match="unknown kind of model file 'h5'"):
        formats.sniff(whole, "h5")


def test_a_loader_error_is_wrapped_with_the_file_and_the_original_chained(onnx_file):
    def refuse(path):
        raise RuntimeError("Check failed: fi->Read(data)")

    with pytest.raises(formats.ModelFileError, match=r"the reader could not read .*lenet\.onnx .*Check failed") as info:
        formats.opened(onnx_file, "onnx", "the reader", refuse)
    assert isinstance(info.value.__cause__, RuntimeError)


# --- the matrix and the facts ----------------------------------------------------------------------

def test_the_matrix_and_the_facts_come_from_what_was_measured(onnx_file):
    x, _ = lenet.probe_batch()
    w = lenet.initial_weights()
    exports = [{"toolkit": "ok-kit", "onnx": str(onnx_file), "error": None, "native_logits": lenet.forward(w, x)},
               {"toolkit": "broken-kit", "onnx": None, "error": "ImportError: needs tf2onnx",
                "native_logits": lenet.forward(w, x) + 1.0}]
    readers = {"onnxruntime": lambda p: onnxfiles.run(onnxfiles.session(p), x),
               "PyTorch (ours)": lambda p: torch_import.predict(torch_import.to_torch(p), x),
               "OpenCV": lambda p: {"error": "killed (SIGFPE)"}}
    measured = matrix.measure(exports, w, readers=readers)
    assert measured["ok-kit"]["onnxruntime"]["ok"] and measured["ok-kit"]["native"]["ok"]
    assert not measured["ok-kit"]["OpenCV"]["ok"] and not measured["broken-kit"]["native"]["ok"]
    assert measured["broken-kit"]["export"]["error"] == "ImportError: needs tf2onnx"
    table = matrix.agreement_table(measured)
    assert table.rows[1][2] == "no: ImportError" and table.rows[0][6] == "no: killed (SIGFPE)"
    facts = matrix.exports_imports(measured, {"opencv": {"ONNX": matrix.reader_verdicts(measured, "OpenCV")},
                                              "pytorch": {"ONNX": matrix.reader_verdicts(measured, "PyTorch (ours)")}})
    assert facts["ok-kit"]["exports to"] == ["ONNX"] and facts["broken-kit"]["exports to"] == []
    assert "tf2onnx" in facts["broken-kit"]["notes"][0]
    assert facts["pytorch"]["imports from"] == ["ONNX"] and facts["opencv"]["imports from"] == []
    assert ("ok-kit", "OpenCV", "killed (SIGFPE)") in matrix.errors(measured)
    assert facts["pytorch"]["notes"] == ["ONNX read by PyTorch (ours)"]


def test_the_facts_are_saved_and_read_back_dated(tmp_path):
    facts = {"pytorch": {"exports to": ["ONNX"], "imports from": ["ONNX"], "notes": []}}
    with pytest.raises(LookupError, match=r"no interchange facts .*run notebooks/31_onnx\.ipynb"):
        matrix.load_facts(tmp_path / "none.json")
    path = matrix.save_facts(facts, tmp_path / "facts.json")
    back = matrix.load_facts(path)
    assert back["pytorch"] == facts["pytorch"] and len(back["measured"]) == 10


def test_speeds_are_recorded_beside_each_other(tmp_path):
    from labkit import records

    written = matrix.record_speeds({"pytorch": {1: 100.0, 256: 900.0}}, {"pytorch": {1: 2000.0, 256: 1500.0}},
                                   {"pytorch": "pytorch.onnx"}, path=tmp_path, device="cpu")
    assert len(written) == 4
    back = records.read_records(tmp_path, chapter="31_onnx", runtime="onnxruntime")
    assert sorted((r["batch_size"], r["value"]) for r in back) == [(1, 2000.0), (256, 1500.0)]
    assert "20.00x" in str(matrix.speed_table({"pytorch": {1: 100.0}}, {"pytorch": {1: 2000.0}}))


# --- chapter 31's exports, pinned (slow: three toolkit processes) -----------------------------------

#: Today's state of every exporter, as chapter 31 finds it. A change either way fails here, on
#: purpose: a fixed exporter means the chapter's text (and this pin) should say so.
PINNED = {
    "pytorch": None, "keras-torch": None, "mxnet": None, "paddle": None, "caffe-style": None,
    "keras-tensorflow": None, "tensorflow": None,             # both through tf2onnx, in the environment
    "keras-jax": "This requires the jax2onnx module",         # jax2onnx wants jax>=0.8 and onnx>=1.20
}


@pytest.fixture(scope="module")
def chapter_exports(tmp_path_factory):
    """The chapter's exports from the shared weights, written under a temporary runs folder."""
    runs = tmp_path_factory.mktemp("runs")
    (runs / "onnx").mkdir()
    np.savez(runs / "onnx" / "trained_lenet.npz", **lenet.initial_weights())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_RUNS", str(runs))                  # the children inherit it
        result = run.export_all(NOTEBOOK)
    assert all(not isinstance(result[b], dict) for b in run.BACKENDS), result
    return [e for b in run.BACKENDS for e in result[b]]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_exporters_state_is_as_pinned(chapter_exports):
    x, _ = lenet.probe_batch()
    got = {e["toolkit"]: e for e in chapter_exports}
    assert set(got) == set(PINNED)
    for toolkit, error in PINNED.items():
        e = got[toolkit]
        assert lenet.check_logits(e["native_logits"], name=f"{toolkit} native") <= lenet.LOGITS_ATOL
        if error is None:
            assert e["error"] is None and e["onnx"], (toolkit, e["error"])
            onnxfiles.check(e["onnx"])
            assert lenet.check_logits(onnxfiles.run(onnxfiles.session(e["onnx"]), x), name=toolkit) <= lenet.LOGITS_ATOL
        else:
            assert e["onnx"] is None and error in (e["error"] or ""), (toolkit, e["error"])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_toolkit_loader_names_its_damaged_files(chapter_exports):
    seen = {}
    for e in chapter_exports:
        for b in e.get("bad_input", []):
            seen[(b["reader"], b["how"], Path(b["file"]).suffix)] = b["error"]
            assert b["error"] and Path(b["file"]).name in b["error"] and "Expected" in b["error"], b
    readers = {r for r, _, _ in seen}
    assert readers == {"torch.export.load", "keras.models.load_model", "mx.gluon.SymbolBlock.imports",
                       "paddle.jit.load", "labkit.caffe.Net"}
    assert len(seen) == 2 * 7          # truncated and corrupt, for .pt2 .keras -symbol.json .params .json .pdiparams .caffemodel
