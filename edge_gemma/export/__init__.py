"""Export: a checkpoint becomes a compressed OpenVINO IR or ONNX model, with its manifest.

driver.py runs the steps (`run_export`); openvino.py and onnx/ are the per-format backends
(onnx/decoder.py is the traced decoder step, onnx/rewrite.py the graph rewrites for ONNX
Runtime); compression.py is where int4 and int8 become NNCF arguments; weights.py reads a
written model's weights back (precision, bytes, MatMul or not); manifest.py writes
manifest.json. Importing this package imports none of them: the driver pulls in torch.
"""
