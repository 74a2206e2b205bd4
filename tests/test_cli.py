"""Bad input: one clear line on stderr, a non-zero exit, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys

from edge_gemma.cli import main


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edge-gemma: error:"), err
    return err[0]


def test_unknown_model(tmp_path, capsys):
    assert main(["export", "--model", "gemma-9", "--output", str(tmp_path / "o")]) == 1
    line = _one_line_error(capsys)
    assert "unknown MODEL 'gemma-9'" in line and "gemma-2-9b-it" in line
    assert not (tmp_path / "o").exists()


def test_unknown_quant(tmp_path, capsys):
    assert main(["export", "--quant", "int3", "--output", str(tmp_path / "o")]) == 1
    line = _one_line_error(capsys)
    assert "unknown QUANT 'int3'" in line and "int4-npu" in line


def test_missing_source_path(tmp_path, capsys):
    missing = tmp_path / "nope.gguf"
    assert main(["export", "--source", str(missing), "--output", str(tmp_path / "o")]) == 1
    line = _one_line_error(capsys)
    assert str(missing) in line and "does not exist" in line and "SOURCE=" in line
    assert not (tmp_path / "o").exists()


def test_hub_id_without_network_fails_fast_with_a_hint(tmp_path):
    # The real download code runs up to the network boundary: the endpoint refuses the
    # connection, as an offline machine does. A fresh hub cache so nothing local is found.
    env = dict(os.environ, HF_ENDPOINT="http://127.0.0.1:9", HF_HUB_CACHE=str(tmp_path / "hub"))
    out = tmp_path / "o"
    proc = subprocess.run(
        [sys.executable, "-m", "edge_gemma", "export", "--model", "gemma-2-9b-it", "--output", str(out),
         "--yaml-dir", str(tmp_path / "yaml")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("edge-gemma: error:")]
    assert len(errors) == 1 and "google/gemma-2-9b-it" in errors[0] and "SOURCE=/path/to/checkpoint" in errors[0]
    assert not out.exists() and not (tmp_path / "yaml").exists()


def test_generate_on_a_folder_that_is_not_an_export(tmp_path, capsys):
    assert main(["generate", str(tmp_path), "hello"]) == 1
    assert "is not an edge-gemma export" in _one_line_error(capsys)


def test_generate_rejects_empty_and_too_long_prompts(real_exports, capsys):
    export = str(real_exports["int4"])
    assert main(["generate", export, "   "]) == 1
    assert "prompt is empty" in _one_line_error(capsys)
    assert main(["generate", export, "word " * 33000]) == 1
    assert "exceeds the context of 32768" in _one_line_error(capsys)


def test_generate_prints_a_completion(real_exports, capsys):
    assert main(["generate", str(real_exports["int4"]), "The capital of France is", "--max-new-tokens", "8"]) == 0
    assert capsys.readouterr().out.strip()


def test_unsupported_format_and_device_are_rejected(capsys):
    import pytest

    for argv, message in ((["export", "--format", "tflite"], "argument --format: invalid choice: 'tflite'"),
                          (["export", "--device", "TPU"], "argument --device: 'TPU' is not an OpenVINO device")):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_verbose_shows_the_traceback(capsys):
    assert main(["--verbose", "export", "--model", "gemma-9"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "unknown MODEL" in err
