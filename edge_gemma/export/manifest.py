"""manifest.json: what an export was made from and what it holds, written beside the model.

Its file list leaves out the manifest and the model card (README.md), which are written from it."""

from __future__ import annotations

import hashlib
import time
from functools import cache
from importlib import metadata
from pathlib import Path

from ..export_folder import CARD, MANIFEST, save_manifest
from ..files import file_sha256

PACKAGE = Path(__file__).resolve().parent.parent  # edge_gemma/

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


@cache
def code_fingerprint() -> str:
    """A hash of the edge_gemma package's own files (its code and built-in texts). The package
    version does not change between commits; this does, so two exports with the same
    fingerprint, recipe, preset, source and tools were made the same way."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix in (".py", ".txt", ".proto") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


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
        "code": code_fingerprint(),
        "files": files,
        "total_bytes": sum(f["bytes"] for f in files),
    }
    save_manifest(folder, manifest)
    return manifest
