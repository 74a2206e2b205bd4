"""Generation options shared by every engine: length, sampling and stop strings; and the
sampling defaults a checkpoint ships in its generation_config.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import GenerationError

# A reply that ends in one block of at most REPEAT_BLOCK tokens repeated verbatim at least
# REPEAT_TIMES times, over at least REPEAT_TOKENS tokens, is looping (a base model answering
# "Hi" with "Hi-quality" sixty times): `stop_repeats` ends it there.
REPEAT_BLOCK, REPEAT_TIMES, REPEAT_TOKENS = 64, 4, 32


@dataclass(frozen=True)
class GenerationOptions:
    """Greedy unless `temperature` > 0. `top_k` 0 and `top_p` 1.0 mean "no limit"."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stop: tuple[str, ...] = ()  # text that ends the answer; not included in it
    ignore_eos: bool = False  # benchmarks decode a fixed number of tokens
    stop_repeats: bool = False  # end a reply that repeats itself verbatim (see repeats_itself)

    def __post_init__(self):
        object.__setattr__(self, "stop", tuple(self.stop))
        problems = []
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            problems.append(f"max_new_tokens must be a positive integer, got {self.max_new_tokens!r}")
        if self.temperature < 0:
            problems.append(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1], got {self.top_p}")
        if not isinstance(self.top_k, int) or self.top_k < 0:
            problems.append(f"top_k must be an integer >= 0 (0 = no limit), got {self.top_k!r}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            problems.append("stop strings must be non-empty strings")
        if problems:
            raise GenerationError("; ".join(problems))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def repeats_itself(tokens: list[int]) -> bool:
    """Whether `tokens` end in a block repeated verbatim (REPEAT_* above)."""
    n = len(tokens)
    for block in range(1, REPEAT_BLOCK + 1):
        times = max(REPEAT_TIMES, -(-REPEAT_TOKENS // block))  # enough copies to cover REPEAT_TOKENS
        span = block * times
        if span > n:
            break
        tail = tokens[n - span:]
        if tail == tail[block:] + tail[:block]:  # periodic with period `block`
            return True
    return False


def checkpoint_sampling(export_dir: Path) -> dict:
    """The sampling defaults of the export's generation_config.json, as GenerationOptions
    fields ({} when it asks for none: greedy). Gemma's -it checkpoints ship do_sample with
    top_k 64 and top_p 0.95; a checkpoint converted from a GGUF has none."""
    try:
        config = json.loads((Path(export_dir) / "generation_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not config.get("do_sample"):
        return {}
    options = {"temperature": float(config.get("temperature", 1.0))}
    if 0 < config.get("top_p", 1.0) < 1:
        options["top_p"] = float(config["top_p"])
    if config.get("top_k", 0) > 0:
        options["top_k"] = int(config["top_k"])
    return options
