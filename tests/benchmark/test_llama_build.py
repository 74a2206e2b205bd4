"""llama_build.py: the CMAKE_ARGS `make install-llama` builds llama.cpp with, and describe_build."""

from __future__ import annotations

import sys
import types

from edge_gemma.benchmark.llama_build import cmake_args, cpu_flags, describe_build

# Abridged /proc/cpuinfo flags of the CPUs this project has run on.
COMMON = "fpu sse sse2 ssse3 sse4_1 sse4_2 popcnt avx avx2 bmi1 bmi2 fma f16c"
AVX512 = "avx512f avx512cd avx512vl avx512dq avx512bw avx512vbmi avx512_vnni avx512_bf16"
XEON_AMX = f"{COMMON} avx_vnni {AVX512} amx_bf16 amx_tile amx_int8"  # Sapphire Rapids
EPYC = f"{COMMON} avx_vnni {AVX512} avx512_vbmi2"  # Zen 4: AVX-512, no AMX
NO_AVX512 = COMMON  # e.g. a laptop


def options(args: str) -> dict[str, str]:
    return dict(arg.removeprefix("-D").split("=") for arg in args.split())


def test_amx_xeon_builds_without_native_and_amx_with_avx512():
    got = options(cmake_args(set(XEON_AMX.split())))
    assert got["GGML_NATIVE"] == "OFF"
    assert got["GGML_AMX_TILE"] == got["GGML_AMX_INT8"] == got["GGML_AMX_BF16"] == "OFF"
    for name in ("GGML_AVX512", "GGML_AVX512_VBMI", "GGML_AVX512_VNNI", "GGML_AVX512_BF16", "GGML_AVX2",
                 "GGML_FMA", "GGML_F16C", "GGML_AVX_VNNI"):
        assert got[name] == "ON", name


def test_features_the_amx_cpu_lacks_stay_off():
    flags = set(XEON_AMX.split()) - {"avx512_bf16", "avx_vnni"}
    got = options(cmake_args(flags))
    assert got["GGML_AVX512_BF16"] == got["GGML_AVX_VNNI"] == "OFF"
    assert got["GGML_AVX512"] == "ON"


def test_cpus_without_amx_build_natively():
    assert cmake_args(set(EPYC.split())) == ""
    assert cmake_args(set(NO_AVX512.split())) == ""


def test_cpu_flags_reads_the_flags_line():
    cpuinfo = f"processor\t: 0\nmodel name\t: Intel(R) Xeon(R)\nflags\t\t: {XEON_AMX}\n\nprocessor\t: 1\n"
    assert cpu_flags(cpuinfo) == set(XEON_AMX.split())
    assert cpu_flags("processor\t: 0\n") == set()


def test_describe_build_names_args_and_compiled_features(tmp_path, monkeypatch):
    info = b"CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_BF16 = 1 | LLAMAFILE = 1 | "
    fake = types.SimpleNamespace(__version__="0.3.36", llama_print_system_info=lambda: info)
    monkeypatch.setitem(sys.modules, "llama_cpp", fake)
    assert describe_build(tmp_path) == ("llama-cpp-python 0.3.36, CMAKE_ARGS not recorded (not built by make "
                                        "install-llama); compiled: SSE3 AVX AVX2 AVX512 AVX512_BF16 LLAMAFILE")
    (tmp_path / "llama-build.txt").write_text("\n")
    assert "0.3.36, native;" in describe_build(tmp_path)
    (tmp_path / "llama-build.txt").write_text("-DGGML_NATIVE=OFF -DGGML_AMX_INT8=OFF\n")
    assert "0.3.36, -DGGML_NATIVE=OFF -DGGML_AMX_INT8=OFF; compiled:" in describe_build(tmp_path)


def test_describe_build_without_llama_cpp(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import raises ImportError
    assert describe_build() == "llama-cpp-python is not installed (make install-llama)"
