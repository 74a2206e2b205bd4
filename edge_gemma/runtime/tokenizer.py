"""The text side of an export: text <-> token ids, special tokens and the chat template.

Two implementations of one small interface; each engine says which (its `tokenizer()`):
- GenaiTokenizer runs the export's own tokenizer and detokenizer IRs (openvino_tokenizer.xml,
  openvino_detokenizer.xml) and its chat template through openvino-genai, taken from the
  pipeline that loaded them already: no torch, no transformers, no second copy (75 MB). The
  genai engines use it, so an app that runs an OpenVINO export starts without the export
  stack (tests/runtime/test_startup.py).
- HFTokenizer is transformers' tokenizer from tokenizer.json, for the optimum and ort engines
  (which import torch and transformers anyway) and for ONNX exports, which have no tokenizer
  IRs. Building it costs seconds (the 262k-token vocabulary).
Both give the same ids, text and templates on the real model (tests/runtime/test_tokenizer.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..errors import GenerationError, RuntimeCheckError

TOKENIZER_IRS = ("openvino_tokenizer.xml", "openvino_detokenizer.xml")


class Tokenizer(Protocol):
    bos_token: str
    bos_token_id: int
    eos_token_id: int
    chat_template: str | None

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids of `text`; with add_special_tokens, <bos> first."""

    def decode(self, ids: list[int]) -> str:
        """The text of `ids`, special tokens left out."""

    def token_id(self, piece: str) -> int | None:
        """The id of the token spelled `piece` (e.g. "<end_of_turn>"), None if there is none."""

    def apply_chat_template(self, messages: list[dict], add_generation_prompt: bool) -> str:
        """The conversation as the model's chat format; GenerationError if the template refuses it."""


def check_tokenizer_irs(export_dir: Path) -> None:
    missing = [name for name in TOKENIZER_IRS if not (Path(export_dir) / name).is_file()]
    if missing:
        raise RuntimeCheckError(f"{export_dir} has no {' or '.join(missing)}; re-export it with "
                                "`make export` (openvino-tokenizers writes them), or use --engine optimum")


class GenaiTokenizer:
    def __init__(self, tokenizer):  # an openvino_genai.Tokenizer, e.g. LLMPipeline.get_tokenizer()
        self._tok = tokenizer
        self.bos_token_id = self._tok.get_bos_token_id()
        self.eos_token_id = self._tok.get_eos_token_id()
        self.bos_token = self._tok.get_bos_token()
        self.chat_template = self._tok.chat_template or None

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = self._tok.encode(text, add_special_tokens=add_special_tokens).input_ids.data
        return ids[0].tolist()

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=True)

    def token_id(self, piece: str) -> int | None:
        # A special token encodes to itself alone; get_vocab() would build a 262k-entry dict.
        ids = self.encode(piece, add_special_tokens=False)
        return ids[0] if len(ids) == 1 and self._tok.decode(ids, skip_special_tokens=False) == piece else None

    def apply_chat_template(self, messages: list[dict], add_generation_prompt: bool) -> str:
        try:
            return self._tok.apply_chat_template(messages, add_generation_prompt=add_generation_prompt)
        except Exception as exc:  # e.g. Gemma 1/2 templates raise_exception on a system role
            raise GenerationError(f"the chat template rejected the messages: {_first_line(exc)}") from None


class HFTokenizer:
    def __init__(self, tokenizer):  # a transformers tokenizer
        self._tok = tokenizer
        self.bos_token_id = self._tok.bos_token_id
        self.eos_token_id = self._tok.eos_token_id
        self.bos_token = self._tok.bos_token
        self.chat_template = self._tok.chat_template or None

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self._tok(text, add_special_tokens=add_special_tokens)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=True)

    def token_id(self, piece: str) -> int | None:
        return self._tok.get_vocab().get(piece)

    def apply_chat_template(self, messages: list[dict], add_generation_prompt: bool) -> str:
        try:
            return self._tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
        except Exception as exc:  # jinja's TemplateError, e.g. Gemma 1/2 reject a system role
            raise GenerationError(f"the chat template rejected the messages: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    # openvino-genai 2026.4 wraps the template's own message: "Exception from .../tokenizer_impl.cpp
    # ... Minja's error: <message> at row 1, column N: ..."; the message is what the user needs.
    if "Minja's error:" in text:
        text = text.split("Minja's error:", 1)[1].split(" at row ", 1)[0]
    return (text.strip().splitlines() or [type(exc).__name__])[0]


def hf_tokenizer(export_dir: Path) -> HFTokenizer:
    from transformers import AutoTokenizer

    return HFTokenizer(AutoTokenizer.from_pretrained(export_dir))


def export_tokenizer(export_dir: Path) -> Tokenizer:
    """An export's tokenizer without loading its model: openvino-genai's when the export has
    tokenizer IRs (OpenVINO exports), transformers' otherwise (ONNX exports)."""
    if all((Path(export_dir) / name).is_file() for name in TOKENIZER_IRS):
        import openvino_genai

        return GenaiTokenizer(openvino_genai.Tokenizer(str(export_dir)))
    return hf_tokenizer(export_dir)
