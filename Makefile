# A thin layer over the `edge-gemma` CLI. `make export` and `make test` set everything up.
# Unset variables are left to the CLI's defaults (MODEL gemma-3-270m, QUANT int4, FORMAT
# openvino), and the CLI names the export folder: nothing here spells it again.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
MODEL  ?=
QUANT  ?=
FORMAT ?=
SOURCE ?=
# The device that runs the model: LocalAI's main_gpu for `make export`/`make yaml`, the
# runtime's device for `make generate`/`make chat`.
DEVICE ?=
FORCE  ?=
# EVAL=0 skips the quality measurement at the end of an export (for 7B-9B models it runs the
# model twice over 4,800 tokens); ACCEPT_QUALITY=1 keeps an export above its recipe's max_kl;
# CALIBRATION=file.txt is the calibration text of data-aware presets.
EVAL   ?=
ACCEPT_QUALITY ?=
CALIBRATION ?=
CANDIDATES ?=
PROMPT ?= The capital of France is
ENGINE ?=
THREADS ?=
# pytest-xdist workers of `make test` (each holds its own loaded models: about 4 GB).
TEST_WORKERS ?= 2
# Where pip finds the CPU build of torch, if PyPI's default wheel for your platform is the
# CUDA one, e.g. TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

PICK = $(if $(MODEL),--model $(MODEL)) $(if $(QUANT),--quant $(QUANT)) $(if $(FORMAT),--format $(FORMAT))
EXPORT_FLAGS = $(PICK) $(if $(SOURCE),--source "$(SOURCE)") $(if $(DEVICE),--localai-device $(DEVICE)) \
	$(if $(filter 1 yes true,$(FORCE)),--force) $(if $(filter 0 no false,$(EVAL)),--no-eval) \
	$(if $(CALIBRATION),--calibration "$(CALIBRATION)") $(if $(filter 1 yes true,$(ACCEPT_QUALITY)),--accept-quality)
RUN_FLAGS = $(PICK) $(if $(DEVICE),--device $(DEVICE)) $(if $(ENGINE),--engine $(ENGINE)) \
	$(if $(THREADS),--threads $(THREADS))

.PHONY: install install-llama export yaml validate list generate chat bench bench-export eval card sweep \
	test test-fast clean

install: $(VENV)/.installed

# Everything: the runtime (the package's base requirements) plus every extra but llama
# (pyproject.toml). An app that only runs exports needs just `pip install edge-gemma`.
EXTRAS := export,onnx,serve,test

# torch first, from the CPU wheel (a bare torch requirement pulls CUDA wheels); then
# optimum-intel without its torchvision requirement (see pyproject.toml); then the rest.
$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet --no-deps optimum-intel==2.2.0
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	$(BIN)/python -c "import optimum.intel, openvino_tokenizers, nncf"
	touch $@

export: install
	$(BIN)/edge-gemma export $(EXPORT_FLAGS)

# The committed LocalAI definitions in model_yaml/, one per recipe and quant level.
yaml: install
	$(BIN)/edge-gemma yaml $(if $(DEVICE),--localai-device $(DEVICE))

validate: install
	$(BIN)/edge-gemma validate

list: install
	$(BIN)/edge-gemma list

generate: install
	$(BIN)/edge-gemma generate $(RUN_FLAGS) "$(PROMPT)"

chat: install
	$(BIN)/edge-gemma chat $(RUN_FLAGS)

# Every engine plus the PyTorch and llama.cpp baselines (llama.cpp after `make install-llama`).
bench: install
	$(BIN)/edge-gemma bench $(PICK) $(if $(THREADS),--threads $(THREADS)) $(if $(JSON),--json)

# Wall time and peak memory of each export step (docs/benchmarks.md).
bench-export: install
	$(BIN)/edge-gemma bench-export $(if $(MODEL),--model $(MODEL))

# Quality against the reference (KL, top-1, perplexity; `make export` already records it).
eval: install
	$(BIN)/edge-gemma eval $(PICK)

# The model cards of MODEL's exports in exports/, with their quant ladder.
card: install
	$(BIN)/edge-gemma card $(or $(MODEL),gemma-3-270m)

# Candidate presets exported and measured side by side (docs/quality.md): make sweep MODEL=...
sweep: install
	$(BIN)/edge-gemma sweep $(or $(MODEL),gemma-3-270m) $(if $(CANDIDATES),--candidates $(CANDIDATES))

# Optional: llama-cpp-python, the benchmark's llama.cpp baseline. It compiles llama.cpp from
# source (about 10 minutes on 2 cores), so it is not part of `make install`. Always rebuilt
# (uninstall, no wheel cache) with the CMAKE_ARGS that llama_build.py picks for this CPU: on
# AMX Xeons ggml's native build segfaults in 0.3.36, so AMX goes off there. The args are
# recorded in $(VENV)/llama-build.txt for the benchmark to report.
install-llama: install
	args="$$($(BIN)/python -m edge_gemma.benchmark.llama_build)" && echo "llama.cpp CMAKE_ARGS: $${args:-native}" && \
	$(BIN)/pip uninstall --quiet --yes llama-cpp-python && \
	CMAKE_ARGS="$$args" $(BIN)/pip install --quiet --no-binary llama-cpp-python --no-cache-dir -e '.[$(EXTRAS),llama]' && \
	echo "$$args" > $(VENV)/llama-build.txt

# Everything, as CI runs it: real exports of the real Gemma 3 270M, each measured against its
# reference (55 minutes on 2 cores of an Intel Xeon, docs/benchmarks.md).
# Two workers (pytest-xdist; tests/conftest.py): about a third of a single process's time
# goes to one core alone (Python tracing, tokenizers), which the other worker fills.
# GLIBC_TUNABLES: glibc (2.35+) asks for transparent huge pages on malloc's large blocks,
# where THP is `madvise` (Debian's default). The suite allocates gigabytes of tensors: on
# the tiny-family tests, minor page faults 17M -> 4.2M, system time 71 -> 51 s, wall 122 ->
# 109 s (AMD EPYC, 2026-12-07; docs/benchmarks.md, "Tests and CI"). Other libcs ignore it.
TEST_ENV := GLIBC_TUNABLES=glibc.malloc.hugetlb=1
test: install
	$(TEST_ENV) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --durations=15

# The tests that need no real export or checkpoint (under 2 minutes).
test-fast: install
	$(TEST_ENV) $(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf exports

# --- Serving: the LocalAI backend and OpenVINO Model Server files (edge_gemma/serve/) ---
.PHONY: localai-backend proto bench-serve ovms
ADDR ?= 127.0.0.1:50051

# The LocalAI backend on ADDR (LocalAI itself runs .venv/bin/edge-gemma-localai-backend).
localai-backend: install
	$(BIN)/edge-gemma localai-backend --addr $(ADDR)

# Regenerate the committed gRPC code after editing edge_gemma/serve/backend.proto.
proto: install
	$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --grpc_python_out=. edge_gemma/serve/backend.proto

# N concurrent streaming clients for a fixed time against the backend, genai and optimum
# engines on the same export (docs/serving.md): make bench-serve [CLIENTS=4] [SECONDS=30]
bench-serve: install
	$(BIN)/edge-gemma bench-serve $(PICK) $(if $(CLIENTS),--clients $(CLIENTS)) \
		$(if $(SECONDS),--seconds $(SECONDS)) $(if $(THREADS),--threads $(THREADS))

# An OpenVINO Model Server repository + KServe manifest: make ovms EXPORT=exports/gemma-3-270m-int4 OUT=ovms
ovms: install
	$(BIN)/edge-gemma ovms $(EXPORT) $(OUT)
