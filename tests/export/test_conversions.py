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


def test_tokenizer_irs_are_converted_once_per_tokenizer(real_checkpoint, tmp_path, monkeypatch):
    # Two checkpoints with one tokenizer: the second copies the first's IRs (export/tokenizer_irs.py).
    import shutil

    from optimum.exporters.openvino import __main__ as optimum_main
    from optimum.exporters.openvino import convert as optimum_convert
    from transformers import AutoTokenizer

    from edge_gemma.export.tokenizer_irs import IR_FILES, TOKENIZER_FILES, cached_tokenizer_irs, tokenizer_key

    tokenizer = AutoTokenizer.from_pretrained(real_checkpoint)
    other = tmp_path / "other"  # another model's folder: its own weights, the same tokenizer files
    other.mkdir()
    for name in TOKENIZER_FILES:
        if (real_checkpoint / name).is_file():
            shutil.copy(real_checkpoint / name, other / name)
    assert tokenizer_key(other) == tokenizer_key(real_checkpoint) != tokenizer_key(tmp_path)
    cache = tmp_path / "cache"
    outs, converted_again = [tmp_path / "a", tmp_path / "b"], []
    for checkpoint, out in zip((real_checkpoint, other), outs):
        out.mkdir()
        with cached_tokenizer_irs(checkpoint, cache):
            optimum_main.maybe_convert_tokenizers("transformers", out, None, [tokenizer], task="text-generation-with-past")

        # From here on a conversion is recorded (optimum swallows an exception raised there).
        monkeypatch.setattr(optimum_convert, "export_tokenizer", lambda *args, **kwargs: converted_again.append(1))
    assert converted_again == []
    for name in IR_FILES:
        assert (outs[1] / name).read_bytes() == (outs[0] / name).read_bytes(), name
        assert (outs[1] / name).stat().st_ino != (cache / "tokenizers" / tokenizer_key(other) / name).stat().st_ino
    assert optimum_main.maybe_convert_tokenizers.__name__ == "maybe_convert_tokenizers"  # restored
