"""The runtime API on the real Gemma 3 270M: every engine, chat with KV reuse, streaming."""

from __future__ import annotations

import pytest

import edge_gemma
from edge_gemma.errors import GenerationError, RuntimeCheckError
from edge_gemma.runtime.options import GenerationOptions
from edge_gemma.texts import prompts

ENGINES = ("genai", "optimum", "ort")  # ort runs the ONNX export of the same model
OPENVINO_ENGINES = ("genai", "optimum")
PROMPTS = prompts.SMOKE_PROMPTS[:4]
CONVERSATION = list(prompts.CONVERSATION)


def _ids(model, prompt):
    return model.tokenizer.encode(prompt)


@pytest.mark.parametrize("quant", ["int8", "int4"])
def test_engines_agree_on_greedy_tokens(real_exports, quant):
    # Same IR, same CPU plugin: the C++ loop and optimum-intel's forward must pick the same
    # tokens; a difference would mean the engines feed the model differently (positions,
    # attention mask, KV handling). With the default u8 KV cache they quantize the cache
    # differently (genai converts the IR to paged attention, optimum keeps the stateful SDPA
    # form), which flips near-ties now and then (seen: 1 of 4 prompts parting after 6 or 15
    # tokens); with an f32 KV cache the computations agree, so that is what is compared.
    engines = [edge_gemma.load(real_exports[quant], device="CPU", engine=e, threads=2, kv_cache_precision="f32")
               for e in OPENVINO_ENGINES]
    for prompt in PROMPTS:
        ids = _ids(engines[0], prompt)
        genai, optimum = (m.generate_tokens(ids, max_new_tokens=24) for m in engines)
        assert genai == optimum, prompt


@pytest.mark.parametrize("engine", ENGINES)
def test_chat_reuses_the_kv_cache_and_matches_decoding_afresh(loaded, engine):
    model = loaded("int4", engine)
    model.reset()
    first = model.chat(CONVERSATION[:1], max_new_tokens=12)
    assert model.stats.reused_tokens == 0
    history = [CONVERSATION[0], {"role": "assistant", "content": first}, CONVERSATION[2]]
    second = model.chat(history, max_new_tokens=12)
    kept = model.stats
    assert kept.reused_tokens > kept.prompt_tokens // 2  # only the new turn was fed
    # The same tokens decoded from an empty cache give the same answer.
    sequence = model.engine.tokens
    fed, generated = sequence[:kept.prompt_tokens], sequence[kept.prompt_tokens:]
    assert model.generate_tokens(fed, max_new_tokens=12) == generated
    assert model.tokenizer.decode(generated) == second
    # A conversation that does not continue the cached one starts afresh.
    model.chat(CONVERSATION, max_new_tokens=4)
    assert model.stats.reused_tokens == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_kv_cache_is_right_after_a_stop_token(loaded, engine):
    # An answer that ends on a stop token (Gemma's <end_of_turn>) leaves that token out of the
    # KV cache until the next turn feeds it; continuing must equal decoding everything afresh.
    model = loaded("int4", engine)
    prompt = _ids(model, "The capital of France is")
    free = model.generate_tokens(prompt, max_new_tokens=4)
    model.reset()
    tokens = []
    model.engine.generate(prompt, GenerationOptions(max_new_tokens=10), {free[2]},
                          lambda t: tokens.append(t) or t == free[2])
    assert tokens == free[:3] and model.engine.tokens == prompt + free[:3]
    more = _ids(model, " Also,")[1:]
    continued = []
    # 5 tokens: on the int4 export (asym g32, AWQ + SE) the optimum engine meets a near-tie at
    # the 6th, where a cached prefix and a fresh prefill (different bf16 kernels) part, with a
    # u8 or an f32 KV cache alike (seen 2026-11-23); a wrong cache parts at the first.
    model.engine.generate(more, GenerationOptions(max_new_tokens=5), set(), lambda t: continued.append(t) and False)
    assert continued == model.generate_tokens(prompt + free[:3] + more, max_new_tokens=5)


