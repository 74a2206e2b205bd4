"""manifest.json: what an export was made from and what it holds, written beside the model.

Its file list leaves out the manifest and the model card (README.md), which are written from it."""

from __future__ import annotations

import json
import time
from importlib import metadata
from pathlib import Path

from ..files import file_sha256
from ..layout import CARD, MANIFEST

TOOLS = ("edge-gemma", "openvino", "openvino-tokenizers", "openvino-genai", "nncf", "optimum",
         "optimum-intel", "transformers", "tokenizers", "torch", "gguf", "onnx", "onnxruntime")


def tool_versions() -> dict:
    versions = {}
    for name in TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def file_entries(folder: Path) -> list[dict]:
    return [
        {"path": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size, "sha256": file_sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in (MANIFEST, CARD)
    ]


def write_manifest(folder: Path, **sections) -> dict:
    """Write manifest.json with the given sections plus tool versions and file hashes."""
    files = file_entries(folder)
    manifest = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **sections,
        "tools": tool_versions(),
        "files": files,
        "total_bytes": sum(f["bytes"] for f in files),
    }
    save_manifest(folder, manifest)
    return manifest


def save_manifest(folder: Path, manifest: dict) -> None:
    """Write an updated manifest (a quality section added) as it is."""
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
