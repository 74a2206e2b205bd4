"""`edge-gemma chat`: chat with an export, streaming; user turns from a terminal or a script on
stdin, `/reset` starts over, `/exit` quits."""

from __future__ import annotations

import sys

from .common import add_generation, add_runtime, generation_options, load_model, write
from .generate import REPEATED

HELP = "chat with an export on stdin (/reset, /exit)"


def add_arguments(p) -> None:
    add_runtime(p)
    add_generation(p, 256)


def base_model_note(manifest: dict, recipes_dir) -> str | None:
    """One line for a chat with a base (not instruction-tuned) model, naming a recipe to use."""
    from ..recipes import recipe_names

    recipe = manifest["recipe"]
    if recipe.get("instruction_tuned", True):
        return None
    names = recipe_names(recipes_dir)
    tuned = f"{recipe['name']}-it" if f"{recipe['name']}-it" in names else next(
        (n for n in names if n.endswith("-it")), None)
    hint = f"; for a chat model, export an instruction-tuned recipe: make export MODEL={tuned}" if tuned else ""
    return f"{recipe['name']} is a base model: it continues text rather than answering{hint}"


def run(args) -> int:
    from ..errors import GenerationError

    def notes(model) -> str | None:
        found = [base_model_note(model.info.manifest, args.recipes_dir), generation_options(args, model)[1]]
        return "; ".join(n for n in found if n) or None

    model = load_model(args, note=notes)
    options, _ = generation_options(args, model)
    interactive = sys.stdin.isatty()
    if interactive:
        print("edge-gemma: type a message; /reset starts over, /exit quits", file=sys.stderr)
    messages: list[dict] = []
    while True:
        try:
            line = input("> ") if interactive else sys.stdin.readline()
        except EOFError:  # Ctrl-D
            return 0
        if not interactive and not line:  # end of the script
            return 0
        line = line.strip()
        if line in ("/exit", "/quit"):
            return 0
        if not line:
            continue
        if line == "/reset":
            messages = []
            model.reset()
            print("edge-gemma: conversation reset", file=sys.stderr)
            continue
        messages.append({"role": "user", "content": line})
        try:
            answer = model.chat(messages, on_text=write, **options)
        except GenerationError as err:
            messages.pop()
            if not interactive:
                raise
            print(f"edge-gemma: error: {err}", file=sys.stderr)
            continue
        print()
        if model.stats.repeated:
            print(REPEATED, file=sys.stderr)
        messages.append({"role": "assistant", "content": answer})
