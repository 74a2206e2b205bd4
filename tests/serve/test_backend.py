"""The LocalAI backend on the real Gemma 3 270M int4 export, over real gRPC on localhost, with a
client generated from the same backend.proto. One server for the module, loaded as LocalAI
loads it (Model, ModelFile, ModelPath, ContextSize, Threads; an empty MainGPU is AUTO).

The server runs in this process so that the cancel test can read how many tokens a cancelled
request cost (`Servicer.generated_tokens`); tests/serve/test_launcher.py runs the launcher itself.
"""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from edge_gemma.runtime.engines.batched import BatchedGenaiEngine
from edge_gemma.serve import backend_pb2 as pb
from edge_gemma.serve import backend_pb2_grpc as pb_grpc
from edge_gemma.serve.server import start
from edge_gemma.texts import prompts

CONTEXT = 512
PROMPT = prompts.SMOKE_PROMPTS[0]
CHAT = [pb.Message(role=m["role"], content=m["content"]) for m in prompts.CONVERSATION[:1]]


@pytest.fixture(scope="module")
def backend(real_exports, f32_compute):
    export = real_exports["int4"]
    server, servicer, port = start("127.0.0.1:0")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = pb_grpc.BackendStub(channel)
    # Computed in f32, so that the concurrent clients' answers can be held to their answers
    # alone exactly: in bf16 a batched step rounds differently (conftest._f32_compute).
    with f32_compute():
        loaded = stub.LoadModel(pb.ModelOptions(Model=export.name, ModelFile=str(export),
                                                ModelPath=str(export.parent), ContextSize=CONTEXT, Threads=2))
    assert loaded.success, loaded.message
    yield stub, servicer, export, loaded
    channel.close()
    server.stop(grace=None)


def _predict(stub, **fields) -> pb.Reply:
    return stub.Predict(pb.PredictOptions(**fields))


def _text(reply) -> str:
    return reply.message.decode("utf-8")


