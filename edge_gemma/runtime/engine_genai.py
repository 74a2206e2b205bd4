"""Engine `genai`: openvino-genai's LLMPipeline, a C++ decode loop on the same IR.

KV reuse between chat turns: in chat mode, openvino-genai 2026.4's stateful pipeline appends
tokenized inputs to the KV cache it already holds (and feeds back the last generated token
itself). We therefore run it in chat mode always and pass only the new tokens; `reset` ends
the chat. Its continuous-batching backend ("PA", the CPU default) expects the whole history
instead, so we ask for the stateful one ("SDPA"). start_chat/finish_chat print a deprecation
warning in 2026.4 in favour of ChatHistory, which takes text, not token ids.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from .options import GenerationOptions


class GenaiEngine:
    name = "genai"

    def __init__(self, export_dir: Path, device: str, config: dict):
        import openvino_genai

        self._genai = openvino_genai
        self.device = device
        properties = dict(config)
        if not device.upper().startswith("NPU"):
            properties["ATTENTION_BACKEND"] = "SDPA"
        self.pipe = openvino_genai.LLMPipeline(str(export_dir), device, **properties)
        self.tokens: list[int] = []
        self._start_chat()

    def _start_chat(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.pipe.start_chat()

    def reset(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.pipe.finish_chat()
        self._start_chat()
        self.tokens = []

    def generate(self, new_ids: list[int], options: GenerationOptions, stop_ids: set[int],
                 on_token: Callable[[int], bool]) -> None:
        import numpy as np
        import openvino as ov

        genai = self._genai
        config = self.pipe.get_generation_config()
        config.max_new_tokens = options.max_new_tokens
        config.ignore_eos = options.ignore_eos
        config.stop_token_ids = set() if options.ignore_eos else set(stop_ids)
        config.do_sample = not options.greedy
        if not options.greedy:
            config.temperature = options.temperature
            config.top_p = options.top_p
            config.top_k = options.top_k if options.top_k else 2**31 - 1
            if options.seed is not None:
                config.rng_seed = options.seed

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

        self.tokens += new_ids
        ids = np.array([new_ids], dtype=np.int64)
        inputs = genai.TokenizedInputs(ov.Tensor(ids), ov.Tensor(np.ones_like(ids)))
        self.pipe.generate(inputs, config, Streamer())
