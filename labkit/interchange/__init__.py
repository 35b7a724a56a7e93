"""Models that travel: the LeNet of every chapter, exported to ONNX, checked, and read back
elsewhere (chapter 31, ``notebooks/31_onnx.ipynb``).

Modules, one concern each; none imports a toolkit until a function needs it:

* ``formats``: the model files this workbook writes, and ``ModelFileError``, the clear error
  for a missing, truncated or corrupt one, whatever loader meets it;
* ``onnxfiles``: one ONNX file checked (``onnx.checker``), described as text, run in
  onnxruntime (any layout, any batch) and read by OpenCV's dnn module, and timed;
* ``caffe_onnx``: ours, a deploy prototxt + caffemodel as an ONNX graph;
* ``torch_import``: ours, an ONNX graph as a ``torch.nn.Module``;
* ``run``: the chapter's export cells, one fresh process per Keras backend, and OpenCV in a
  child (its reader can kill the process that calls it);
* ``matrix``: the agreement matrix, the speeds and their records, and ``exports_imports``,
  the "exports to / imports from" facts for the review's criteria matrix.
"""
