"""Generation options shared by every engine: length, sampling and stop strings."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import GenerationError


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
