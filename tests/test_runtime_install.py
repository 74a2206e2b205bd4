"""The runtime an app ships: `pip install edge-gemma` alone (the base requirements, no extras)
in a fresh virtualenv loads the real 270M int4 export and generates, without torch or
transformers installed, let alone imported.

Slow: the venv installs openvino, openvino-genai and friends (pip's cache makes re-runs quick;
CI reaches PyPI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
# Must not be installed by the base requirements: the export stack and the other extras.
EXTRAS_ONLY = {"torch", "transformers", "optimum", "optimum-intel", "nncf", "onnx", "onnxruntime",
               "accelerate", "gguf", "grpcio", "psutil"}
# Run inside the venv: import, load with the default engine, generate, report what got imported.
SCRIPT = textwrap.dedent("""
    import json, sys
    import edge_gemma
    imported = [name for name in ("torch", "transformers") if name in sys.modules]
    model = edge_gemma.load(sys.argv[1], device="CPU", threads=2)
    text = model.generate("The capital of France is", max_new_tokens=8)
    print(json.dumps({"file": edge_gemma.__file__, "text": text, "on_import": imported,
                      "after_generate": [name for name in ("torch", "transformers") if name in sys.modules]}))
""")


def _run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(arg) for arg in argv], capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{argv[:4]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory) -> Path:
    """A venv with `pip install edge-gemma` from this tree: base requirements only."""
    root = tmp_path_factory.mktemp("runtime-venv")
    # A copy of what a wheel holds, so the in-tree build leaves nothing in the checkout.
    source = root / "src"
    shutil.copytree(ROOT / "edge_gemma", source / "edge_gemma", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", source)
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", venv])
    # pip's cache is kept on purpose: re-runs (and CI's) reuse the downloaded wheels.
    _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", source], timeout=1200)
    return venv


def test_base_requirements_install_no_export_stack(runtime_venv):
    listed = _run([runtime_venv / "bin" / "python", "-m", "pip", "list", "--format", "json"]).stdout
    installed = {entry["name"].lower().replace("_", "-") for entry in json.loads(listed)}
    assert {"edge-gemma", "openvino", "openvino-genai", "openvino-tokenizers"} <= installed
    assert not installed & EXTRAS_ONLY


def _env(tmp_path: Path) -> dict:
    """Nothing from this checkout on sys.path; a cache of the test's own."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["EDGE_GEMMA_CACHE"] = str(tmp_path / "cache")
    return env


def test_runtime_venv_loads_and_generates_without_torch(runtime_venv, real_exports, tmp_path):
    script = tmp_path / "run.py"  # run from tmp_path: this checkout's edge_gemma is not on sys.path
    script.write_text(SCRIPT, encoding="utf-8")
    proc = _run([runtime_venv / "bin" / "python", script, real_exports["int4"]], cwd=tmp_path, env=_env(tmp_path),
                timeout=600)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(report["file"]).is_relative_to(runtime_venv)
    assert report["on_import"] == [] and report["after_generate"] == []
    assert report["text"].strip()


def test_runtime_venv_cli_generates(runtime_venv, real_exports, tmp_path):
    argv = [runtime_venv / "bin" / "edge-gemma", "generate", real_exports["int4"], "The capital of France is",
            "--max-new-tokens", "4", "--device", "CPU"]
    assert _run(argv, cwd=tmp_path, env=_env(tmp_path), timeout=600).stdout.strip()
