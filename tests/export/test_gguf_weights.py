"""QUANT=gguf: a GGUF's own blocks in the IR (export/gguf_blocks.py, export/gguf_weights.py).

The fast tests check the block decoding against gguf-py's own dequantization, the header
reader against gguf-py's reader, and the IR rewrite on a one-MatMul graph. The slow ones
export GGUF files: the real 270M (Q8_0, Q5_0, Q4_K, Q6_K), and Q4_0 and Q8_0 files written here
from it (two layers; llama.cpp's own quantizer when llama-cpp-python is installed, else
gguf-py's, which rounds as ggml's reference quantizer does).
"""

from __future__ import annotations

import importlib.util
import json
import numpy as np
import pytest

from edge_gemma.errors import ExportError
from edge_gemma.export.gguf_blocks import DECODERS, EXACT, decode
from edge_gemma.export.gguf_weights import keep_gguf_weights
from edge_gemma.export_folder import read_export
from edge_gemma.runtime.device_config import default_dynamic_quant_group
from edge_gemma.sources.gguf_header import matrix_types, read_header, tensor_data

ROWS, COLS = 8, 512


def _random_blocks(kind: str, rng) -> np.ndarray:
    """Random bytes in `kind`'s block layout, with normal-range f16 scales where it keeps them."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    per_block, size = GGML_QUANT_SIZES[GGMLQuantizationType[kind]]
    raw = rng.integers(0, 256, (ROWS, COLS // per_block, size), dtype=np.uint8)
    scales = [208] if kind == "Q6_K" else [0, 2] if kind in ("Q4_1", "Q5_1", "Q4_K", "Q5_K") else [0]
    for at in scales:
        raw[..., at:at + 2] = rng.normal(0, 0.01, raw.shape[:2] + (1,)).astype(np.float16).view(np.uint8)
    return raw.reshape(ROWS, -1)


@pytest.mark.parametrize("kind", list(DECODERS))
def test_blocks_hold_the_values_gguf_py_dequantizes(kind):
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize

    data = _random_blocks(kind, np.random.default_rng(0))
    blocks = decode(kind, data, COLS)
    expected = dequantize(data, GGMLQuantizationType[kind])
    if kind in EXACT:  # the file's codes and f16 scales, unchanged
        assert np.array_equal(blocks.values(), expected)
        assert blocks.zero_point is None and blocks.scale.dtype == np.float16
    else:  # f16 products of the file's two scales / f16 zero points: below 2^-10 of the range
        assert np.abs(blocks.values() - expected).max() <= np.abs(expected).max() * 2 ** -10
    assert blocks.codes.shape == (ROWS, COLS // blocks.codes.shape[2], blocks.codes.shape[2])
    low, high = (-(1 << blocks.bits - 1), (1 << blocks.bits - 1) - 1) if blocks.codes.dtype == np.int8 else \
        (0, (1 << blocks.bits) - 1)
    assert low <= blocks.codes.min() and blocks.codes.max() <= high  # fits the OpenVINO type


def test_a_k_group_with_scale_zero_keeps_its_offset():
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize

    data = _random_blocks("Q4_K", np.random.default_rng(1))
    data.reshape(ROWS, -1, 144)[:, :, 4:16] &= 0xC0  # every sub-block scale 0; offsets keep their top bits
    blocks = decode("Q4_K", data, COLS)
    expected = dequantize(data, GGMLQuantizationType.Q4_K)
    assert np.abs(blocks.values() - expected).max() <= np.abs(expected).max() * 2 ** -10


def _write_gguf(path, tensors: dict, arch: str = "gemma3", blocks: int = 1):
    """A GGUF with `tensors` (name -> (float32 array, type name)), written by gguf-py."""
    import gguf
    from gguf.quants import quantize

    writer = gguf.GGUFWriter(path, arch)
    writer.add_block_count(blocks)
    for name, (values, kind) in tensors.items():
        qtype = gguf.GGMLQuantizationType[kind]
        writer.add_tensor(name, values if kind == "F32" else quantize(values, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_header_reader_agrees_with_gguf_py(tmp_path):
    from gguf import GGUFReader

    rng = np.random.default_rng(2)
    path = _write_gguf(tmp_path / "m.gguf", {"blk.0.ffn_down.weight": (rng.normal(size=(64, 128)).astype(np.float32), "Q4_0"),
                                             "blk.0.attn_norm.weight": (rng.normal(size=128).astype(np.float32), "F32"),
                                             "token_embd.weight": (rng.normal(size=(32, 128)).astype(np.float32), "Q8_0")})
    header = read_header(path)
    assert header.fields["general.architecture"] == "gemma3" and header.fields["gemma3.block_count"] == 1
    for t in GGUFReader(path).tensors:
        mine = header.tensors[t.name]
        assert mine.shape == tuple(int(n) for n in t.shape) and mine.type == int(t.tensor_type)
        if len(mine.shape) == 2:
            assert np.array_equal(tensor_data(path, mine), t.data)


def _one_matmul(weight: np.ndarray):
    """x -> MatMul(x, W^T) with W a float Constant named as optimum-intel names a Gemma weight."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, weight.shape[1]], ov.Type.f32, name="x")
    w = ops.convert(ops.constant(weight.astype(np.float16), name="self.model.layers.0.mlp.down_proj._openvino_orig_weight"),
                    ov.Type.f32)
    return ov.Model([ops.matmul(x, w, False, True)], [x])


