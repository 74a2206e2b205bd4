"""The launcher LocalAI runs (`edge-gemma-localai-backend --addr HOST:PORT`), as a real process
answering real gRPC on localhost; no model is loaded here (tests/serve/test_backend.py loads one)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import grpc
import pytest

from edge_gemma.serve import backend_pb2 as pb
from edge_gemma.serve import backend_pb2_grpc as pb_grpc

# Exactly what the console script runs (pyproject.toml [project.scripts]).
LAUNCHER = "import sys; from edge_gemma.cli import localai_backend_main; sys.exit(localai_backend_main())"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def launch():
    procs = []

    def start(env: dict | None = None):
        addr = f"127.0.0.1:{_free_port()}"
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, "--addr", addr], env={**os.environ, **(env or {})},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        channel = grpc.insecure_channel(addr)
        try:  # what LocalAI does first: wait for the server, then Health
            grpc.channel_ready_future(channel).result(timeout=60)
        except grpc.FutureTimeoutError:
            proc.kill()
            pytest.fail(f"the launcher did not start: {proc.communicate()[1][-2000:]}")
        return pb_grpc.BackendStub(channel), channel

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)


def test_health_then_a_bad_model_path_is_a_one_line_failure(launch, tmp_path):
    stub, _ = launch()
    assert stub.Health(pb.HealthMessage()).message == b"OK"
    result = stub.LoadModel(pb.ModelOptions(Model="missing-int4", ModelFile=str(tmp_path / "missing-int4"),
                                            ModelPath=str(tmp_path)))
    assert not result.success
    assert "no edge-gemma export at" in result.message and "\n" not in result.message
    bad_device = stub.LoadModel(pb.ModelOptions(Model="x", ModelPath=str(tmp_path), MainGPU="TPU"))
    assert not bad_device.success and "main_gpu: 'TPU' is not an OpenVINO device" in bad_device.message
    # Still serving, with nothing loaded.
    assert stub.Status(pb.HealthMessage()).state == pb.StatusResponse.UNINITIALIZED
    with pytest.raises(grpc.RpcError) as err:
        stub.Predict(pb.PredictOptions(Prompt="Hi"))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "LoadModel" in err.value.details()


def test_rpcs_a_text_backend_does_not_serve_are_unimplemented(launch):
    _, channel = launch()
    embedding = channel.unary_unary("/backend.Backend/Embedding", request_serializer=lambda m: m.SerializeToString(),
                                    response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as err:
        embedding(pb.PredictOptions(Prompt="Hi"))
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_localais_auth_token_is_required_when_set(launch):
    stub, channel = launch({"LOCALAI_GRPC_AUTH_TOKEN": "s3cret"})
    with pytest.raises(grpc.RpcError) as err:
        stub.Health(pb.HealthMessage())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    reply = stub.Health(pb.HealthMessage(), metadata=[("authorization", "Bearer s3cret")])
    assert reply.message == b"OK"


def test_an_address_in_use_is_a_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run([sys.executable, "-c", LAUNCHER, "--addr", addr], capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"edge-gemma: error: cannot listen on {addr}; give a free " \
                                                  "HOST:PORT with --addr"
