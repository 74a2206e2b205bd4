"""`edge-gemma ovms`: the OVMS repository and KServe manifest, checked against what OVMS reads.

No OVMS here (not on a package registry), so each file is checked against the source OVMS
itself checks it with, vendored in tests/fixtures/ovms/ (SOURCES.md says from where):
config.json against OVMS's config JSON schema; graph.pbtxt parsed as protobuf text format
into MediaPipe's CalculatorGraphConfig, with OVMS's LLMCalculatorOptions and MediaPipe's
SyncSetInputStreamHandlerOptions resolved, as OVMS parses it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge_gemma.cli import main
from edge_gemma.serve import ovms

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ovms"


def _export(folder: Path, context: int = 32768, nncf: dict | None = None) -> Path:
    """A stand-in export folder: the files OVMS loads (empty) and a manifest."""
    folder.mkdir(parents=True)
    for name in (*ovms.NEEDED, "tokenizer_config.json", "chat_template.jinja"):
        (folder / name).write_bytes(b"x" * 10)
    nncf = nncf if nncf is not None else {"mode": "int4_sym", "group_size": 128, "ratio": 1.0}
    manifest = {"model": "gemma-3-270m", "quant": "int4", "format": "openvino",
                "recipe": {"context_size": context, "stop_words": ["<end_of_turn>", "<eos>"]},
                "compression": {"nncf": nncf}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="module")
def graph_config_class(tmp_path_factory):
    """MediaPipe's CalculatorGraphConfig, compiled from the vendored protos with OVMS's options."""
    out = tmp_path_factory.mktemp("mediapipe_pb2")
    protos = FIXTURES / "protos"
    files = sorted(str(p.relative_to(protos)) for p in protos.rglob("*.proto"))
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{protos}", f"--python_out={out}", *files],
                   check=True, capture_output=True, cwd=protos)
    sys.path.insert(0, str(out))
    try:
        import llm_calculator_pb2  # noqa: F401  (registers mediapipe.LLMCalculatorOptions)
        from mediapipe.framework import calculator_pb2
        from mediapipe.framework.stream_handler import sync_set_input_stream_handler_pb2  # noqa: F401
    finally:
        sys.path.remove(str(out))
    return calculator_pb2.CalculatorGraphConfig


def test_repository_layout_and_config_against_ovms_schema(tmp_path):
    import jsonschema

    export = _export(tmp_path / "exports" / "gemma-3-270m-int4")
    written = ovms.write_ovms_repository(export, tmp_path / "repo")
    repo = tmp_path / "repo"
    assert written == [repo / "config.json", repo / "gemma-3-270m-int4" / "graph.pbtxt",
                       repo / "inference-service.yaml"]
    config = json.loads((repo / "config.json").read_text())
    schema = json.loads((FIXTURES / "config_schema.json").read_text())["schema"]
    jsonschema.validate(config, schema)
    entry = config["model_config_list"][0]["config"]
    assert entry == {"name": "gemma-3-270m-int4", "base_path": "gemma-3-270m-int4"}
    model_dir = repo / entry["base_path"]  # base_path is relative to config.json
    for name in (*ovms.NEEDED, "tokenizer_config.json", "chat_template.jinja"):
        assert (model_dir / name).read_bytes() == (export / name).read_bytes()
    with pytest.raises(jsonschema.ValidationError):  # the schema does catch a wrong key
        jsonschema.validate({"model_config_list": [{"config": {"name": "m", "models_path": "x"}}]}, schema)


def test_graph_parses_as_mediapipe_and_names_our_files(tmp_path, graph_config_class):
    from google.protobuf import text_format

    export = _export(tmp_path / "gemma-3-270m-int4", context=4096)
    ovms.write_ovms_repository(export, tmp_path / "repo", device="GPU")
    graph = text_format.Parse((tmp_path / "repo" / "gemma-3-270m-int4" / "graph.pbtxt").read_text(),
                              graph_config_class())
    assert list(graph.input_stream) == ["HTTP_REQUEST_PAYLOAD:input"]
    assert list(graph.output_stream) == ["HTTP_RESPONSE_PAYLOAD:output"]
    (node,) = graph.node
    assert node.calculator == "HttpLLMCalculator"
    assert list(node.input_side_packet) == ["LLM_NODE_RESOURCES:llm"]  # OVMS: exactly this, or it fails
    assert node.input_stream_handler.input_stream_handler == "SyncSetInputStreamHandler"
    (options,) = node.node_options
    assert options.type_url == "type.googleapis.com/mediapipe.LLMCalculatorOptions"
    llm = sys.modules["llm_calculator_pb2"].LLMCalculatorOptions.FromString(options.value)
    assert (llm.models_path, llm.device, llm.enable_prefix_caching, llm.max_tokens_limit) == ("./", "GPU", True, 4096)
    # models_path "./" is the graph's folder: it holds the IR and the tokenizer IRs OVMS loads.
    assert all((tmp_path / "repo" / "gemma-3-270m-int4" / f).is_file() for f in ovms.NEEDED)


def test_kserve_manifest(tmp_path):
    export = _export(tmp_path / "gemma-1.1-2b-it-int4")
    ovms.write_ovms_repository(export, tmp_path / "repo", storage_uri="s3://bucket/ovms/")
    manifest = yaml.safe_load((tmp_path / "repo" / "inference-service.yaml").read_text())
    assert manifest["apiVersion"] == "serving.kserve.io/v1beta1" and manifest["kind"] == "InferenceService"
    assert manifest["metadata"]["name"] == "gemma-1-1-2b-it-int4"  # Kubernetes names have no dots
    model = manifest["spec"]["predictor"]["model"]
    assert model["runtime"] == "kserve-openvino" and model["modelFormat"]["name"] == "openvino"
    assert model["storageUri"] == "s3://bucket/ovms/gemma-1.1-2b-it-int4"


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    onnx = tmp_path / "m-onnx"
    onnx.mkdir()
    (onnx / "model.onnx").write_bytes(b"x")
    (onnx / "manifest.json").write_text(json.dumps({"model": "m", "quant": "int4", "format": "onnx",
                                                    "recipe": {"context_size": 8, "stop_words": []}}))
    not_npu = _export(tmp_path / "asym", nncf={"mode": "int4_asym", "group_size": 64, "ratio": 0.8})
    cases = [
        (["ovms", str(tmp_path / "nothing"), str(tmp_path / "o1")], "is not an edge-gemma export"),
        (["ovms", str(onnx), str(tmp_path / "o2")], "is not an OpenVINO export with tokenizer IRs"),
        (["ovms", str(not_npu), str(tmp_path / "o3"), "--device", "NPU"], "cannot run on the NPU"),
        (["ovms", str(not_npu), str(tmp_path)], "already exists; pass --force"),
    ]
    for argv, message in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not any(p.name.startswith(("o1", "o2", "o3", ".o")) for p in tmp_path.iterdir())
