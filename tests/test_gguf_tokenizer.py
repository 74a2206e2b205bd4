"""The tokenizer rebuilt from the GGUF reproduces llama.cpp's token ids exactly."""

from __future__ import annotations

import openvino as ov
import openvino_tokenizers  # noqa: F401  registers the tokenizer ops with OpenVINO

from edge_gemma.gguf_tokenizer import merges_from_scores


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


def test_openvino_detokenizer_round_trips(real_exports, tokenization_cases):
    compiled = ov.Core().compile_model(real_exports["int4"] / "openvino_detokenizer.xml", "CPU")
    for case in tokenization_cases:
        ids = [i for i in case["ids"] if i != 2]  # drop <bos>
        text = compiled([ids])["string_output"][0]
        assert text == case["text"]


def test_merges_prefer_the_higher_scored_piece():
    # SentencePiece BPE: "abc" (score -1) beats "bc" (score -2), so "ab"+"c" ranks before "b"+"c".
    tokens = ["a", "b", "c", "ab", "bc", "abc"]
    scores = [0.0, 0.0, 0.0, -3.0, -2.0, -1.0]
    merges = merges_from_scores(tokens, scores, [1] * 6)
    assert merges == [("a", "bc"), ("ab", "c"), ("b", "c"), ("a", "b")]
