"""Measuring: one home for every benchmark.

run.py + measure.py: `edge-gemma bench` (load time, first token, decode speed, memory per
engine, beside PyTorch and llama.cpp); end_to_end.py: `edge-gemma generate` from process
start to exit; export_time.py: `edge-gemma bench-export`; scale.py: `edge-gemma bench-scale`
(exports in a model's real shape, random weights); serve_load.py: `edge-gemma bench-serve`;
llama_build.py: how `make install-llama` builds the llama.cpp baseline for this CPU, and which
build ran. The prompts are texts/prompts.py's. Figures go to docs/benchmarks.md.
Quality against the reference is edge_gemma/quality/ (`edge-gemma eval`).
"""
