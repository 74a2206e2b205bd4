"""The ONNX export: backend.py (trace, compress, check), decoder.py (the module traced),
rewrite.py (graph rewrites for ONNX Runtime's fused kernels)."""