def _wait_for(predicate, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def test_load_says_what_it_loaded_and_where(backend):
    stub, servicer, _, loaded = backend
    assert "engine=genai" in loaded.message and "AUTO chose CPU" in loaded.message
    assert isinstance(servicer.model.engine, BatchedGenaiEngine)  # genai on CPU: requests batch
    assert servicer.model.context_size == CONTEXT  # LocalAI's context_size, not the recipe's 32768
    status = stub.Status(pb.HealthMessage())
    assert status.state == pb.StatusResponse.READY and status.memory.total > 100 * 2**20


def test_predict_answers_as_the_runtime_does(backend):
    stub, servicer, _, _ = backend
    reply = _predict(stub, Prompt=PROMPT, Tokens=16)
    assert _text(reply) == servicer.model.generate(PROMPT, max_new_tokens=16)
    assert reply.tokens == 16 and reply.prompt_tokens == len(servicer.model.tokenizer.encode(PROMPT))
    assert reply.timing_prompt_processing > 0 and reply.timing_token_generation > 0


def test_stream_pieces_add_up_to_the_predict_answer(backend):
    stub, _, _, _ = backend
    whole = _text(_predict(stub, Prompt=PROMPT, Tokens=16))
    replies = list(stub.PredictStream(pb.PredictOptions(Prompt=PROMPT, Tokens=16)))
    assert len(replies) > 4 and "".join(_text(r) for r in replies) == whole
    counts = [r.tokens for r in replies]
    assert counts == sorted(counts) and counts[-1] == 16  # running count; LocalAI keeps the last
    last = replies[-1]
    assert last.message == b"" and last.timing_token_generation > 0 and last.prompt_tokens > 0


def test_chat_goes_through_the_exports_template(backend):
    stub, servicer, _, _ = backend
    model = servicer.model
    request = dict(Messages=CHAT, UseTokenizerTemplate=True, Tokens=12)
    reply = _predict(stub, **request)
    templated = model.tokenizer.apply_chat_template([prompts.CONVERSATION[0]], add_generation_prompt=True)
    ids = model.tokenizer.encode(templated, add_special_tokens=False)
    assert reply.prompt_tokens == len(ids) and ids[0] == model.tokenizer.bos_token_id
    model.reset()
    assert _text(reply) == model.chat([prompts.CONVERSATION[0]], max_new_tokens=12)
    counted = stub.TokenizeString(pb.PredictOptions(**request))
    assert list(counted.tokens) == ids and counted.length == len(ids)


def test_a_continued_chat_answers_as_the_runtimes_continued_chat(backend):
    # Each request decodes on its own fork of the model, handing the batching pipeline the
    # whole conversation; its prefix cache keeps the KV blocks of the turns before (as engine
    # genai's does). The answer must be the runtime's, whose chat feeds only the new turn.
    stub, servicer, _, _ = backend
    first = _text(_predict(stub, Messages=CHAT, UseTokenizerTemplate=True, Tokens=12))
    follow = [*CHAT, pb.Message(role="assistant", content=first), pb.Message(role="user", content="And animals?")]
    second = _text(_predict(stub, Messages=follow, UseTokenizerTemplate=True, Tokens=8))
    model = servicer.model
    model.reset()
    history = [prompts.CONVERSATION[0]]
    assert model.chat(history, max_new_tokens=12) == first
    history += [{"role": "assistant", "content": first}, {"role": "user", "content": "And animals?"}]
    assert model.chat(history, max_new_tokens=8) == second and model.stats.reused_tokens > 0
    assert model.engine.driver.scheduler.enable_prefix_caching


def test_stop_prompts_cut_the_answer(backend):
    stub, _, _, _ = backend
    whole = _text(_predict(stub, Prompt=PROMPT, Tokens=16))
    cut = whole.split()[2]
    stopped = _predict(stub, Prompt=PROMPT, Tokens=16, StopPrompts=[cut])
    assert _text(stopped) == whole[:whole.index(cut)] and stopped.tokens < 16


def test_end_of_turn_stops_without_stop_words(backend):
    # The model.yaml's stopwords arrive as StopPrompts; a yaml without them must still end a
    # turn at Gemma's <end_of_turn>, so the backend keeps the runtime's stop tokens (read from
    # the export's manifest) whatever the request says. The base 270M never emits
    # <end_of_turn> (its control-token embeddings are untrained), so this checks the stop set
    # the decode loop uses; stopping at a stop token is tests/runtime/test_model.py's.
    stub, servicer, _, _ = backend
    _predict(stub, Messages=CHAT, UseTokenizerTemplate=True, Tokens=4)  # no StopPrompts
    tokenizer = servicer.model.tokenizer
    assert {tokenizer.token_id("<end_of_turn>"), tokenizer.token_id("<eos>")} <= servicer.model.stop_ids


def test_ignore_eos_and_the_token_limit(backend):
    stub, _, _, _ = backend
    assert _predict(stub, Prompt=PROMPT, Tokens=24, IgnoreEOS=True).tokens == 24


def test_same_seed_same_sample(backend):
    stub, _, _, _ = backend
    sampling = dict(Prompt="Once upon a time", Tokens=16, Temperature=1.0, TopP=0.95, TopK=50)
    first = _text(_predict(stub, Seed=3, **sampling))
    assert _text(_predict(stub, Seed=3, **sampling)) == first
    others = {_text(_predict(stub, Seed=s, **sampling)) for s in range(4, 8)}
    assert len(others | {first}) > 1  # the seed does change the sample


def test_tokenize_string_counts_the_prompt(backend):
    stub, servicer, _, _ = backend
    counted = stub.TokenizeString(pb.PredictOptions(Prompt=PROMPT))
    ids = servicer.model.tokenizer.encode(PROMPT)
    assert list(counted.tokens) == ids and counted.length == len(ids)


def test_bad_loads_fail_in_one_line_and_keep_the_loaded_model(backend, tmp_path):
    stub, servicer, export, _ = backend
    missing = stub.LoadModel(pb.ModelOptions(Model="nope", ModelPath=str(tmp_path)))
    absent = stub.LoadModel(pb.ModelOptions(Model=export.name, ModelPath=str(export.parent), MainGPU="GPU.3"))
    unknown = stub.LoadModel(pb.ModelOptions(Model=export.name, ModelPath=str(export.parent), MainGPU="TPU"))
    for result, says in [(missing, "no edge-gemma export at"), (absent, "device GPU.3 is not present"),
                         (unknown, "'TPU' is not an OpenVINO device")]:
        assert not result.success and says in result.message and "\n" not in result.message
    assert _predict(stub, Prompt=PROMPT, Tokens=4).tokens == 4  # still serving


def test_a_prompt_over_the_context_is_refused_and_serving_goes_on(backend):
    stub, _, _, _ = backend
    with pytest.raises(grpc.RpcError) as err:
        _predict(stub, Prompt="word " * CONTEXT, Tokens=8)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"exceeds the context of {CONTEXT}" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        list(stub.PredictStream(pb.PredictOptions(Prompt="word " * CONTEXT, Tokens=8)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _predict(stub, Prompt=PROMPT, Tokens=4).tokens == 4


def test_model_identity_is_checked(backend):
    stub, _, export, _ = backend
    assert _predict(stub, Prompt=PROMPT, Tokens=2, ModelIdentity=export.name).tokens == 2
    with pytest.raises(grpc.RpcError) as err:
        _predict(stub, Prompt=PROMPT, Tokens=2, ModelIdentity="another-model")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert err.value.details().startswith("model identity mismatch")  # the text LocalAI's router looks for


def test_a_client_that_cancels_mid_stream_stops_the_generation(backend):
    stub, servicer, _, _ = backend
    before_tokens, before_done = servicer.generated_tokens, servicer.finished
    call = stub.PredictStream(pb.PredictOptions(Prompt=PROMPT, Tokens=400, IgnoreEOS=True))
    for _, _ in zip(call, range(3)):
        pass
    call.cancel()
    assert _wait_for(lambda: servicer.finished > before_done, 120), "the cancelled generation never ended"
    spent = servicer.generated_tokens - before_tokens
    assert 3 <= spent < 100, f"a cancelled 400-token request still decoded {spent} tokens"
    assert stub.Status(pb.HealthMessage()).state == pb.StatusResponse.READY
    assert _predict(stub, Prompt=PROMPT, Tokens=4).tokens == 4


def test_eight_concurrent_clients_each_get_their_own_answer(backend):
    stub, _, _, _ = backend
    asks = [prompts.ACCURACY_PROMPTS[i] for i in range(8)]
    alone = [_text(_predict(stub, Prompt=p, Tokens=12)) for p in asks]
    got: dict[int, str] = {}
    errors = []

    def client(i: int):
        try:
            if i % 2:  # half stream, half not, as LocalAI's users would
                got[i] = "".join(_text(r) for r in stub.PredictStream(pb.PredictOptions(Prompt=asks[i], Tokens=12)))
            else:
                got[i] = _text(_predict(stub, Prompt=asks[i], Tokens=12))
        except grpc.RpcError as err:
            errors.append(err)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [got[i] for i in range(8)] == alone


def test_free_unloads_and_load_comes_back(backend):
    # Last in the module: it reloads with the optimum engine (the yaml's `options:`).
    stub, _, export, _ = backend
    assert stub.Free(pb.HealthMessage()).success
    assert stub.Status(pb.HealthMessage()).state == pb.StatusResponse.UNINITIALIZED
    with pytest.raises(grpc.RpcError) as err:
        _predict(stub, Prompt=PROMPT, Tokens=2)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    again = stub.LoadModel(pb.ModelOptions(Model=export.name, ModelPath=str(export.parent), ContextSize=CONTEXT,
                                           Threads=2, MainGPU="CPU", Options=["engine:optimum"]))
    assert again.success and "engine=optimum" in again.message and "CPU as requested" in again.message
    assert _predict(stub, Prompt=PROMPT, Tokens=2).tokens == 2
