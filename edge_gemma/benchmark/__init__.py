"""Measuring: one home for every benchmark and the texts they use.

run.py + measure.py: `edge-gemma bench` (load time, first token, decode speed, memory per
engine, beside PyTorch and llama.cpp); export_time.py: wall time and peak memory of `edge-gemma export`;
prompts.py: every prompt and text they (and the tests) use; llama_build.py: how `make
install-llama` builds the llama.cpp baseline for this CPU, and which build ran. Figures go to
docs/benchmarks.md.
Quality against the reference is edge_gemma/quality/ (`edge-gemma eval`).
"""
