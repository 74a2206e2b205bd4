"""The GGUF header reader and gguf_tensors.py give what gguf-py and transformers give.

On a two-layer Gemma 3 GGUF written here with a 300-token vocabulary (transformers' own
loader is then quick), matrices in Q8_0, Q4_0 and F16 and norms in F32, as the real files mix
them.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_gemma.sources.gguf_header import read_header
from edge_gemma.sources.gguf_tensors import gguf_config, gguf_model
from edge_gemma.sources.gguf_write import requantize

VOCAB = 300


@pytest.fixture(scope="module")
def small_gguf(tmp_path_factory):
    """A random two-layer Gemma 3 text model written as a GGUF, as llama.cpp's converter
    writes one (norms +1, gguf-py's tensor names), with the fields transformers reads."""
    import gguf
    import torch
    import transformers
    from gguf.quants import quantize

    torch.manual_seed(0)
    config = transformers.Gemma3TextConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                           num_attention_heads=2, num_key_value_heads=1, head_dim=32,
                                           sliding_window=12, max_position_embeddings=512)
    model = transformers.Gemma3ForCausalLM(config)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, 2)
    path = tmp_path_factory.mktemp("gguf") / "small.gguf"
    writer = gguf.GGUFWriter(path, "gemma3")
    writer.add_name("small gemma")
    writer.add_context_length(512)
    writer.add_block_count(2)
    writer.add_feed_forward_length(128)
    writer.add_embedding_length(64)
    writer.add_key_length(32)
    writer.add_value_length(32)
    writer.add_head_count(2)
    writer.add_head_count_kv(1)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_sliding_window(12)
    writer.add_rope_freq_base(1e6)
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"tok{i}" for i in range(VOCAB)])
    writer.add_token_scores([float(-i) for i in range(VOCAB)])
    writer.add_token_types([1] * VOCAB)
    kinds = ["Q8_0", "Q4_0", "F16"]
    for i, (name, value) in enumerate(model.state_dict().items()):
        if name == "lm_head.weight":
            continue  # tied to the table
        values = value.float().numpy()
        base, suffix = name.rsplit(".", 1)
        if "norm" in name:
            writer.add_tensor(names.get_name(base) + "." + suffix, values + 1)  # llama.cpp stores 1 + w
            continue
        kind = gguf.GGMLQuantizationType[kinds[i % 3]]
        data = values.astype(np.float16) if kind.name == "F16" else quantize(values, kind)
        writer.add_tensor(names.get_name(base) + "." + suffix, data, raw_dtype=None if kind.name == "F16" else kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_header_reads_arrays_and_types_as_gguf_py_does(small_gguf):
    from gguf import GGUFReader, GGUFValueType

    header = read_header(small_gguf, arrays=True)
    fields = GGUFReader(small_gguf).fields
    for name, field in fields.items():
        if name.startswith("GGUF."):
            continue
        assert header.fields[name] == field.contents(), name
        inner = int(field.types[-1]) if field.types[0] == GGUFValueType.ARRAY else None
        assert header.types[name] == (int(field.types[0]), inner), name
    assert "tokenizer.ggml.tokens" not in read_header(small_gguf).fields  # arrays only when asked


def test_config_and_weights_are_those_transformers_loads(small_gguf):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    header = read_header(small_gguf, arrays=True)
    theirs = AutoConfig.from_pretrained(str(small_gguf.parent), gguf_file=small_gguf.name).to_dict()
    ours = gguf_config(header).to_dict()
    for key in ("_commit_hash", "_name_or_path"):  # where it was loaded from, not saved
        theirs.pop(key, None), ours.pop(key, None)
    assert ours == theirs
    expected = AutoModelForCausalLM.from_pretrained(str(small_gguf.parent), gguf_file=small_gguf.name,
                                                    dtype=torch.float32).state_dict()
    got = gguf_model(small_gguf, header, torch.float32).state_dict()
    assert got.keys() == expected.keys()
    for name in expected:
        assert torch.equal(got[name], expected[name]), name


def test_requantized_file_keeps_the_metadata(small_gguf, tmp_path):
    from gguf import GGUFReader

    out = requantize(small_gguf, tmp_path / "one-layer.gguf", "Q8_0", layers=1)
    before, after = read_header(small_gguf, arrays=True), read_header(out, arrays=True)
    changed = {k for k in before.fields if before.fields[k] != after.fields.get(k)}
    assert changed == {"gemma3.block_count"} and after.fields["gemma3.block_count"] == 1
    assert after.types == before.types
    kinds = {t.name: t.tensor_type.name for t in GGUFReader(out).tensors}
    assert not any(name.startswith("blk.1.") for name in kinds)
    assert {kind for name, kind in kinds.items() if "norm" not in name} == {"Q8_0"}
    assert {kind for name, kind in kinds.items() if "norm" in name} == {"F32"}
