# A thin layer over the `edge-gemma` CLI. `make export` and `make test` set everything up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
MODEL  ?= gemma-3-270m
QUANT  ?= int4
FORMAT ?= openvino
SOURCE ?=
DEVICE ?=
FORCE  ?=
PROMPT ?= The capital of France is
ENGINE ?=
THREADS ?=
EXPORT_DIR = exports/$(MODEL)-$(QUANT)$(if $(filter onnx,$(FORMAT)),-onnx)
RUN_FLAGS = $(if $(DEVICE),--device $(DEVICE)) $(if $(ENGINE),--engine $(ENGINE)) $(if $(THREADS),--threads $(THREADS))
# Where pip finds the CPU build of torch, if PyPI's default wheel for your platform is the
# CUDA one, e.g. TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

EXPORT_FLAGS = --model $(MODEL) --quant $(QUANT) --format $(FORMAT) \
	$(if $(SOURCE),--source "$(SOURCE)") $(if $(DEVICE),--device $(DEVICE)) $(if $(filter 1 yes true,$(FORCE)),--force)

.PHONY: install install-llama export yaml validate list generate chat bench test bench-export clean

install: $(VENV)/.installed

# torch first, from the CPU wheel (a bare torch requirement pulls CUDA wheels); then
# optimum-intel without its torchvision requirement (see pyproject.toml); then the rest.
$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet --no-deps optimum-intel==2.2.0
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/python -c "import optimum.intel, openvino_tokenizers, nncf"
	touch $@

export: install
	$(BIN)/edge-gemma export $(EXPORT_FLAGS)

yaml: install
	$(BIN)/edge-gemma yaml $(if $(DEVICE),--device $(DEVICE))

validate: install
	$(BIN)/edge-gemma validate

list: install
	$(BIN)/edge-gemma list

generate: install
	$(BIN)/edge-gemma generate $(EXPORT_DIR) "$(PROMPT)" $(RUN_FLAGS)

chat: install
	$(BIN)/edge-gemma chat $(EXPORT_DIR) $(RUN_FLAGS)

# Every engine plus the PyTorch and llama.cpp baselines (llama.cpp after `make install-llama`).
bench: install
	$(BIN)/edge-gemma bench $(EXPORT_DIR) $(if $(THREADS),--threads $(THREADS)) $(if $(JSON),--json)

# Optional: llama-cpp-python, the benchmark's llama.cpp baseline. It compiles llama.cpp from
# source (about 10 minutes on 2 cores), so it is not part of `make install`.
install-llama: install
	$(BIN)/pip install --quiet -e '.[test,llama]'

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf exports

bench-export: install
	$(BIN)/python bench/export.py --model $(MODEL)
