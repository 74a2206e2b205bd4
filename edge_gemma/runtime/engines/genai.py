"""Engine `genai`: openvino-genai's LLMPipeline, a C++ decode loop on the same IR.

The attention backend is chosen per use (device_config.attention_backend, measured in
docs/benchmarks.md): on CPU the stateful "SDPA" one, which loads from a warm compiled-model
cache in about 0.4 s where paged attention ("PA") takes 1.3 s, and decodes as fast; servers
use PA through engines/batched.py. KV reuse between chat turns, per backend:
- SDPA: the pipeline runs in chat mode and each call hands it only the tokens after those it
  holds; openvino-genai keeps the KV cache and the token history between calls
  (llm/pipeline_stateful.cpp, "ENCODED_INPUTS" chat input). A fresh sequence restarts the chat.
- PA (GPU, where openvino-genai's default is kept): each call gets the whole sequence, and
  the prefix cache keeps the KV blocks of what it has seen.
On the NPU (a static stateful pipeline) every call starts afresh.
The tokenizer is the pipeline's own (tokenizer.py): no second copy of the tokenizer IRs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..options import GenerationOptions

INT32_MAX = 2**31 - 1  # "no top-k limit" for openvino-genai


def generation_config(config, options: GenerationOptions, stop_ids: set[int]):
    """openvino-genai's GenerationConfig `config` set from our options (batched.py uses it too)."""
    config.max_new_tokens = options.max_new_tokens
    config.ignore_eos = options.ignore_eos
    config.stop_token_ids = set() if options.ignore_eos else set(stop_ids)
    config.do_sample = not options.greedy
    if not options.greedy:
        config.temperature = options.temperature
        config.top_p = options.top_p
        config.top_k = options.top_k or INT32_MAX
        if options.seed is not None:
            config.rng_seed = options.seed
    return config


class GenaiEngine:
    name = "genai"
    format = "openvino"
    devices = ("CPU", "GPU", "NPU")

    def __init__(self, export_dir: Path, device: str, config: dict):
        import openvino_genai

        from ..tokenizer import check_tokenizer_irs

        check_tokenizer_irs(export_dir)
        self._genai = openvino_genai
        self.device = device
        self.pipe = openvino_genai.LLMPipeline(str(export_dir), device, **config)
        # Only the stateful SDPA pipeline keeps its KV cache between calls (in chat mode).
        self._delta = config.get("ATTENTION_BACKEND") == "SDPA" and device != "NPU"
        self.tokens: list[int] = []
        self.reset()

    def tokenizer(self):
        from ..tokenizer import GenaiTokenizer

        return GenaiTokenizer(self.pipe.get_tokenizer())

    def reset(self) -> None:
        self.tokens = []
        if self._delta:  # finish_chat drops the KV cache and the history; start_chat opens anew
            self.pipe.finish_chat()
            self.pipe.start_chat()

    def generate(self, new_ids: list[int], options: GenerationOptions, stop_ids: set[int],
                 on_token: Callable[[int], bool]) -> None:
        import numpy as np
        import openvino as ov

        genai = self._genai
        config = generation_config(self.pipe.get_generation_config(), options, stop_ids)
        ids = np.array([new_ids if self._delta else self.tokens + new_ids], dtype=np.int64)
        self.tokens += new_ids
        tokens = self.tokens
        start = len(tokens)

        class Streamer(genai.StreamerBase):
            def write(self, token):
                for t in [token] if isinstance(token, int) else token:
                    tokens.append(int(t))
                    if on_token(int(t)):
                        return genai.StreamingStatus.STOP
                return genai.StreamingStatus.RUNNING

            def end(self):
                pass

        inputs = genai.TokenizedInputs(ov.Tensor(ids), ov.Tensor(np.ones_like(ids)))
        result = self.pipe.generate(inputs, config, Streamer())
        # The pipeline's chat history holds what it generated, streamed or not; `tokens` must
        # say the same, or the next turn's ids would not continue it.
        generated = [int(t) for t in result.tokens[0]]
        if len(generated) > len(tokens) - start and generated[:len(tokens) - start] == tokens[start:]:
            tokens[start:] = generated
