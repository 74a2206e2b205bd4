"""Export: a checkpoint becomes a compressed OpenVINO IR or ONNX model, with its manifest
and model card.

driver.py runs the steps (`run_export` of an ExportPlan); openvino.py and onnx/ are the
per-format backends (onnx/decoder.py is the traced decoder step, onnx/rewrite.py the graph
rewrites for ONNX Runtime); compression.py is where int4 and int8 become NNCF arguments;
calibration.py the data for data-aware presets; weights.py reads a written model's weights
back (precision, bytes, MatMul or not); manifest.py writes manifest.json; card.py the model
card (README.md). Importing this package imports none of them: the driver pulls in torch.
"""
