"""The genai path runs without torch or transformers, in a process of its own (this test
session imports both elsewhere): import, load, generate, stream, chat with KV reuse, and the
CLI's generate."""

from __future__ import annotations

import subprocess
import sys
import textwrap

HEAVY = ("torch", "transformers", "optimum", "nncf", "onnxruntime")


def _run(script: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_the_genai_path_imports_neither_torch_nor_transformers(real_exports):
    out = _run(f"""
        import sys
        import edge_gemma
        model = edge_gemma.load({str(real_exports["int4"])!r}, device="CPU", threads=2)
        assert model.generate("The capital of France is", max_new_tokens=8).strip()
        assert "".join(model.stream("Once upon a time", max_new_tokens=8)).strip()
        chat = [{{"role": "user", "content": "Name a colour."}}]
        answer = model.chat(chat, max_new_tokens=8)
        model.chat(chat + [{{"role": "assistant", "content": answer}}, {{"role": "user", "content": "Another?"}}],
                   max_new_tokens=8)
        assert model.stats.reused_tokens > 0, model.stats
        print("heavy:", sorted(m for m in {HEAVY!r} if m in sys.modules))
    """)
    assert "heavy: []" in out


def test_the_cli_generate_imports_neither(real_exports):
    out = _run(f"""
        import sys
        from edge_gemma.cli import main
        code = main(["generate", {str(real_exports["int4"])!r}, "The capital of France is", "--device", "CPU",
                     "--max-new-tokens", "8"])
        print("heavy:", sorted(m for m in {HEAVY!r} if m in sys.modules), "code:", code)
    """)
    assert "heavy: [] code: 0" in out
