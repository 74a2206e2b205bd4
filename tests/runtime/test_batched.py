"""load(batched=True): engine genai on a continuous-batching pipeline, forks decoding side by side."""

from __future__ import annotations

import threading

import pytest

import edge_gemma
from edge_gemma.errors import RuntimeCheckError
from edge_gemma.texts import prompts

PROMPTS = prompts.ACCURACY_PROMPTS[:4]


@pytest.fixture(scope="module")
def batched(real_exports, f32_compute):
    # f32: in bf16 a batched step rounds differently from a single one (conftest._f32_compute).
    with f32_compute():
        return edge_gemma.load(real_exports["int4"], device="CPU", threads=2, batched=True)


def test_forks_decoding_together_answer_as_alone_and_as_engine_genai(batched, real_exports, f32_compute):
    alone = [batched.fork().generate(p, max_new_tokens=12) for p in PROMPTS]
    # Against engine genai on the same attention backend: paged attention and the stateful SDPA
    # one round differently, which parts greedy decoding at the int4 export's near-ties.
    with f32_compute():
        single = edge_gemma.load(real_exports["int4"], device="CPU", threads=2, attention="PA")
    assert alone == [single.generate(p, max_new_tokens=12) for p in PROMPTS]
    together: dict[int, str] = {}
    threads = [threading.Thread(target=lambda i=i: together.__setitem__(i, batched.fork().generate(
        PROMPTS[i], max_new_tokens=12))) for i in range(len(PROMPTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [together[i] for i in range(len(PROMPTS))] == alone


def test_a_fork_has_its_own_sequence_and_stops_when_asked(batched):
    a, b = batched.fork(), batched.fork()
    a.generate(PROMPTS[0], max_new_tokens=4)
    assert b.engine.tokens == [] and a.engine.tokens and a.engine.driver is b.engine.driver
    taken = []
    a.generate(PROMPTS[0], max_new_tokens=40, on_text=lambda piece: taken.append(piece) or len(taken) == 2)
    assert len(taken) == 2 and a.stats.new_tokens < 40
    assert a.generate(PROMPTS[1], max_new_tokens=4)  # the pipeline goes on after a cancel


def test_only_engine_genai_batches_and_only_batched_models_fork(real_exports, loaded):
    with pytest.raises(RuntimeCheckError, match="batched decoding is engine genai's, not optimum's"):
        edge_gemma.load(real_exports["int4"], device="CPU", engine="optimum", batched=True)
    with pytest.raises(RuntimeCheckError, match="runs one sequence"):
        loaded("int4", "genai").fork()
