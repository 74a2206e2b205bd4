"""Every prompt and text the project measures or tests with, in one place.

Plain prose so every engine sees the same token ids; nothing here needs a network.
"""

from __future__ import annotations

# Benchmark prompts are cut from this to exact token counts (`prompts`).
TEXT = (
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
    "combined movable metal type, oil-based ink and a wooden press adapted from wine making. "
    "Books that had taken scribes months to copy could now be produced in days, and the price of "
    "knowledge fell. Within fifty years presses were at work in more than two hundred European "
    "cities, printing bibles, grammars, calendars, maps and pamphlets. Scholars could compare "
    "identical copies of a text, errors could be corrected in the next edition, and ideas moved "
    "faster than any authority could contain them. "
)
PROMPT_LENGTHS = (128, 512)

# Short plain-text prompts for greedy agreement with the reference (quality/, the ONNX tests).
ACCURACY_PROMPTS = (
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):",
    "The three primary colors are",
    "Water boils at a temperature of",
    "The best way to learn a new language is",
    "In 1969, the first humans",
    "A recipe for pancakes: first,",
)

# Short prompts for the OpenVINO export and runtime tests; the first four are the runtime's.
SMOKE_PROMPTS = (
    "The capital of France is",
    "def fibonacci(n):",
    "Water boils at a temperature of",
    "Once upon a time, in a small village,",
    "The three primary colors are",
    "The largest planet in the solar system is",
)

# A chat for the runtime tests: a question, an answer, a follow-up.
CONVERSATION = (
    {"role": "user", "content": "Name three colors."},
    {"role": "assistant", "content": "Red, green and blue."},
    {"role": "user", "content": "And three animals?"},
)


def prompts(tokenizer, count: int) -> dict[str, list[list[int]]]:
    """`count` prompts per length, each different right after <bos>: genai's prefix cache
    and llama-cpp-python both reuse the KV of a repeated prefix, which would fake the TTFT."""
    out = {}
    for n in PROMPT_LENGTHS:
        out[str(n)] = []
        for i in range(count):
            ids = tokenizer.encode(f"Chapter {i + 1}. " + TEXT * 12, add_special_tokens=False)
            out[str(n)].append([tokenizer.bos_token_id] + ids[: n - 1])
    return out


def reference_text() -> str:
    """English prose held out from everything else: the "assignment" and "for" pages of
    Python's language reference, which ship with Python (pydoc_data), so they are on every
    machine that runs the project."""
    import pydoc_data.topics

    return pydoc_data.topics.topics["assignment"] + pydoc_data.topics.topics["for"]
