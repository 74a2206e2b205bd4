"""Engine `genai`: openvino-genai's LLMPipeline, a C++ decode loop on the same IR.

KV reuse between chat turns comes from the pipeline itself: on CPU and GPU, openvino-genai
2026.4 runs LLMPipeline on its paged-attention backend with prefix caching on, so a call
whose tokens start with an earlier call's prompt and answer reuses those KV blocks; each
call therefore gets the whole sequence. That backend also decoded faster than the stateful
"SDPA" one here (both measured in docs/benchmarks.md). On the NPU (a static stateful
pipeline) every call starts afresh.
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

        self._genai = openvino_genai
        self.device = device
        self.pipe = openvino_genai.LLMPipeline(str(export_dir), device, **config)
        self.tokens: list[int] = []

    def reset(self) -> None:
        self.tokens = []

    def generate(self, new_ids: list[int], options: GenerationOptions, stop_ids: set[int],
                 on_token: Callable[[int], bool]) -> None:
        import numpy as np
        import openvino as ov

        genai = self._genai
        config = generation_config(self.pipe.get_generation_config(), options, stop_ids)
        ids = np.array([self.tokens + new_ids], dtype=np.int64)
        self.tokens += new_ids
        tokens = self.tokens

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
        self.pipe.generate(inputs, config, Streamer())
