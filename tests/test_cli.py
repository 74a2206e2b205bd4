"""Bad input: one clear line on stderr, a non-zero exit, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from edge_gemma.cli import main


def _one_line_error(capsys) -> str:
    # Runtime commands say first, on one line, which engine and device they loaded.
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("edge-gemma: EdgeModel(")]
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
        [sys.executable, "-m", "edge_gemma", "export", "--model", "gemma-2-9b-it", "--output", str(out)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("edge-gemma: error:")]
    assert len(errors) == 1 and "google/gemma-2-9b-it" in errors[0] and "SOURCE=/path/to/checkpoint" in errors[0]
    assert not out.exists() and not (tmp_path / "o.yaml").exists()


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
                          (["export", "--localai-device", "TPU"],
                           "argument --localai-device: 'TPU' is not an OpenVINO device")):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_verbose_shows_the_traceback(capsys):
    assert main(["--verbose", "export", "--model", "gemma-9"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "unknown MODEL" in err


def test_generate_options_reach_the_model(real_exports, capsys):
    export = str(real_exports["int4"])
    assert main(["generate", export, "The capital of France is", "--max-new-tokens", "12"]) == 0
    greedy = capsys.readouterr().out
    assert main(["generate", export, "The capital of France is", "--max-new-tokens", "12", "--engine", "optimum",
                 "--device", "CPU", "--threads", "2"]) == 0
    # Engine equality is tests/runtime/test_model.py's (with an f32 KV cache: with the default
    # u8 one the engines can part at a near-tie, and did on this int4 export).
    out = capsys.readouterr()
    assert out.out.strip() and "engine=optimum, device=CPU); CPU as requested" in out.err
    word = greedy.split()[1]
    assert main(["generate", export, "The capital of France is", "--max-new-tokens", "12", "--stop", word]) == 0
    assert capsys.readouterr().out == greedy[:greedy.index(word)] + "\n"
    sampled = ["generate", export, "Once upon a time", "--temperature", "1.0", "--top-p", "0.9", "--seed", "5"]
    assert main(sampled) == 0
    first = capsys.readouterr().out
    assert main(sampled) == 0 and capsys.readouterr().out == first


def test_chat_reads_a_script_from_stdin(real_exports, capsys, monkeypatch):
    import io

    script = "Name a color.\n\n/reset\nName a fruit.\nAnd a vegetable?\n/exit\nnever read\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(script))
    assert main(["chat", str(real_exports["int4"]), "--max-new-tokens", "6"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) >= 3  # three answers, each ended by a newline
    assert "conversation reset" in captured.err


def test_chat_error_in_a_script_exits_non_zero(real_exports, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("word " * 33000 + "\n"))
    assert main(["chat", str(real_exports["int4"])]) == 1
    assert "exceeds the context of 32768" in _one_line_error(capsys)


def test_runtime_errors_are_one_line(real_exports, tmp_path, capsys):
    export = str(real_exports["int4"])
    assert main(["generate", export, "hi", "--device", "TPU"]) == 1
    assert "unknown device 'TPU'" in _one_line_error(capsys)
    assert main(["generate", export, "hi", "--device", "NPU"]) == 1
    assert "device NPU is not present here" in _one_line_error(capsys)
    assert main(["generate", export, "hi", "--max-new-tokens", "0"]) == 1
    assert "max_new_tokens must be a positive integer" in _one_line_error(capsys)
    assert main(["chat", str(tmp_path)]) == 1
    assert "is not an edge-gemma export" in _one_line_error(capsys)


def test_devices_lists_the_cpu(capsys):
    assert main(["devices"]) == 0
    assert "CPU" in capsys.readouterr().out.split()


def test_bench_rejects_bad_counts_before_any_work(capsys):
    import pytest

    for flag, value in (("--runs", "0"), ("--new-tokens", "1"), ("--threads", "two")):
        with pytest.raises(SystemExit) as exit_info:
            main(["bench", "exports/none", flag, value])
        assert exit_info.value.code == 2
        assert "is not a whole number" in capsys.readouterr().err


def test_quant_and_format_list_their_choices_in_help(capsys):
    import pytest

    for command in ("export", "generate", "bench", "yaml"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "fp16, int8, int4, int4-npu" in out, command
        if command != "yaml":
            assert "{openvino,onnx}" in out, command


def test_export_output_that_cannot_be_written_is_one_line_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for output, message in ((blocker / "out", "is a file, not a folder"),
                            (blocker / "sub" / "out", "cannot create")):
        assert main(["export", "--output", str(output)]) == 1
        line = _one_line_error(capsys)
        assert message in line and "pick an --output in a writable folder" in line
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def test_export_yaml_name_localai_rejects_fails_before_any_work(tmp_path, capsys):
    assert main(["export", "--output", str(tmp_path / "a..b")]) == 1
    assert "parameters.model: 'a..b' must be a path inside LocalAI's models directory" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_runtime_commands_find_exports_by_model_and_quant(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no exports/ here
    assert main(["generate", "--model", "gemma-2-9b-it", "--quant", "int8", "hi"]) == 1
    line = _one_line_error(capsys)
    assert "exports/gemma-2-9b-it-int8 does not exist; make it with `make export MODEL=gemma-2-9b-it QUANT=int8`" in line
    assert main(["bench", "--quant", "int4", "--format", "onnx"]) == 1
    assert "exports/gemma-3-270m-int4-onnx does not exist" in _one_line_error(capsys)
    assert main(["chat", "--quant", "int3"]) == 1
    assert "unknown QUANT 'int3' for gemma-3-270m" in _one_line_error(capsys)
    assert main(["generate", "--model", "gemma-9", "hi"]) == 1
    assert "unknown MODEL 'gemma-9'" in _one_line_error(capsys)
    assert main(["generate", "some/folder", "hi", "--quant", "int8"]) == 1
    assert "give an export folder or --quant, not both" in _one_line_error(capsys)


def test_yaml_command_writes_the_normalized_localai_device(tmp_path, capsys):
    import yaml

    assert main(["yaml", "--model", "gemma-3-270m", "--quant", "int4", "--localai-device", "gpu.1",
                 "--yaml-dir", str(tmp_path)]) == 0
    assert yaml.safe_load((tmp_path / "gemma-3-270m-int4.yaml").read_text())["main_gpu"] == "GPU.1"


def test_generate_finds_the_default_export_in_exports(real_exports, tmp_path, monkeypatch, capsys):
    # The name `make export` gives the folder is the one generate looks for.
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "gemma-3-270m-int4").symlink_to(real_exports["int4"])
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "The capital of France is", "--max-new-tokens", "4"]) == 0
    by_default = capsys.readouterr().out
    assert by_default.strip()
    assert main(["generate", str(real_exports["int4"]), "The capital of France is", "--max-new-tokens", "4"]) == 0
    assert capsys.readouterr().out == by_default


def test_eval_on_a_folder_that_is_not_an_export(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 1
    assert "is not an edge-gemma export" in _one_line_error(capsys)


def test_export_with_a_missing_calibration_or_eval_text(tmp_path, capsys):
    assert main(["export", "--calibration", str(tmp_path / "calib.txt"), "--output", str(tmp_path / "o")]) == 1
    assert "calibration file" in _one_line_error(capsys)
    assert main(["export", "--eval-text", str(tmp_path / "eval.txt"), "--output", str(tmp_path / "o")]) == 1
    assert "cannot read the evaluation file" in _one_line_error(capsys)
    assert not (tmp_path / "o").exists()


def test_sigterm_is_handled_like_ctrl_c():
    # In a process of its own: a real SIGTERM sent inside the test session, among the native
    # threads earlier tests leave behind (gRPC servers, OpenVINO), crashed CI with a segfault
    # (2026-11-23). What is tested is main's handler, not those threads.
    script = textwrap.dedent("""
        import os, signal, sys, time
        import edge_gemma.cli as cli
        from edge_gemma.commands import COMMANDS

        def killed(args):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
            return 0

        COMMANDS["list"].run = killed
        before = signal.getsignal(signal.SIGTERM)
        code = cli.main(["list"])
        assert signal.getsignal(signal.SIGTERM) is before, "main left its SIGTERM handler installed"
        sys.exit(code)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 130, result.stderr
    assert "interrupted; nothing was left half-written" in result.stderr


