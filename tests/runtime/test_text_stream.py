"""Incremental detokenization and stop strings, with the real Gemma tokenizer."""

from __future__ import annotations

import pytest

from edge_gemma.runtime.text_stream import TextStream


@pytest.fixture(scope="module")
def tokenizer(real_exports):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(real_exports["int4"])


def _feed(tokenizer, text, stop=()):
    stream = TextStream(tokenizer, stop)
    pieces, stopped = [], False
    for token in tokenizer(text, add_special_tokens=False)["input_ids"]:
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
    for token in tokenizer("one ST", add_special_tokens=False)["input_ids"]:
        shown += stream.push(token)[0]
    assert not shown.endswith("ST")  # might still become STOP
    for token in tokenizer("ay home", add_special_tokens=False)["input_ids"]:
        shown += stream.push(token)[0]
    shown += stream.finish()
    assert shown == "one STay home"


def test_special_tokens_are_not_shown(tokenizer):
    vocab = tokenizer.get_vocab()
    stream = TextStream(tokenizer)
    ids = tokenizer("Paris", add_special_tokens=False)["input_ids"] + [vocab["<end_of_turn>"]]
    assert "".join(stream.push(t)[0] for t in ids) + stream.finish() == "Paris"
