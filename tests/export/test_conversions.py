"""The conversion cache: keyed by the checkpoint's content and the format, copies both ways,
bounded (export/conversions.py). The export path through it runs in test_data_aware.py."""

from __future__ import annotations

from edge_gemma.export import conversions


def _view(tmp_path, weights: bytes):
    view = tmp_path / "view"
    view.mkdir(exist_ok=True)
    (view / "model.safetensors").write_bytes(weights)
    (view / "config.json").write_text('{"model_type": "gemma3_text"}')
    return view


def test_a_conversion_is_stored_and_restored_as_a_copy(tmp_path):
    key = conversions.conversion_key(_view(tmp_path, b"w" * 100), "openvino")
    made = tmp_path / "made"
    made.mkdir()
    (made / "openvino_model.xml").write_text("<net/>")
    entry = conversions.store(tmp_path / "cache", key, made, "bfloat16", None)
    assert conversions.restore(tmp_path / "cache", "another-key", tmp_path) is None
    out = tmp_path / "out"
    out.mkdir()
    assert conversions.restore(tmp_path / "cache", key, out) == ("bfloat16", None, entry)
    assert (out / "openvino_model.xml").read_text() == "<net/>"
    assert sorted(p.name for p in out.iterdir()) == ["openvino_model.xml"]  # not the cache's own record
    # A copy, not a link: writing into the export leaves the cache as it was.
    assert (out / "openvino_model.xml").stat().st_ino != (entry / "openvino_model.xml").stat().st_ino


def test_the_key_follows_the_weights_and_the_format(tmp_path):
    first = conversions.conversion_key(_view(tmp_path, b"a" * 100), "openvino")
    assert conversions.conversion_key(_view(tmp_path, b"a" * 100), "onnx") != first
    assert conversions.conversion_key(_view(tmp_path, b"b" * 100), "openvino") != first
    assert conversions.conversion_key(_view(tmp_path, b"a" * 100), "openvino") == first


def test_the_cache_is_bounded(tmp_path, monkeypatch):
    made = tmp_path / "made"
    made.mkdir()
    (made / "model.onnx").write_bytes(b"x" * 64)
    monkeypatch.setattr(conversions, "MAX_BYTES", 63)
    assert conversions.store(tmp_path / "cache", "big", made, "bfloat16", {}) is None  # too big to keep
    monkeypatch.setattr(conversions, "MAX_BYTES", 64)
    for n in range(conversions.KEEP + 2):
        conversions.store(tmp_path / "cache", f"k{n}", made, "bfloat16", {"n": n})
    assert len(list((tmp_path / "cache" / "conversions").iterdir())) == conversions.KEEP
