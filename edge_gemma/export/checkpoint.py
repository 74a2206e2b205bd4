"""The checkpoint an export reads: checked against the recipe, seen through a read-only view."""

from __future__ import annotations

from pathlib import Path

from ..chat_formats import CHAT_FORMATS
from ..errors import ExportError
from ..recipes import Recipe
from ..sources import model_type


def check_family(checkpoint: Path, recipe: Recipe) -> None:
    """The checkpoint is of the recipe's family (gemma, gemma2, gemma3_text)."""
    found = model_type(checkpoint)
    if found != recipe.family:
        raise ExportError(
            f"{checkpoint} is a '{found}' checkpoint but recipe {recipe.name} is for '{recipe.family}'; "
            "pick the MODEL that matches the checkpoint"
        )


def has_experts(checkpoint: Path) -> bool:
    """The checkpoint's text decoder has a mixture-of-experts block (Gemma 4 26B-A4B's
    `enable_moe_block`, in the text config of a multimodal checkpoint)."""
    import json

    try:
        config = json.loads((checkpoint / "config.json").read_text())
    except (OSError, ValueError):
        return False
    text = config.get("text_config") or config
    return bool(text.get("enable_moe_block") or text.get("num_experts"))


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
