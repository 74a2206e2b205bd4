"""How `make install-llama` builds llama.cpp (the benchmark's baseline), and which build ran.

llama-cpp-python 0.3.36 built with ggml's default `GGML_NATIVE=ON` segfaults on the first
decode on Intel Xeons with AMX (in `ggml_backend_amx_mul_mat`). On such CPUs `cmake_args`
turns native detection and AMX off and names the x86 features the CPU has instead; elsewhere
it returns "" (ggml's native build). `python -m edge_gemma.benchmark.llama_build` prints it
for the Makefile, which records it in the venv (BUILD_FILE) for `describe_build`.

Option names are those of ggml/CMakeLists.txt in llama.cpp as vendored by llama-cpp-python
0.3.36; with `GGML_NATIVE=OFF` ggml's src/ggml-cpu/CMakeLists.txt turns each `GGML_<X>=ON`
into its `-m<x>` compiler flag.
"""

from __future__ import annotations

import sys
from pathlib import Path

AMX_FLAGS = {"amx_tile", "amx_int8", "amx_bf16"}
# -DGGML_AVX512=ON compiles with -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw.
AVX512_BASE = {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"}
# ggml option -> the /proc/cpuinfo flag it needs; stated ON or OFF each, because with
# NATIVE=OFF ggml's defaults for SSE42..F16C depend on SOURCE_DATE_EPOCH being set.
FEATURES = {
    "GGML_SSE42": "sse4_2",
    "GGML_AVX": "avx",
    "GGML_AVX2": "avx2",
    "GGML_BMI2": "bmi2",
    "GGML_FMA": "fma",
    "GGML_F16C": "f16c",
    "GGML_AVX_VNNI": "avx_vnni",
    "GGML_AVX512_VBMI": "avx512vbmi",
    "GGML_AVX512_VNNI": "avx512_vnni",
    "GGML_AVX512_BF16": "avx512_bf16",
}
AMX_OFF = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")
# Where `make install-llama` records the CMAKE_ARGS it built with ("" = native).
BUILD_FILE = "llama-build.txt"


def cpu_flags(cpuinfo: str) -> set[str]:
    """The feature flags of the first processor in a /proc/cpuinfo text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def cmake_args(cpu_flags: set[str]) -> str:
    """CMAKE_ARGS for llama-cpp-python on a CPU with these flags: "" (native) unless it has AMX."""
    if not AMX_FLAGS & cpu_flags:
        return ""
    avx512 = AVX512_BASE <= cpu_flags
    options = {"GGML_NATIVE": False, **{name: False for name in AMX_OFF}, "GGML_AVX512": avx512}
    for name, flag in FEATURES.items():
        # ggml's AVX512_* options add their -m flag without AVX512F's; keep them under it.
        needs_avx512 = name.startswith("GGML_AVX512_")
        options[name] = flag in cpu_flags and (avx512 or not needs_avx512)
    return " ".join(f"-D{name}={'ON' if on else 'OFF'}" for name, on in options.items())


def recorded_args(prefix: str | Path | None = None) -> str | None:
    """The CMAKE_ARGS `make install-llama` recorded in the venv, or None if it did not."""
    path = Path(sys.prefix if prefix is None else prefix) / BUILD_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def describe_build(prefix: str | Path | None = None) -> str:
    """One line: the llama-cpp-python version, its CMAKE_ARGS and the CPU features compiled in."""
    try:
        import llama_cpp
    except ImportError:
        return "llama-cpp-python is not installed (make install-llama)"
    args = recorded_args(prefix)
    how = "CMAKE_ARGS not recorded (not built by make install-llama)" if args is None else (args or "native")
    return f"llama-cpp-python {llama_cpp.__version__}, {how}; {compiled_features(llama_cpp.llama_print_system_info())}"


def compiled_features(system_info: bytes | str) -> str:
    """The CPU features in llama_print_system_info()'s "CPU : SSE3 = 1 | AVX = 1 | ..." text."""
    if isinstance(system_info, bytes):
        system_info = system_info.decode("utf-8", "replace")
    on = [name.strip().split(":")[-1].strip() for name, _, value in
          (part.partition("=") for part in system_info.split("|")) if value.strip() == "1"]
    return "compiled: " + (" ".join(on) or "no SIMD features")


if __name__ == "__main__":
    print(cmake_args(cpu_flags(Path("/proc/cpuinfo").read_text(encoding="utf-8"))))
