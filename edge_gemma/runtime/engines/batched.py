"""Engine `genai` batched: openvino-genai's ContinuousBatchingPipeline, for serving many callers.

Decode reads every weight once per step, whatever the number of sequences in the step, so
sequences decoded together cost little more than one: on the 2-core EPYC, 8 requests of 64
tokens took 1.1 s in one batch and 8.4 s one after another (docs/serving.md). One pipeline
and one driver thread are shared by every `fork()` of the engine; each fork is one caller's
sequence (its own `tokens`), so `EdgeModel.fork()` gives each request its own model. Like
engine `genai`, each call hands the pipeline the whole sequence and its prefix cache keeps the
KV blocks of what it has seen (chat turns). CPU and GPU; the NPU runs the stateful `genai`.

Not in the ENGINES registry: it is `load(..., batched=True)`, what the LocalAI backend uses.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from ...errors import GenerationError
from ..options import GenerationOptions
from .genai import generation_config

_DONE = object()


class _Driver:
    """Steps the pipeline on its own thread while any request runs; hands each request its tokens."""

    def __init__(self, pipe, scheduler):
        import openvino_genai

        self.pipe, self.scheduler = pipe, scheduler
        self.running = openvino_genai.GenerationStatus.RUNNING
        self.ignored = openvino_genai.GenerationStatus.IGNORED
        self.ids = itertools.count()
        self.requests: dict[int, tuple] = {}  # id -> (handle, queue of token lists)
        self.cond = threading.Condition()
        threading.Thread(target=self._loop, name="edge-gemma-batch", daemon=True).start()

    def submit(self, ids: list[int], config) -> tuple[object, queue.Queue]:
        import numpy as np
        import openvino as ov

        out: queue.Queue = queue.Queue()
        with self.cond:
            rid = next(self.ids)
            handle = self.pipe.add_request(rid, ov.Tensor(np.array([ids], dtype=np.int64)), config)
            self.requests[rid] = (handle, out)
            self.cond.notify()
        return handle, out

    def _loop(self) -> None:
        while True:
            with self.cond:
                while not self.requests:
                    self.cond.wait()
            try:
                self.pipe.step()
            except Exception as exc:  # every waiting caller gets it, and the driver goes on
                with self.cond:
                    for handle, out in self.requests.values():
                        out.put(exc)
                    self.requests.clear()
                continue
            with self.cond:
                for rid, (handle, out) in list(self.requests.items()):
                    if handle.can_read():
                        for output in handle.read().values():
                            out.put(list(output.generated_ids))
                    status = handle.get_status()
                    if status == self.ignored:
                        out.put(GenerationError("openvino-genai dropped the request: its KV cache has no room "
                                                "for it; shorten the prompt or send fewer requests at once"))
                    if status != self.running:
                        out.put(_DONE)
                        del self.requests[rid]


class BatchedGenaiEngine:
    name = "genai"
    format = "openvino"
    devices = ("CPU", "GPU")

    def __init__(self, export_dir: Path, device: str, config: dict, _driver: _Driver | None = None):
        self.device = device
        self.tokens: list[int] = []
        if _driver is None:
            import openvino_genai

            scheduler = openvino_genai.SchedulerConfig()
            scheduler.enable_prefix_caching = True  # chat turns reuse the KV of the turns before
            _driver = _Driver(openvino_genai.ContinuousBatchingPipeline(str(export_dir), scheduler, device, config),
                              scheduler)
        self.driver = _driver
        self._args = (export_dir, device, config)

    def tokenizer(self):
        from ..tokenizer import GenaiTokenizer

        return GenaiTokenizer(self.driver.pipe.get_tokenizer())

    def fork(self) -> BatchedGenaiEngine:
        """Another caller's sequence on the same pipeline."""
        return BatchedGenaiEngine(*self._args, _driver=self.driver)

    def reset(self) -> None:
        self.tokens = []

    def generate(self, new_ids: list[int], options: GenerationOptions, stop_ids: set[int],
                 on_token: Callable[[int], bool]) -> None:
        config = generation_config(self.driver.pipe.get_config(), options, stop_ids)
        self.tokens += new_ids
        handle, out = self.driver.submit(self.tokens, config)
        while (item := out.get()) is not _DONE:
            if isinstance(item, Exception):
                raise item
            for token in item:
                self.tokens.append(token)
                if on_token(token):
                    handle.cancel()  # the driver drops it at its next step
                    return