@pytest.mark.parametrize("kind", ["Q4_0", "Q8_0", "Q4_1"])
def test_ir_weight_becomes_the_files_blocks(tmp_path, kind):
    import openvino as ov
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize, quantize

    rng = np.random.default_rng(3)
    values = rng.normal(0, 0.02, (64, 256)).astype(np.float32)
    in_file = dequantize(quantize(values, GGMLQuantizationType[kind]), GGMLQuantizationType[kind])
    path = _write_gguf(tmp_path / "m.gguf", {"blk.0.ffn_down.weight": (values, kind)})
    model = _one_matmul(in_file)
    kept = keep_gguf_weights(model, path)
    assert kept["tensors_kept"] == {kind: 1}
    codes = [op for op in model.get_ordered_ops() if op.get_friendly_name().endswith("_openvino_orig_weight")]
    assert codes[0].get_element_type().get_type_name() == {"Q4_0": "i4", "Q8_0": "i8", "Q4_1": "u4"}[kind]
    x = rng.normal(size=(1, 256)).astype(np.float32)
    # Dynamic quantization off: it rounds the activations to int8 (CPU plugin, OpenVINO 2026.4).
    got = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"})(x)[0]
    error = np.abs(got - x @ in_file.T).max() / np.abs(x @ in_file.T).max()
    # Measured (AMD EPYC, 2026-12-03): Q4_0 1.5e-7, Q8_0 4.0e-7 (f32 sums); Q4_1 3.3e-4, its
    # zero point -m/d rounded to f16.
    assert error < (1e-5 if kind in EXACT else 1e-3), error


def test_a_gguf_that_does_not_hold_the_ir_weights_is_refused(tmp_path):
    rng = np.random.default_rng(4)
    path = _write_gguf(tmp_path / "m.gguf", {"blk.0.ffn_down.weight": (rng.normal(size=(64, 256)).astype(np.float32), "Q8_0")})
    with pytest.raises(ExportError, match="does not hold the IR's .*name map is wrong"):
        keep_gguf_weights(_one_matmul(rng.normal(size=(64, 256))), path)
    other = _write_gguf(tmp_path / "other.gguf", {"blk.0.ffn_up.weight": (rng.normal(size=(64, 256)).astype(np.float32), "Q8_0")})
    with pytest.raises(ExportError, match="has no tensor for the IR weights .*down_proj"):
        keep_gguf_weights(_one_matmul(rng.normal(size=(64, 256))), other)


def test_a_type_it_cannot_keep_is_named(tmp_path):
    import gguf

    path = tmp_path / "iq.gguf"
    writer = gguf.GGUFWriter(path, "gemma3")
    writer.add_block_count(1)
    size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.IQ4_NL][1] * (256 // 32)
    writer.add_tensor("blk.0.ffn_down.weight", np.zeros((64, size), np.uint8), raw_dtype=gguf.GGMLQuantizationType.IQ4_NL)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ExportError, match="holds IQ4_NL tensors .*cannot keep; it keeps Q8_0.*QUANT=int8 or int4"):
        keep_gguf_weights(_one_matmul(np.zeros((64, 256))), path)


# --- the refusals before any work -------------------------------------------------------------

