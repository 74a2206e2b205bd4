"""The model an app embeds: `edge_gemma.load(...)` returns an EdgeModel.

It owns the tokenizer, the chat template and stop strings; an engine (engines/) only
appends token ids to its KV cache and decodes. Chat keeps the KV cache between turns: when
the new conversation starts with the text the cache already holds, only the rest is fed.
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..errors import GenerationError, RuntimeCheckError
from .options import GenerationOptions, repeats_itself
from .text_stream import TextStream

ROLES = ("system", "user", "assistant", "model")
_MARK = "\x00edge-gemma\x00"  # stands for an answer, to find the text a template puts after one


@dataclass
class Stats:
    """What the last call did; `reused_tokens` > 0 means the KV cache was kept."""

    prompt_tokens: int = 0
    reused_tokens: int = 0
    new_tokens: int = 0
    ttft_s: float = 0.0
    total_s: float = 0.0
    repeated: bool = False  # stop_repeats ended a reply that repeated itself verbatim
    token_times: list[float] = field(default_factory=list, repr=False)

    @property
    def decode_tokens_per_s(self) -> float:
        if len(self.token_times) < 2:
            return 0.0
        return (len(self.token_times) - 1) / (self.token_times[-1] - self.token_times[0])


class EdgeModel:
    def __init__(self, info, engine, tokenizer, device_reason: str, prompt_limit: int | None = None,
                 context_size: int | None = None):
        self.info = info
        self.prompt_limit = prompt_limit  # the NPU's static MAX_PROMPT_LEN; None elsewhere
        # Prompt plus answer must fit in it: the recipe's context, or less when a server is told
        # less (LocalAI's context_size).
        self.context_size = min(context_size or info.context_size, info.context_size)
        self.engine = engine
        self.tokenizer = tokenizer
        self.device_reason = device_reason
        self.stats = Stats()
        # Gemma ends a turn with <end_of_turn> and a text with <eos>; the recipe lists both.
        self.stop_ids = {i for w in info.stop_words if (i := tokenizer.token_id(w)) is not None}
        self.stop_ids.add(tokenizer.eos_token_id)
        self._conversation: list[dict] | None = None  # the chat the KV cache holds, answer included

    @property
    def device(self) -> str:
        return self.engine.device

    def __repr__(self) -> str:
        return f"EdgeModel({self.info.model} {self.info.label}, engine={self.engine.name}, device={self.device})"

    # --- completion -------------------------------------------------------------------------
    def generate(self, prompt: str, *, on_text: Callable[[str], None] | None = None, **options) -> str:
        """Complete `prompt` (a fresh sequence: <bos> is added). Options: GenerationOptions.

        `on_text` gets each piece of text as it is decoded; returning True from it stops.
        """
        ids = self._encode_prompt(prompt)
        return self._run(ids, GenerationOptions(**options), on_text, reuse=False)[0]

    def stream(self, prompt: str, **options) -> Iterator[str]:
        """Like generate, as an iterator of text pieces."""
        return self._iterate(self.generate, prompt, options)

    def generate_tokens(self, ids: list[int], **options) -> list[int]:
        """New token ids after the token ids `ids` (a fresh sequence; give <bos> yourself)."""
        if not ids:
            raise GenerationError("no prompt tokens")
        self._run(list(ids), GenerationOptions(**options), None, reuse=False)
        return self.engine.tokens[len(ids):]

    # --- chat ---------------------------------------------------------------------------------
    def chat(self, messages: list[dict], *, on_text: Callable[[str], None] | None = None, **options) -> str:
        """The assistant's answer to `messages` ({"role", "content"} dicts, last one from the user).

        Pass the whole conversation each turn, as with an OpenAI-style API. When it is the
        previous call's conversation plus that call's answer plus new messages, only the new
        messages are fed: the KV cache already holds the rest, including the answer exactly as
        it was generated (chat templates trim whitespace from it; a fresh start would not see it).
        """
        self._check_messages(messages)
        opts = GenerationOptions(**options)
        rest = self._continuation(messages)
        if rest is not None:
            ids = self.engine.tokens + self.tokenizer.encode(rest, add_special_tokens=False)
        else:
            ids = self.tokenizer.encode(self._template(messages, True), add_special_tokens=False)
        answer, stopped_by_string = self._run(ids, opts, on_text, reuse=True)
        # After a stop string the cache holds text the caller never saw: start afresh next time.
        self._conversation = None if stopped_by_string else [*messages, {"role": "assistant", "content": answer}]
        return answer

    def _continuation(self, messages: list[dict]) -> str | None:
        """The text to feed after the cached tokens, or None if `messages` does not continue them."""
        prev = self._conversation
        if prev is None or len(messages) <= len(prev) or messages[:len(prev)] != prev:
            return None
        before = self._template(prev, False)
        full = self._template(messages, True)
        if not full.startswith(before):
            return None
        # How the template closes an assistant turn (Gemma: "<end_of_turn>\n"), minus the stop
        # token the answer already ended on.
        marked = self._template([*prev[:-1], {"role": "assistant", "content": _MARK}], False)
        closing = marked[marked.index(_MARK) + len(_MARK):]
        last = self.engine.tokens[-1]
        ended_on = self.tokenizer.decode([last])
        if last in self.stop_ids and closing.startswith(ended_on):
            closing = closing[len(ended_on):]
        return closing + full[len(before):]

    def chat_prompt(self, messages: list[dict]) -> str:
        """The text `chat(messages)` feeds when it starts afresh (the chat template applied)."""
        self._check_messages(messages)
        return self._template(messages, True)

    def stream_chat(self, messages: list[dict], **options) -> Iterator[str]:
        """Like chat, as an iterator of text pieces."""
        return self._iterate(self.chat, messages, options)

    def fork(self) -> EdgeModel:
        """The same model for one more concurrent caller: shared tokenizer and weights, its own
        sequence, conversation and stats. Only a batched engine (`load(..., batched=True)`)
        decodes forks side by side; others cannot fork."""
        if not hasattr(self.engine, "fork"):
            raise RuntimeCheckError(f"engine {self.engine.name} runs one sequence; load with batched=True to fork")
        twin = copy.copy(self)
        twin.engine, twin.stats, twin._conversation = self.engine.fork(), Stats(), None
        return twin

    def reset(self) -> None:
        """Forget the conversation held in the KV cache."""
        self.engine.reset()
        self._conversation = None

    # --- internals ----------------------------------------------------------------------------
    def _encode_prompt(self, prompt: str) -> list[int]:
        if not isinstance(prompt, str) or not prompt.strip():
            raise GenerationError("the prompt is empty; pass some text to complete")
        return self.tokenizer.encode(prompt)

    def _check_messages(self, messages: list[dict]) -> None:
        problems = []
        if not messages:
            problems.append("no messages")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                problems.append(f"message {i} must be {{'role': one of {', '.join(ROLES)}, 'content': str}}")
        if not problems and (messages[-1]["role"] != "user" or not messages[-1]["content"].strip()):
            problems.append("the last message must be a non-empty user message")
        if problems:
            raise GenerationError("bad chat messages: " + "; ".join(problems))
        if not self.tokenizer.chat_template:
            raise GenerationError(f"{self.info.dir} has no chat template; use generate, or export a recipe "
                                  "that sets chat_format")

    def _template(self, messages: list[dict], add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt)

    def _check_length(self, total: int, max_new_tokens: int) -> None:
        if self.prompt_limit is not None and total > self.prompt_limit:
            raise GenerationError(
                f"prompt of {total} tokens is longer than the {self.prompt_limit} the NPU was compiled for "
                "(MAX_PROMPT_LEN); shorten it or load with a larger max_prompt_len"
            )
        limit = self.context_size
        if total + max_new_tokens > limit:
            raise GenerationError(
                f"prompt of {total} tokens plus {max_new_tokens} new tokens exceeds the context of {limit}; "
                "shorten the prompt (or reset the chat) or lower max_new_tokens"
            )

    def _run(self, ids: list[int], opts: GenerationOptions, on_text, reuse: bool) -> tuple[str, bool]:
        """Generate after `ids`; (answer, whether a stop string ended it). With `reuse`, keep
        the KV cache when `ids` extends the tokens it holds."""
        self._check_length(len(ids), opts.max_new_tokens)
        cached = self.engine.tokens
        keep = reuse and len(cached) <= len(ids) and ids[:len(cached)] == cached
        if not keep:
            self.reset()
        new_ids = ids[len(self.engine.tokens):]
        if not new_ids:  # the cache holds the whole prompt: re-feed its last token
            self.reset()
            new_ids = ids
        stream = TextStream(self.tokenizer, opts.stop)
        stats = Stats(prompt_tokens=len(ids), reused_tokens=len(ids) - len(new_ids))
        start = time.perf_counter()

        def on_token(token: int) -> bool:
            stats.token_times.append(time.perf_counter())
            if token in self.stop_ids and not opts.ignore_eos:
                return True
            if not opts.stop and on_text is None:
                stream.ids.append(token)
                stopped = False
            else:
                piece, stopped = stream.push(token)
                if piece and on_text is not None and on_text(piece):
                    return True  # the callback asked to stop
            if opts.stop_repeats and not stopped and repeats_itself(stream.ids):
                stats.repeated = stopped = True
            return stopped

        self.stats = stats
        self.engine.generate(new_ids, opts, self.stop_ids, on_token)
        stats.total_s = time.perf_counter() - start
        stats.new_tokens = len(stats.token_times)
        stats.ttft_s = stats.token_times[0] - start if stats.token_times else 0.0
        rest = stream.finish()
        if rest and on_text is not None:
            on_text(rest)
        return stream.answer, stream.stopped

    def _iterate(self, method, first, options) -> Iterator[str]:
        """Run `method(first, on_text=...)` in a thread; yield its text pieces as they come."""
        pieces: queue.Queue = queue.Queue()
        closed = threading.Event()
        done = object()

        def on_text(piece: str) -> bool:
            pieces.put(piece)
            return closed.is_set()  # the consumer left: stop decoding

        def work():
            try:
                method(first, on_text=on_text, **options)
            except BaseException as exc:  # handed to the consumer below
                pieces.put(exc)
            pieces.put(done)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        try:
            while (item := pieces.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            closed.set()
            worker.join()

