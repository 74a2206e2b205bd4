"""Our backend.proto is LocalAI's protocol: every message, field and RPC we declare has upstream's
name, number and type, and the committed generated code is in step with the .proto.

tests/fixtures/localai_backend_proto.json is `describe()` below run over the code grpcio-tools
generates from upstream's backend/backend.proto (the commit named in the file), for the
messages we use, with all of upstream's fields.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edge_gemma.serve import backend_pb2

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = json.loads((ROOT / "tests" / "fixtures" / "localai_backend_proto.json").read_text())
GENERATED = ("backend_pb2.py", "backend_pb2_grpc.py")


def describe(module) -> dict:
    messages = {}
    for name, message in module.DESCRIPTOR.message_types_by_name.items():
        messages[name] = {f.name: [f.number, f.type, f.is_repeated, f.message_type.full_name if f.message_type else ""]
                          for f in message.fields}
    service = module.DESCRIPTOR.services_by_name["Backend"]
    methods = {m.name: [m.input_type.full_name, m.output_type.full_name, m.server_streaming] for m in service.methods}
    states = {v.name: v.number for v in module.StatusResponse.DESCRIPTOR.enum_types_by_name["State"].values}
    return {"package": module.DESCRIPTOR.package, "service": service.full_name, "status_states": states,
            "methods": methods, "messages": messages}


def test_every_declared_field_and_rpc_is_upstreams():
    ours = describe(backend_pb2)
    assert (ours["package"], ours["service"]) == ("backend", "backend.Backend") == (UPSTREAM["package"],
                                                                                    UPSTREAM["service"])
    assert ours["status_states"] == UPSTREAM["status_states"]
    assert ours["methods"] == {name: UPSTREAM["methods"][name] for name in ours["methods"]}
    assert set(ours["methods"]) == {"Health", "Free", "LoadModel", "Predict", "PredictStream", "TokenizeString",
                                    "Status"}
    for name, fields in ours["messages"].items():
        upstream = UPSTREAM["messages"][name]
        wrong = {f: (v, upstream.get(f)) for f, v in fields.items() if upstream.get(f) != v}
        assert not wrong, f"{name}: fields that differ from LocalAI's (ours, upstream): {wrong}"


def test_a_full_upstream_message_parses_with_the_fields_we_read():
    # LocalAI sends fields we leave out (Threads, MinP, Tools...); proto3 skips them.
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    proto = descriptor_pb2.FileDescriptorProto(name="upstream.proto", package="backend", syntax="proto3")
    message = proto.message_type.add(name="PredictOptions")
    for field, (number, kind, repeated, _) in UPSTREAM["messages"]["PredictOptions"].items():
        if kind != 11:  # the scalar fields are enough to show it
            message.field.add(name=field, number=number, type=kind, label=3 if repeated else 1)
    pool.Add(proto)
    full = message_factory.GetMessageClass(pool.FindMessageTypeByName("backend.PredictOptions"))
    sent = full(Prompt="Hi", Tokens=7, Threads=4, MinP=0.05, Tools="[]", StopPrompts=["<end_of_turn>"],
                ModelIdentity="m")
    got = backend_pb2.PredictOptions.FromString(sent.SerializeToString())
    assert (got.Prompt, got.Tokens, list(got.StopPrompts), got.ModelIdentity) == ("Hi", 7, ["<end_of_turn>"], "m")


def test_generated_code_is_in_step_with_the_proto(tmp_path):
    proto = "edge_gemma/serve/backend.proto"
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT}", f"--python_out={tmp_path}",
           f"--grpc_python_out={tmp_path}", str(ROOT / proto)]
    subprocess.run(cmd, check=True, capture_output=True)
    for name in GENERATED:
        fresh = (tmp_path / "edge_gemma" / "serve" / name).read_text()
        assert fresh == (ROOT / "edge_gemma" / "serve" / name).read_text(), f"{name} is stale: run `make proto`"
