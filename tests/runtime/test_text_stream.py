"""Incremental detokenization and stop strings.

Each test runs with a small Gemma-style tokenizer built here (byte fallback, special turn
tokens; fast tier) and with the real Gemma 3 tokenizer of the exported 270M, transformers' and openvino-genai's
(slow tier).
"""

from __future__ import annotations

import pytest

from edge_gemma.runtime.text_stream import TextStream
from edge_gemma.runtime.tokenizer import GenaiTokenizer, HFTokenizer, hf_tokenizer

SPECIAL = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
PIECES = ["▁t", "▁th", "▁the", "he", "in", "on", "er", "▁a", "▁is", "▁big", "ST", "OP", "STOP", "User"]


def small_gemma_tokenizer():
    """A few hundred pieces in the shape of Gemma's: SentencePiece-style BPE over "▁"-words,
    a byte token for each of the 256 bytes (so any character encodes, multi-byte ones as
    several tokens), control tokens as special tokens, "\n" as a whole-string token."""
    from tokenizers import AddedToken
    from transformers import GemmaTokenizer

    chars = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?:;'\"-()") + ["▁"]
    tokens = SPECIAL + [f"<0x{i:02X}>" for i in range(256)] + chars + PIECES
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = [(p[:cut], p[cut:]) for p in PIECES for cut in range(1, len(p)) if p[:cut] in vocab and p[cut:] in vocab]
    tokenizer = GemmaTokenizer(vocab=vocab, merges=merges, bos_token="<bos>", eos_token="<eos>",
                               unk_token="<unk>", pad_token="<pad>")
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL[4:]], special_tokens=True)
    tokenizer.add_tokens([AddedToken("\n", special=False, normalized=False)])
    return tokenizer


@pytest.fixture(scope="module", params=["small", pytest.param("gemma3-hf", marks=pytest.mark.slow),
                                        pytest.param("gemma3-genai", marks=pytest.mark.slow)])
def tokenizer(request):
    if request.param == "small":
        return HFTokenizer(small_gemma_tokenizer())
    export = request.getfixturevalue("real_exports")["int4"]
    if request.param.endswith("genai"):
        import openvino_genai

        return GenaiTokenizer(openvino_genai.Tokenizer(str(export)))
    return hf_tokenizer(export)


def test_the_small_tokenizer_exercises_byte_fallback():
    # Otherwise the hold-back of half characters below would pass without being tested.
    tokenizer = HFTokenizer(small_gemma_tokenizer())
    ids = tokenizer.encode("東", add_special_tokens=False)
    assert len(ids) == 3 and tokenizer.decode(ids[:2]).endswith("\ufffd") and tokenizer.decode(ids) == "東"


def _feed(tokenizer, text, stop=()):
    stream = TextStream(tokenizer, stop)
    pieces, stopped = [], False
    for token in tokenizer.encode(text, add_special_tokens=False):
        piece, stopped = stream.push(token)
        pieces.append(piece)
        if stopped:
            break
    if not stopped:
        pieces.append(stream.finish())
    return pieces, stream.answer, stopped


def test_pieces_join_to_the_text(tokenizer):
    text = "Héllo, wörld! 東京 is big 🎉.\nNext line."
    pieces, answer, stopped = _feed(tokenizer, text)
    assert "".join(pieces) == answer == text and not stopped
    assert all("\ufffd" not in p for p in pieces)  # half characters are held back


def test_stop_string_ends_the_answer_and_is_not_shown(tokenizer):
    pieces, answer, stopped = _feed(tokenizer, "The answer is 42.\nUser: next question", stop=("\nUser:",))
    assert stopped and answer == "The answer is 42." and "".join(pieces) == answer


def test_a_partial_stop_string_is_held_back_then_released(tokenizer):
    stream = TextStream(tokenizer, ("STOP",))
    shown = ""
    for token in tokenizer.encode("one ST", add_special_tokens=False):
        shown += stream.push(token)[0]
    assert not shown.endswith("ST")  # might still become STOP
    for token in tokenizer.encode("ay home", add_special_tokens=False):
        shown += stream.push(token)[0]
    shown += stream.finish()
    assert shown == "one STay home"


def test_special_tokens_are_not_shown(tokenizer):
    stream = TextStream(tokenizer)
    ids = tokenizer.encode("Paris", add_special_tokens=False) + [tokenizer.token_id("<end_of_turn>")]
    assert "".join(stream.push(t)[0] for t in ids) + stream.finish() == "Paris"