@pytest.mark.parametrize("engine", ENGINES)
def test_streaming_iterator_and_callback_give_the_same_text(loaded, engine):
    model = loaded("int4", engine)
    text = model.generate(PROMPTS[0], max_new_tokens=16)
    assert text.strip()
    assert "".join(model.stream(PROMPTS[0], max_new_tokens=16)) == text
    pieces = []
    assert model.generate(PROMPTS[0], max_new_tokens=16, on_text=pieces.append) == text
    assert len(pieces) > 3 and "".join(pieces) == text
    chat_pieces = list(model.stream_chat(CONVERSATION[:1], max_new_tokens=8))
    assert "".join(chat_pieces).strip()


@pytest.mark.parametrize("engine", ENGINES)
def test_stop_strings_and_early_stop(loaded, engine):
    model = loaded("int4", engine)
    text = model.generate(PROMPTS[0], max_new_tokens=16)
    cut = text.split()[2]  # a word in the middle of the answer
    stopped = model.generate(PROMPTS[0], max_new_tokens=16, stop=[cut])
    assert stopped == text[:text.index(cut)]
    taken = []
    model.generate(PROMPTS[0], max_new_tokens=16, on_text=lambda p: taken.append(p) or len(taken) == 2)
    assert len(taken) == 2 and model.stats.new_tokens < 16
    stream = model.stream(PROMPTS[0], max_new_tokens=16)
    next(stream)
    stream.close()  # the decode thread stops; the model is usable again
    assert model.generate(PROMPTS[0], max_new_tokens=16) == text


@pytest.mark.parametrize("engine", ENGINES)
def test_sampling_is_repeatable_with_a_seed(loaded, engine):
    model = loaded("int4", engine)
    options = dict(max_new_tokens=16, temperature=1.0, top_p=0.95, top_k=50)
    a = model.generate("Once upon a time", seed=3, **options)
    assert a == model.generate("Once upon a time", seed=3, **options)
    others = {model.generate("Once upon a time", seed=s, **options) for s in range(4, 8)}
    assert len(others | {a}) > 1


def test_bad_input_is_a_clear_error(loaded, tmp_path):
    model = loaded("int4", "genai")
    with pytest.raises(GenerationError, match="prompt is empty"):
        model.generate("  ")
    with pytest.raises(GenerationError, match="exceeds the context of 32768"):
        model.generate("word " * 33000, max_new_tokens=8)
    with pytest.raises(GenerationError, match="exceeds the context"):
        model.generate("Hi", max_new_tokens=40000)
    with pytest.raises(GenerationError, match="last message must be a non-empty user message"):
        model.chat([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}])
    with pytest.raises(GenerationError, match="message 0 must be"):
        model.chat([{"role": "robot", "content": "Hi"}])
    with pytest.raises(RuntimeCheckError, match="is not an edge-gemma export"):
        edge_gemma.load(tmp_path)


def test_load_rejects_unknown_engine_and_device(real_exports):
    from edge_gemma.errors import DeviceError

    with pytest.raises(RuntimeCheckError, match="unknown engine 'vllm'; choose one of genai, optimum, ort"):
        edge_gemma.load(real_exports["int4"], engine="vllm")
    with pytest.raises(DeviceError, match="device NPU is not present here"):
        edge_gemma.load(real_exports["int4"], device="NPU")
    with pytest.raises(DeviceError, match="only apply to NPU"):
        edge_gemma.load(real_exports["int4"], device="CPU", max_prompt_len=64)


def test_auto_says_what_it_chose(loaded):
    from edge_gemma.runtime.device_config import available_devices

    model = loaded("int4", "genai")
    assert model.device == "CPU" and "CPU" in model.device_reason
    if available_devices() == ["CPU"]:
        assert edge_gemma.load(model.info.dir, threads=2).device_reason.startswith("AUTO chose CPU")


def test_npu_prompt_limit_is_checked_before_decoding(loaded):
    # The NPU cannot run here; its static prompt length is checked in EdgeModel, before the
    # engine, so the real tokenizer and export info with no engine behind them suffice.
    from types import SimpleNamespace

    from edge_gemma.runtime.model import EdgeModel

    real = loaded("int4", "genai")
    npu = EdgeModel(real.info, SimpleNamespace(tokens=[], device="NPU", name="genai"), real.tokenizer,
                    "NPU as requested", prompt_limit=16)
    with pytest.raises(GenerationError, match="longer than the 16 the NPU was compiled for"):
        npu.generate("word " * 40, max_new_tokens=4)