def test_gguf_level_needs_a_gguf_source(tmp_path, capsys):
    from edge_gemma.cli import main

    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text(json.dumps({"model_type": "gemma3_text"}))
    assert main(["export", "--quant", "gguf", "--source", str(tmp_path / "hf"), "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "QUANT=gguf keeps a GGUF file's own quantization" in err[0] and "SOURCE=<file.gguf>" in err[0]
    assert not (tmp_path / "out").exists()


def test_onnx_has_no_gguf_form(capsys):
    from edge_gemma.cli import main

    assert main(["export", "--quant", "gguf", "--format", "onnx"]) == 1
    assert "FORMAT=openvino" in capsys.readouterr().err


# --- real exports (slow) ------------------------------------------------------------------------

# Measured on the AMD EPYC (2026-12-03): the 270M's gguf export KL 0.00244, top-1 96 %, against
# the bf16 checkpoint transformers dequantizes from the same file (llama.cpp on that file: KL
# 0.0053, field notes). The int8 export (per-channel, re-quantized) is 0.0068.
GGUF_BOUNDS = (0.004, 0.94)


@pytest.mark.slow
def test_real_gguf_export_keeps_the_files_blocks(gguf_export, real_checkpoint, cache_dir):
    manifest = json.loads((gguf_export / "manifest.json").read_text())
    assert manifest["compression"]["gguf"]["tensors_kept"] == {"Q4_K": 27, "Q5_0": 81, "Q6_K": 9, "Q8_0": 10}
    assert manifest["compression"]["nncf"] is None
    q = manifest["quality"]
    assert q["kl"] <= GGUF_BOUNDS[0] and q["top1"] >= GGUF_BOUNDS[1], q
    # The IR's codes are the file's bytes: blk.0.attn_v is Q8_0 (int8 codes after each f16 d).
    import openvino as ov

    gguf = next((cache_dir / "gguf").glob("*.gguf"))
    header = read_header(gguf)
    raw = np.asarray(tensor_data(gguf, header.tensors["blk.0.attn_v.weight"])).reshape(-1, 34)
    ir = {op.get_friendly_name(): op for op in ov.Core().read_model(gguf_export / "openvino_model.xml").get_ordered_ops()}
    codes = ir["self.model.layers.0.self_attn.v_proj._openvino_orig_weight"].get_data()
    assert np.array_equal(codes.reshape(-1, 32), raw[:, 2:].view(np.int8))
    card = (gguf_export / "README.md").read_text()
    assert "own quantized blocks, not quantized again" in card and f"| mean KL divergence | {q['kl']:.3g} |" in card


@pytest.fixture(scope="module")
def small_ggufs(tmp_path_factory, cache_dir, real_checkpoint):
    """Q4_0 and Q8_0 GGUFs of the 270M's first two layers, and their QUANT=gguf exports. Made
    by llama.cpp's own quantizer from an F16 file when llama-cpp-python is installed (`make
    install-llama`; CI has not the 10 minutes its build takes), else by gguf-py's."""
    from edge_gemma.cli import main
    from edge_gemma.sources.gguf_write import requantize

    source = next((cache_dir / "gguf").glob("*.gguf"))
    root = tmp_path_factory.mktemp("small-ggufs")
    made = {}
    llama = importlib.util.find_spec("llama_cpp") is not None
    if llama:
        from edge_gemma.benchmark.llama_ladder import quantize

        f16 = requantize(source, root / "two-layers-F16.gguf", "F16", layers=2)
    for kind in ("Q4_0", "Q8_0"):
        path = root / f"two-layers-{kind}.gguf"
        if llama:
            quantize(f16, path, kind, threads=2)
        else:
            requantize(source, path, kind, layers=2)
        out = root / f"export-{kind}"
        assert main(["export", "--quant", "gguf", "--source", str(path), "--output", str(out), "--no-eval",
                     "--cache-dir", str(cache_dir)]) == 0
        made[kind] = (path, out)
    return made


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["Q4_0", "Q8_0"])
def test_q4_0_and_q8_0_ggufs_export_as_the_file_holds_them(small_ggufs, kind):
    import torch

    from edge_gemma.quality.models import IRModel
    from edge_gemma.sources.gguf_tensors import gguf_model

    path, export = small_ggufs[kind]
    manifest = json.loads((export / "manifest.json").read_text())
    # Every matrix kept as the file holds it: 7 x 2 layers and the table. llama.cpp's Q4_0
    # keeps the tied table (its output) at Q8_0; gguf-py's writes it Q4_0 too.
    matrices = matrix_types(path)
    assert sum(matrices.values()) == 15 and matrices[kind] >= 14, matrices
    assert manifest["compression"]["gguf"]["tensors_kept"] == dict(matrices)
    bits = manifest["compression"]["bitwidth"]
    assert set(bits) == {{"Q4_0": "int4_sym", "Q8_0": "int8_sym"}[k] for k in matrices}, bits
    # The runtime turns the CPU's activation quantization off for an all-int8 file (Q8_0): its
    # KL went from 0.00303 to 0.00078 on the 270M (docs/quality.md); Q4_0 keeps the default.
    info = read_export(export)
    assert default_dynamic_quant_group(info.compression, info.bitwidths) == (0 if kind == "Q8_0" else None)
    # The file's own model, dequantized in f32 (every value exact) as transformers would
    # (tests/sources/test_gguf_tensors.py), without its two 30-s reads of the vocabulary.
    reference = gguf_model(path, read_header(path, arrays=True), torch.float32)
    ids = [2, 818, 5279, 529, 7001, 563, 9079, 236761, 669, 5279, 529, 9405, 563]
    with torch.no_grad():
        expected = reference(input_ids=torch.tensor([ids])).logits[0].numpy()
    # f32 and dynamic quantization off: the CPU plugin otherwise rounds activations to int8.
    config = {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"}
    got = IRModel(export / "openvino_model.xml", config).logits(ids)
    assert (got.argmax(-1) == expected.argmax(-1)).all()
    # Measured (AMD EPYC, 2026-12-04), logits 1.6-15: Q4_0 0.047, Q8_0 0.049; the IR's norms
    # and other float weights come from the bf16 checkpoint, the reference's are f32. With
    # dynamic quantization on, Q4_0 was 0.51.
    assert np.abs(got - expected).max() < 0.1, np.abs(got - expected).max()
