"""The reference's side of an evaluation is computed once per checkpoint and text, and a cached
one is the very same numbers; the ONNX export's every-position pass equals stepping it."""

from __future__ import annotations

import numpy as np

from edge_gemma.quality import reference as reference_mod
from edge_gemma.quality.models import TorchReference


def test_reference_logits_are_cached_exactly_and_keyed_by_the_text(real_checkpoint, tmp_path):
    chunks = [[2, *range(1000, 1040)], [2, *range(2000, 2030)]]
    prompts = [[2, 651, 6037, 529]]
    seen = []
    first = reference_mod.reference(real_checkpoint, None, chunks, prompts, 4, tmp_path, log=seen.append)
    entries = [p for p in (tmp_path / "reference").iterdir()]
    assert len(entries) == 1 and not seen  # computed, not read
    again = reference_mod.reference(real_checkpoint, None, chunks, prompts, 4, tmp_path, log=seen.append)
    assert len(seen) == 1 and "from the cache" in seen[0]
    fresh = TorchReference(real_checkpoint)
    for chunk, a, b in zip(chunks, first.logits, again.logits):
        assert a.dtype == np.float32 and a.shape == (len(chunk) - 1, 262144)
        assert np.array_equal(a, b) and np.array_equal(a, fresh.logits(chunk)[:-1])  # exact, not rounded
    assert first.greedy == again.greedy == [fresh.greedy(prompts[0], 4)]
    assert first.describe.startswith("PyTorch fp32")
    # Another text is another entry; only the KEEP most recent stay.
    for n in range(reference_mod.KEEP + 1):
        reference_mod.reference(real_checkpoint, None, [[2, 3000 + n, 3001]], prompts, 4, tmp_path, log=seen.append)
    assert len(list((tmp_path / "reference").iterdir())) == reference_mod.KEEP


def test_the_onnx_every_position_pass_equals_stepping_the_graph(onnx_exports):
    import onnxruntime as ort

    from edge_gemma.quality.models import OnnxModel
    from edge_gemma.runtime.engines.ort import empty_past

    path = onnx_exports["int8"] / "model.onnx"
    ids = [2, 651, 6037, 529, 7001, 563, 496, 3207, 8353, 236761] * 6
    every = OnnxModel(path, threads=2).logits(ids)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    past, rows = empty_past(session), []
    for n, token in enumerate(ids):  # how the evaluation ran before: one token per call
        logits, *present = session.run(None, {"input_ids": np.array([[token]], np.int64),
                                              "attention_mask": np.ones((1, n + 1), np.int64), **past})
        past = dict(zip(past, present))
        rows.append(logits[0, -1])
    stepped = np.stack(rows)
    assert every.shape == stepped.shape == (len(ids), 262144)
    # The same graph and weights; only the kernels' blocking differs (one row at a time or
    # sixty), which moves float32 sums in their last bits.
    assert (every.argmax(-1) == stepped.argmax(-1)).mean() >= 0.98
    assert np.abs(every - stepped).max() < 0.05
    assert not [p for p in path.parent.parent.iterdir() if p.name.startswith(".edge-gemma-eval-")]  # cleaned up
