"""A tokenizer IR on openvino-tokenizers' SentencePiece op, for checkpoints that ship tokenizer.model.

Why: optimum-intel converts Gemma's tokenizer.json to openvino-tokenizers' BPETokenizer op,
which builds its tables (262144 tokens, 513511 merges, then a trie) at its first call, in
every process: 0.40-0.49 s of genai's 1.6 s warm start on the AMD EPYC (openvino-tokenizers
2026.4.1, `BPETokenizer::evaluate` under `call_once`; docs/benchmarks.md). The SentencePiece
op reads the same vocabulary from the model proto, whose BPE needs no merge table (merges go
by piece score): compile plus first call 0.15 s. Google's Gemma checkpoints ship
tokenizer.model; GGUF sources get one from the file's vocabulary (sources/gguf_tokenizer.py).

Only the BPETokenizer op and the splitting in front of it are replaced: the SentencePiece op
reads the prompt, and its output is turned into the ragged form the BPE op gave, so the rest
of optimum's IR stays as it was (truncation, <bos> through CombineSegments, left padding, its
rt_info with the chat template). That keeps encode(add_special_tokens=False) working:
openvino-genai 2026.4.1 makes <bos> switchable by finding CombineSegments
(make_tokenizer_stateful.cpp), which openvino-tokenizers' own SentencePiece IR lacks (its <bos>
is a constant prefix, added always). The detokenizer stays optimum's too (0.04 s to load; the
SentencePiece one bakes skip_special_tokens in at conversion). The new IR is used only if it
gives the same ids and masks on PROBES and a slice of the held-out text, with and without
special tokens; otherwise the BPE IR stays and the reason is logged.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from ..texts import heldout_text

logger = logging.getLogger(__name__)

TOKENIZER_XML, TOKENIZER_BIN = "openvino_tokenizer.xml", "openvino_tokenizer.bin"
DETOKENIZER_XML, DETOKENIZER_BIN = "openvino_detokenizer.xml", "openvino_detokenizer.bin"
# Chat turns, whitespace runs, tabs, user-defined and control pieces, byte fallback, code.
PROBES = (
    "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n",
    "  lots   of    spaces\n\n\n\ttabs\t\t and trailing  ",
    "naïve café, 日本語のテキスト, 🤖🎉, ẞ Ω ∑ 𝔘",
    "def f(x):\n    return x ** 2  # square\n",
    "[multimodal]<unused3><mask><eos> <bos>",
    "",
)
HELDOUT_CHARS, PIECE_CHARS = 60_000, 600


def use_sentencepiece_tokenizer(checkpoint: Path, output: Path, tokenizer) -> str:
    """Replace output/openvino_tokenizer.xml's BPE op with a SentencePiece op reading
    checkpoint/tokenizer.model, when there is one and the two IRs agree; return what the
    export's tokenizer IR runs, for the log."""
    sp_file = Path(checkpoint) / "tokenizer.model"
    if not sp_file.is_file():
        return "bpe (the checkpoint has no tokenizer.model)"
    xml = output / TOKENIZER_XML
    candidate = output / f".sentencepiece-{os.getpid()}"
    try:
        candidate.mkdir()
        for name in (DETOKENIZER_XML, DETOKENIZER_BIN):  # genai's Tokenizer loads a folder
            shutil.copy2(output / name, candidate / name)
        _save(_graft(_read(xml), _convert(tokenizer, sp_file.read_bytes())), candidate / TOKENIZER_XML)
        mismatch = first_mismatch(output, candidate)
        if mismatch is None:
            for name in (TOKENIZER_BIN, TOKENIZER_XML):  # the .xml last: never an xml without its bin
                (candidate / name).replace(output / name)
            return "sentencepiece"
        reason = f"bpe (the SentencePiece IR tokenizes {mismatch!r} differently)"
    except Exception as exc:  # anything openvino-tokenizers raises: the BPE IR stays, which is correct
        reason = f"bpe (SentencePiece conversion failed: {(str(exc) or type(exc).__name__).splitlines()[0][:200]})"
    finally:
        shutil.rmtree(candidate, ignore_errors=True)
    logger.warning("tokenizer IR: %s", reason)
    return reason


def tokenizer_ir_kind(folder: Path) -> str:
    """Which openvino-tokenizers op an export's tokenizer IR runs: "sentencepiece" or "bpe"
    ("none" without one: check_ir says why)."""
    xml = Path(folder) / TOKENIZER_XML
    if not xml.is_file():
        return "none"
    return "sentencepiece" if 'type="SentencepieceTokenizer"' in xml.read_text(encoding="utf-8") else "bpe"


