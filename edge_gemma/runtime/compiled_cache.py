"""Where OpenVINO keeps an export's compiled model (CACHE_DIR), keyed so a changed export never
runs a stale blob.

With a warm cache the CPU loads the 270M int4 in about 0.4 s instead of 1.1-1.3 s (stateful
SDPA pipeline; docs/benchmarks.md), and GPU/NPU skip tens of seconds of compilation. OpenVINO
names a blob by a hash of the model it was given, but how much of the weights that hash covers
is OpenVINO's business; ours must be certain. So every export version gets its own folder:

    <cache>/compiled/<export folder name>-<hash of its path>/<key>/

where the key hashes the model files' sha256 from the manifest (what the export wrote), their
size and modification time (a file rewritten since), and the OpenVINO and openvino-genai
versions. A re-export changes the key; the folders of older keys for the same path are removed,
and so are the folders of exports that were deleted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

# The IR (openvino_model.xml/.bin) and the tokenizer IRs, which openvino-genai compiles too.
_MODEL_PREFIXES = ("openvino_model.", "openvino_tokenizer.", "openvino_detokenizer.")


def cache_key(export_dir: Path, manifest: dict, versions: dict[str, str]) -> str:
    """A key that changes whenever the export's model files or the runtime versions do."""
    files = {}
    recorded = {f["path"]: f.get("sha256") for f in manifest.get("files", []) if isinstance(f, dict)}
    for name in sorted(p.name for p in export_dir.iterdir() if p.name.startswith(_MODEL_PREFIXES)):
        stat = (export_dir / name).stat()
        files[name] = [recorded.get(name), stat.st_size, stat.st_mtime_ns]
    blob = json.dumps({"files": files, "versions": versions}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]



def runtime_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for package in ("openvino", "openvino-genai", "openvino-tokenizers"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    return versions


def compiled_cache_dir(root: Path, export_dir: Path, manifest: dict, versions: dict[str, str] | None = None) -> Path:
    """The cache folder for this export version under `root`. Older versions' folders go, and
    so do those of exports that no longer exist (each folder records its export's path)."""
    export_dir = Path(export_dir).resolve()
    where = hashlib.sha256(str(export_dir).encode()).hexdigest()[:8]
    parent = root / f"{export_dir.name}-{where}"
    key = cache_key(export_dir, manifest, versions or runtime_versions())
    if root.is_dir():
        for other in root.iterdir():
            recorded = other / EXPORT_PATH
            if other != parent and recorded.is_file() and not Path(recorded.read_text()).is_dir():
                shutil.rmtree(other, ignore_errors=True)
    if parent.is_dir():
        for stale in parent.iterdir():
            if stale.is_dir() and stale.name != key:
                shutil.rmtree(stale, ignore_errors=True)
    record = parent / EXPORT_PATH
    if not record.is_file():  # written once: loads stay read-only
        parent.mkdir(parents=True, exist_ok=True)
        record.write_text(str(export_dir))
    return parent / key


EXPORT_PATH = "export-path.txt"  # in each export's folder: which export it caches
