"""The tokenizer rebuilt from the GGUF reproduces llama.cpp's token ids exactly."""

from __future__ import annotations

import re

import openvino as ov
import openvino_tokenizers  # noqa: F401  registers the tokenizer ops with OpenVINO

from edge_gemma.sources.gguf_tokenizer import merges_from_scores


def test_hf_tokenizer_matches_llama_cpp(real_exports, tokenization_cases):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(real_exports["int4"])
    for case in tokenization_cases:
        assert tokenizer(case["text"])["input_ids"] == case["ids"], case["text"]


def test_openvino_tokenizer_ir_matches_llama_cpp(real_exports, tokenization_cases):
    compiled = ov.Core().compile_model(real_exports["int4"] / "openvino_tokenizer.xml", "CPU")
    for case in tokenization_cases:
        ids = compiled([case["text"]])["input_ids"][0].tolist()
        assert ids == case["ids"], case["text"]


def test_openvino_detokenizer_matches_hf_decode(real_exports, tokenization_cases):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(real_exports["int4"])
    compiled = ov.Core().compile_model(real_exports["int4"] / "openvino_detokenizer.xml", "CPU")
    for case in tokenization_cases:
        text = str(compiled([case["ids"]])["string_output"][0])
        # Like the HF default for generation output, the detokenizer skips special tokens.
        assert text == tokenizer.decode(case["ids"], skip_special_tokens=True), case["text"]
        if not re.search(r"<\w+>", case["text"]):  # no special-token text: exact round trip
            assert text == case["text"]


def test_merges_prefer_the_higher_scored_piece():
    # SentencePiece BPE: "abc" (score -1) beats "bc" (score -2), so "ab"+"c" ranks before "b"+"c".
    tokens = ["a", "b", "c", "ab", "bc", "abc"]
    scores = [0.0, 0.0, 0.0, -3.0, -2.0, -1.0]
    merges = merges_from_scores(tokens, scores, [1] * 6)
    assert merges == [("a", "bc"), ("ab", "c"), ("b", "c"), ("a", "b")]
