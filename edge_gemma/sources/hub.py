"""Hugging Face Hub sources: a model id downloaded with huggingface_hub (needs network)."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import SourceError

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
# What an export needs from a hub repo; skips the duplicate PyTorch .bin and .gguf weights.
HUB_PATTERNS = ["*.json", "*.safetensors", "tokenizer.model", "*.jinja"]
SOURCE_HINT = "pass SOURCE=/path/to/checkpoint (a Hugging Face folder or a .gguf file)"


def download(repo_id: str, log, check=None) -> Path:
    """The local snapshot folder of `repo_id`; a one-line SourceError when it cannot be had.

    `check(model_type)` runs first on the model type the Hub read from the repo's config.json
    (one metadata request, answered for gated repos too), so a checkpoint that cannot be
    exported is refused before gigabytes of weights come down. Not `hf_hub_download` of the
    config: offline, huggingface_hub 1.21.0 retries it with backoff, on a client it has just
    closed (RuntimeError "the client has been closed"; `_http_backoff_base`). With no network
    the check is left to the caller (a cached snapshot still serves offline)."""
    import httpx
    from huggingface_hub import model_info, snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

    try:
        if check is not None:
            try:
                found = (model_info(repo_id).config or {}).get("model_type")
            except (httpx.TransportError, OfflineModeIsEnabled):  # no network: snapshot_download says so
                found = None
            if found is not None:  # the Hub read no config: checked after the download instead
                check(found)
        log(f"downloading {repo_id} from the Hugging Face Hub")
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