def test_a_command_whose_extra_is_not_installed_says_which(monkeypatch, capsys):
    from edge_gemma.commands import COMMANDS

    def needs_torch(args):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(COMMANDS["list"], "run", needs_torch)
    assert main(["list"]) == 1
    line = _one_line_error(capsys)
    assert "`edge-gemma list` needs torch" in line and "pip install 'edge-gemma[export]'" in line


def test_chat_on_the_base_model_says_so_on_its_one_load_line(real_exports, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("Hi\n"))
    assert main(["chat", str(real_exports["int4"]), "--max-new-tokens", "48"]) == 0
    loaded = capsys.readouterr().err.splitlines()[0]
    assert loaded.startswith("edge-gemma: EdgeModel(gemma-3-270m int4")
    assert "gemma-3-270m is a base model: it continues text rather than answering" in loaded
    assert "make export MODEL=gemma-3-270m-it" in loaded


def test_generate_stops_a_reply_that_repeats_itself(real_exports, capsys):
    # A prompt that is already a loop: a base model carries it on, on any CPU.
    prompt = "Hi-quality " * 12
    argv = ["generate", str(real_exports["int4"]), prompt, "--max-new-tokens", "200"]
    assert main(argv) == 0
    stopped = capsys.readouterr()
    assert "stopped: the answer repeats itself verbatim" in stopped.err
    assert main([*argv, "--keep-repeats"]) == 0
    kept = capsys.readouterr()
    assert "repeats itself" not in kept.err
    assert len(stopped.out) < len(kept.out) / 2  # stopped after a few copies, not at the token limit
    assert kept.out.startswith(stopped.out.rstrip("\n"))  # the same greedy text, cut short
