"""Steps every export format shares: progress lines, the checked checkpoint, its view."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .chat_formats import CHAT_FORMATS
from .errors import ExportError
from .recipes import Recipe
from .sources import Source, model_type, prepare_checkpoint


class StepLog:
    """Numbered progress lines on stderr, each with the time since the export started."""

    def __init__(self, total: int):
        self.total, self.index, self.started = total, 0, time.monotonic()

    def step(self, message: str) -> None:
        self.index += 1
        elapsed = time.monotonic() - self.started
        print(f"[{self.index}/{self.total}] {message} (at {elapsed:.0f}s)", file=sys.stderr, flush=True)

    def info(self, message: str) -> None:
        print(f"      {message}", file=sys.stderr, flush=True)


def checked_checkpoint(recipe: Recipe, source: Source, cache_dir: Path, output: Path, force: bool,
                       log: StepLog) -> Path:
    """The source as a local Hugging Face folder of the recipe's family; refuses to overwrite."""
    if output.exists() and not force:
        raise ExportError(f"{output} already exists; pass FORCE=1 (or --force) to replace it")
    log.step(f"source: {source.kind} {source.location}")
    checkpoint = prepare_checkpoint(source, cache_dir, log.info)
    found = model_type(checkpoint)
    if found != recipe.family:
        raise ExportError(
            f"{checkpoint} is a '{found}' checkpoint but recipe {recipe.name} is for '{recipe.family}'; "
            "pick the MODEL that matches the checkpoint"
        )
    return checkpoint


def has_chat_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    config = folder / "tokenizer_config.json"
    return config.is_file() and '"chat_template"' in config.read_text(encoding="utf-8")


def checkpoint_view(checkpoint: Path, recipe: Recipe, view: Path) -> Path:
    """Links to the checkpoint's files, plus the recipe's chat template if it has none.

    The user's folder (or the hub cache) is never written to.
    """
    view.mkdir()
    for item in checkpoint.iterdir():
        (view / item.name).symlink_to(item.resolve())
    if not has_chat_template(checkpoint):
        (view / "chat_template.jinja").write_text(CHAT_FORMATS[recipe.chat_format], encoding="utf-8")
    return view
