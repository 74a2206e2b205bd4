"""The tokenizer and detokenizer IRs, converted once per tokenizer and kept in the cache.

optimum-intel converts a checkpoint's tokenizer with openvino-tokenizers at every 16-bit
export (`maybe_convert_tokenizers`); for Gemma's 262144-token vocabulary that is 8-16 s on
2 cores, the same for every checkpoint that shares the tokenizer (fine-tunes of one model, and
each tiny test model). The IRs depend only on the tokenizer's files, the tools and this
package's code, so they are keyed by those and copied (never linked: an export is the user's
to edit) from `cache_dir/tokenizers`. The conversion cache (conversions.py) still holds whole
conversions; this one serves a new checkpoint of a known tokenizer. The key leaves out what
edge_gemma never varies: the task (always text-generation-with-past, which sets left padding)
and a multimodal processor's chat template (text checkpoints have none: sources/text.py).
The cache is best-effort: an entry that cannot be read or written means converting as before.
A checkpoint with tokenizer.model gets a SentencePiece-op tokenizer IR in place of optimum's
BPE one (sentencepiece_ir.py); the cache holds whichever was chosen.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputError
from ..files import CACHE_FIX, keep_most_recent, staged_directory
from .calibration import fingerprint
from .manifest import code_fingerprint, tool_versions
from .sentencepiece_ir import DETOKENIZER_BIN, DETOKENIZER_XML, TOKENIZER_BIN, TOKENIZER_XML, use_sentencepiece_tokenizer

# What openvino-tokenizers reads (through transformers' tokenizer) and what it writes.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                   "chat_template.jinja", "chat_template.json")
IR_FILES = (TOKENIZER_XML, TOKENIZER_BIN, DETOKENIZER_XML, DETOKENIZER_BIN)
KEEP = 4


def tokenizer_key(checkpoint: Path) -> str:
    files = [checkpoint / name for name in TOKENIZER_FILES if (checkpoint / name).is_file()]
    return fingerprint(*files, code_fingerprint(), json.dumps(tool_versions(), sort_keys=True))


@contextmanager
def cached_tokenizer_irs(checkpoint: Path, cache_dir: Path):
    """While active, optimum-intel's tokenizer conversion copies the IRs from the cache, or
    converts and fills it."""
    from optimum.exporters.openvino import __main__ as optimum_main

    convert = optimum_main.maybe_convert_tokenizers
    entry = Path(cache_dir) / "tokenizers" / tokenizer_key(checkpoint)

    def cached(library_name, output, *args, **kwargs):
        output = Path(output)
        try:
            for name in IR_FILES:
                shutil.copy2(entry / name, output / name)
            os.utime(entry)  # most recently used
            return
        except OSError:  # not cached, or removed meanwhile by another export's clean-up
            for name in IR_FILES:
                (output / name).unlink(missing_ok=True)
        convert(library_name, output, *args, **kwargs)
        tokenizer = _tokenizer(*args, **kwargs)
        if tokenizer is not None and (output / IR_FILES[0]).is_file():
            use_sentencepiece_tokenizer(checkpoint, output, tokenizer)
        if all((output / name).is_file() for name in IR_FILES):
            try:
                with staged_directory(entry, fix=CACHE_FIX, keep_existing=True) as (_, staged):
                    for name in IR_FILES:
                        shutil.copy2(output / name, staged / name)
                keep_most_recent(entry.parent, KEEP)
            except (OSError, OutputError):  # a cache that cannot be written costs speed only
                pass

    optimum_main.maybe_convert_tokenizers = cached
    try:
        yield
    finally:
        optimum_main.maybe_convert_tokenizers = convert


def _tokenizer(model=None, preprocessors=None, **_):
    """The transformers tokenizer among maybe_convert_tokenizers' preprocessors, if any."""
    from transformers import PreTrainedTokenizerBase

    return next((p for p in preprocessors or () if isinstance(p, PreTrainedTokenizerBase)), None)

