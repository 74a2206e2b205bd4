"""Token ids in, text pieces out: incremental detokenization with stop strings.

Text is held back while it could still change: a trailing U+FFFD (half of a multi-byte
character spread over byte-fallback tokens) or a tail that may be the start of a stop
string. A stop string ends the answer and is not part of it.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


class TextStream:
    def __init__(self, tokenizer, stop: tuple[str, ...] = ()):
        self.tokenizer = tokenizer
        self.stop = stop
        self.ids: list[int] = []
        self.emitted = 0  # characters of the answer already handed out
        self.answer: str | None = None  # set once a stop string is found
        self.stopped = False  # a stop string ended the answer

    def push(self, token_id: int) -> tuple[str, bool]:
        """Add one token; return (new text that is safe to show, whether a stop string hit)."""
        self.ids.append(token_id)
        text = self.tokenizer.decode(self.ids)
        for stop in self.stop:
            # Only the part not yet handed out (plus an overlap) can hold a new match.
            at = text.find(stop, max(0, self.emitted - len(stop) + 1))
            if at != -1 and (self.answer is None or at < len(self.answer)):
                self.answer = text[:at]
        if self.answer is not None:
            self.stopped = True
            return self._emit(self.answer), True
        shown = text.rstrip(REPLACEMENT)
        hold = max((n for stop in self.stop for n in range(1, len(stop)) if shown.endswith(stop[:n])), default=0)
        return self._emit(shown[:len(shown) - hold]), False

    def finish(self) -> str:
        """The held-back rest, once generation has ended without a stop string."""
        if self.answer is None:
            self.answer = self.tokenizer.decode(self.ids)
        return self._emit(self.answer)

    def _emit(self, upto: str) -> str:
        piece = upto[self.emitted:]
        self.emitted = max(self.emitted, len(upto))
        return piece
