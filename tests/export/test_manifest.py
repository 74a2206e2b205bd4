"""manifest.json: sections, tool versions, and every file's size and sha256."""

from __future__ import annotations

import hashlib
import json
import re

import edge_gemma
from edge_gemma.export.manifest import TOOLS, write_manifest
from edge_gemma.export_folder import read_manifest


def test_manifest_lists_every_file_but_itself(tmp_path):
    (tmp_path / "openvino_model.bin").write_bytes(b"\x00" * 1000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("hello")
    written = write_manifest(tmp_path, model="m", quant="int4", compression={"nncf": {"mode": "int4_sym"}})
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == written == read_manifest(tmp_path)
    assert on_disk["model"] == "m" and on_disk["compression"] == {"nncf": {"mode": "int4_sym"}}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", on_disk["created"])
    assert on_disk["files"] == [
        {"path": "openvino_model.bin", "bytes": 1000, "sha256": hashlib.sha256(b"\x00" * 1000).hexdigest()},
        {"path": "sub/b.txt", "bytes": 5, "sha256": hashlib.sha256(b"hello").hexdigest()},
    ]
    assert on_disk["total_bytes"] == 1005
    # Rewriting it does not list the old manifest as a file.
    assert [f["path"] for f in write_manifest(tmp_path, model="m")["files"]] == ["openvino_model.bin", "sub/b.txt"]


def test_tool_versions_are_the_installed_ones(tmp_path):
    tools = write_manifest(tmp_path)["tools"]
    assert set(tools) == set(TOOLS)
    assert tools["edge-gemma"] == edge_gemma.__version__  # one version, from the package metadata
    assert tools["openvino"] and tools["nncf"] and tools["transformers"]
