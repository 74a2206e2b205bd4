"""The SentencePiece-op tokenizer IR replaces optimum's BPE one only where the two agree.

A small Gemma-shaped vocabulary (control, user-defined, byte and normal pieces, merges whose
order matters) keeps each conversion to seconds; the real 270M's IR is checked against
llama.cpp's ids in tests/sources/test_gguf_tokenizer.py and against transformers in
tests/runtime/test_tokenizer.py.
"""

from __future__ import annotations

import shutil

import openvino_genai
import pytest

from edge_gemma.export.sentencepiece_ir import probe_texts, tokenizer_ir_kind, use_sentencepiece_tokenizer
from edge_gemma.sources.gguf_tokenizer import (BYTE, CONTROL, NORMAL, UNKNOWN, USER_DEFINED, sentencepiece_model,
                                               tokenizer_from_vocab)

SPECIAL = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
CHARS = list("▁abcdefghijklmnopqrstuvwxyzTAIW.,'")
# "th" and "he" without "the": which merges first decides how "the" splits.
MERGES = ["th", "he", "▁t", "in", "er", "an", "▁a", "re", "on", "at", "en", "nd", "es", "or", "▁th", "▁o",
          "of", "ed", "is", "it", "▁w", "▁s", "▁i", "ing", "▁the"]


def small_vocab(reverse_scores: bool = False) -> dict:
    tokens = SPECIAL + ["\n"] + [f"<0x{b:02X}>" for b in range(256)] + CHARS + MERGES
    types = [CONTROL] * len(SPECIAL) + [USER_DEFINED] + [BYTE] * 256 + [NORMAL] * (len(CHARS) + len(MERGES))
    scores = [0.0] * (len(SPECIAL) + 1 + 256) + [-1000.0] * len(CHARS) + [-float(i) for i in range(len(MERGES))]
    if reverse_scores:
        scores = scores[:-len(MERGES)] + [-float(len(MERGES) - i) for i in range(len(MERGES))]
    return {"model": "llama", "tokens": tokens, "scores": scores, "types": types, "bos_id": 2, "eos_id": 1,
            "unk_id": 3, "pad_id": 0, "add_bos": True, "add_eos": False}


@pytest.fixture(scope="module")
def bpe_export(tmp_path_factory):
    """A folder as optimum-intel leaves it: the BPE tokenizer and detokenizer IRs."""
    import openvino as ov
    from openvino_tokenizers import convert_tokenizer

    folder = tmp_path_factory.mktemp("bpe")
    tokenizer = tokenizer_from_vocab(small_vocab(), chat_template="{{ bos_token }}{{ messages[0]['content'] }}")
    tokenizer.padding_side = tokenizer.truncation_side = "left"  # as optimum-intel's export_tokenizer
    for model, name in zip(convert_tokenizer(tokenizer, with_detokenizer=True),
                           ("openvino_tokenizer.xml", "openvino_detokenizer.xml")):
        ov.save_model(model, folder / name)
    return folder, tokenizer


def _checkpoint(tmp_path, vocab: dict | None):
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    if vocab is not None:
        (checkpoint / "tokenizer.model").write_bytes(sentencepiece_model(vocab))
    return checkpoint


def _copy(bpe_export, tmp_path):
    out = tmp_path / "export"
    shutil.copytree(bpe_export[0], out)
    return out


def test_sentencepiece_model_holds_the_vocabulary():
    from transformers.convert_slow_tokenizer import import_protobuf

    vocab = small_vocab()
    model = import_protobuf().ModelProto()
    model.ParseFromString(sentencepiece_model(vocab))
    assert [p.piece for p in model.pieces] == vocab["tokens"]
    assert model.pieces[3].type == UNKNOWN and model.pieces[2].type == CONTROL  # <unk> made UNKNOWN
    assert model.trainer_spec.model_type == 2 and model.trainer_spec.byte_fallback
    assert not model.normalizer_spec.add_dummy_prefix and not model.normalizer_spec.remove_extra_whitespaces


def test_agreeing_ir_replaces_the_bpe_op(bpe_export, tmp_path):
    out = _copy(bpe_export, tmp_path)
    assert tokenizer_ir_kind(out) == "bpe"
    assert use_sentencepiece_tokenizer(_checkpoint(tmp_path, small_vocab()), out, bpe_export[1]) == "sentencepiece"
    assert tokenizer_ir_kind(out) == "sentencepiece"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in bpe_export[0].iterdir())  # no leftovers
    hf, genai = bpe_export[1], openvino_genai.Tokenizer(str(out))
    for text in probe_texts()[:12] + ["the then", "<start_of_turn>user\nthe<end_of_turn>\n"]:
        for special in (True, False):
            assert genai.encode(text, add_special_tokens=special).input_ids.data[0].tolist() == \
                hf(text, add_special_tokens=special)["input_ids"], (text, special)
    batch = ["the then", "", "<start_of_turn>user\nthe", "a"]  # rows of several lengths, one empty
    ours = genai.encode(batch)
    theirs = hf(batch, padding=True)  # padding_side left, as the export's
    assert ours.input_ids.data.tolist() == theirs["input_ids"]
    assert ours.attention_mask.data.tolist() == theirs["attention_mask"]
    # The rest of optimum's IR is kept: its chat template and <bos> as a switchable segment.
    assert genai.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=False) == "<bos>hi"


def test_disagreeing_ir_leaves_the_bpe_one(bpe_export, tmp_path):
    out = _copy(bpe_export, tmp_path)
    before = (out / "openvino_tokenizer.bin").read_bytes()
    kind = use_sentencepiece_tokenizer(_checkpoint(tmp_path, small_vocab(reverse_scores=True)), out, bpe_export[1])
    assert kind.startswith("bpe (the SentencePiece IR tokenizes") and "differently" in kind
    assert (out / "openvino_tokenizer.bin").read_bytes() == before and tokenizer_ir_kind(out) == "bpe"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in bpe_export[0].iterdir())


def test_no_tokenizer_model_keeps_bpe(bpe_export, tmp_path):
    out = _copy(bpe_export, tmp_path)
    assert use_sentencepiece_tokenizer(_checkpoint(tmp_path, None), out, bpe_export[1]) == \
        "bpe (the checkpoint has no tokenizer.model)"
    assert tokenizer_ir_kind(out) == "bpe"


def test_unreadable_tokenizer_model_keeps_bpe(bpe_export, tmp_path):
    out = _copy(bpe_export, tmp_path)
    checkpoint = _checkpoint(tmp_path, None)
    (checkpoint / "tokenizer.model").write_bytes(b"not a protobuf")
    kind = use_sentencepiece_tokenizer(checkpoint, out, bpe_export[1])
    assert kind.startswith("bpe (SentencePiece conversion failed: ") and tokenizer_ir_kind(out) == "bpe"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in bpe_export[0].iterdir())


def test_no_tokenizer_ir_is_named_none(tmp_path):
    assert tokenizer_ir_kind(tmp_path) == "none"  # the export's check_ir then names the missing file
