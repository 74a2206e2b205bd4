"""Run an export: `load(export_dir, device, engine)` -> EdgeModel (generate, stream, chat).

load.py picks engine and device; model.py is EdgeModel (tokenizer, chat template, stop
strings, KV reuse between chat turns); engines/ run the model; device_config.py chooses
devices and builds their compile properties; options.py, sampling.py and text_stream.py
are the generation options, the sampler and incremental detokenization.
"""

from .load import load
from .model import EdgeModel
from .options import GenerationOptions

__all__ = ["EdgeModel", "GenerationOptions", "load"]
