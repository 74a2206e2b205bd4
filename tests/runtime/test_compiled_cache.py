"""The compiled-model cache folder: one per export version, never a stale blob."""

from __future__ import annotations

import json
import os

from edge_gemma.runtime.compiled_cache import EXPORT_PATH, cache_key, compiled_cache_dir

VERSIONS = {"openvino": "2026.4.1", "openvino-genai": "2026.4.1.0", "openvino-tokenizers": "2026.4.1.0"}


def _export(folder, weights: bytes = b"w" * 64):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "openvino_model.xml").write_text("<net/>")
    (folder / "openvino_model.bin").write_bytes(weights)
    (folder / "openvino_tokenizer.xml").write_text("<net/>")
    (folder / "config.json").write_text("{}")
    manifest = {"files": [{"path": "openvino_model.bin", "bytes": len(weights), "sha256": "a" * 64}]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def test_the_key_changes_with_the_model_files_and_the_runtime(tmp_path):
    export = tmp_path / "gemma-3-270m-int4"
    manifest = _export(export)
    key = cache_key(export, manifest, VERSIONS)
    assert cache_key(export, manifest, VERSIONS) == key
    # Files the model does not depend on leave it alone.
    (export / "config.json").write_text('{"x": 1}')
    assert cache_key(export, manifest, VERSIONS) == key
    # A re-export writes another sha256 into the manifest.
    other = {"files": [{"path": "openvino_model.bin", "bytes": 64, "sha256": "b" * 64}]}
    assert cache_key(export, other, VERSIONS) != key
    # Weights rewritten in place (same size), manifest untouched: the modification time tells.
    stat = (export / "openvino_model.bin").stat()
    (export / "openvino_model.bin").write_bytes(b"v" * 64)
    os.utime(export / "openvino_model.bin", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    rewritten = cache_key(export, manifest, VERSIONS)
    assert rewritten != key
    # Another OpenVINO compiles another blob.
    assert cache_key(export, manifest, {**VERSIONS, "openvino": "2027.0"}) != rewritten


def test_older_versions_and_deleted_exports_lose_their_folders(tmp_path):
    root = tmp_path / "compiled"
    export = tmp_path / "exports" / "gemma-3-270m-int4"
    manifest = _export(export)
    first = compiled_cache_dir(root, export, manifest, VERSIONS)
    first.mkdir(parents=True)
    (first / "blob").write_bytes(b"compiled")
    assert compiled_cache_dir(root, export, manifest, VERSIONS) == first and (first / "blob").exists()

    changed = {"files": [{"path": "openvino_model.bin", "bytes": 64, "sha256": "c" * 64}]}
    second = compiled_cache_dir(root, export, changed, VERSIONS)
    assert second != first and second.parent == first.parent and not first.exists()

    # Same folder name elsewhere: its own cache, and the first one's stays.
    twin = tmp_path / "elsewhere" / "gemma-3-270m-int4"
    twin_dir = compiled_cache_dir(root, twin, _export(twin), VERSIONS)
    assert twin_dir.parent != second.parent
    second.mkdir(parents=True)
    assert second.exists() and (second.parent / EXPORT_PATH).read_text() == str(export.resolve())

    # The export is deleted: the next load of any export drops its folder.
    for path in export.iterdir():
        path.unlink()
    export.rmdir()
    compiled_cache_dir(root, twin, _export(twin), VERSIONS)
    assert not second.parent.exists() and twin_dir.parent.exists()