def _read(xml: Path):
    import openvino as ov
    import openvino_tokenizers  # noqa: F401  registers the tokenizer ops with OpenVINO

    return ov.Core().read_model(xml)


def _convert(tokenizer, sp_model: bytes):
    """openvino-tokenizers' own SentencePiece IR of `tokenizer`, the donor of the op."""
    from openvino_tokenizers import convert_tokenizer

    # openvino-tokenizers 2026.4.1 takes the SentencePiece route only for a tokenizer that names
    # a `vocab_file` ending in .model and writes it on save_pretrained; transformers 5's
    # GemmaTokenizer is tokenizer.json-only, so a copy of it is told about the file.
    shim = tokenizer.__class__.__new__(tokenizer.__class__)
    shim.__dict__.update(tokenizer.__dict__)
    shim.vocab_files_names = {**tokenizer.vocab_files_names, "vocab_file": "tokenizer.model"}
    save = tokenizer.save_pretrained

    def save_pretrained(directory, *args, **kwargs):
        result = save(directory, *args, **kwargs)
        Path(directory, "tokenizer.model").write_bytes(sp_model)
        return result

    shim.save_pretrained = save_pretrained
    shim.padding_side = "right"  # ids in order: the BPE IR's RaggedToDense pads on the left itself
    return convert_tokenizer(shim, with_detokenizer=False, use_sentencepiece_backend=True,
                             add_special_tokens=False)


def _graft(bpe_model, sp_model):
    """bpe_model with its BPETokenizer's ragged outputs computed by sp_model's
    SentencepieceTokenizer from the string input instead."""
    import openvino as ov
    import openvino.opset13 as ops

    sp = _only(sp_model, "SentencepieceTokenizer")
    bpe = _only(bpe_model, "BPETokenizer")
    sp.input(1).replace_source_output(bpe_model.get_parameters()[0].output(0))
    indices, values, dense_shape = sp.outputs()  # COO: (row, column) of each id; [rows, longest]
    rows = ops.unsqueeze(ops.gather(indices, 0, 1), 0)  # [1, ids]
    batch = ops.range(0, ops.gather(dense_shape, 0, 0), 1, output_type=indices.get_element_type())
    batch = ops.unsqueeze(batch, 1)  # [rows, 1]
    # Row b's ids are those after every id of rows < b and before those of rows > b.
    begins = ops.reduce_sum(ops.convert(ops.less(rows, batch), ov.Type.i32), 1)
    ends = ops.reduce_sum(ops.convert(ops.less_equal(rows, batch), ov.Type.i32), 1)
    for old, new in zip(bpe.outputs(), (begins.output(0), ends.output(0), ops.convert(values, ov.Type.i32).output(0))):
        for target in old.get_target_inputs():
            target.replace_source_output(new)
    bpe_model.set_rt_info("SentencepieceTokenizer", "edge_gemma_tokenizer_op")
    bpe_model.validate_nodes_and_infer_types()
    return bpe_model


def _only(model, op_type: str):
    nodes = [op for op in model.get_ordered_ops() if op.get_type_name() == op_type]
    if len(nodes) != 1:
        raise ValueError(f"expected one {op_type} op in the tokenizer IR, found {len(nodes)}")
    return nodes[0]


def probe_texts() -> list[str]:
    text = heldout_text()[:HELDOUT_CHARS]
    return [*PROBES, *(text[i:i + PIECE_CHARS] for i in range(0, len(text), PIECE_CHARS))]


def first_mismatch(folder_a: Path, folder_b: Path) -> str | None:
    """The first probe text the two folders' tokenizer IRs tokenize differently through
    openvino-genai (as the runtime does: with and without special tokens, alone and in a
    padded batch), or None."""
    import openvino_genai

    a, b = openvino_genai.Tokenizer(str(folder_a)), openvino_genai.Tokenizer(str(folder_b))
    texts = probe_texts()
    for batch in [[text] for text in texts] + [texts[:8]]:
        for special in (True, False):
            x, y = (t.encode(batch, add_special_tokens=special) for t in (a, b))
            if not (_same(x.input_ids, y.input_ids) and _same(x.attention_mask, y.attention_mask)):
                return batch[0][:60]
    return None


def _same(x, y) -> bool:
    return x.shape == y.shape and (x.data == y.data).all()


def _save(model, xml: Path) -> None:
    import openvino as ov

    ov.save_model(model, xml, compress_to_fp16=False)
