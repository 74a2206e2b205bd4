"""One benchmark subject, measured in its own process so peak RSS is its own.

    python -m edge_gemma.benchmark.measure '{"subject": "genai", ...}'

prints one JSON object. Subjects: the runtime engines (genai, optimum) on an export, and the
baselines pytorch (the source checkpoint, fp32) and llama.cpp (the source GGUF).
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time


class EngineSubject:
    def __init__(self, spec):
        import edge_gemma

        self.model = edge_gemma.load(spec["export_dir"], device=spec["device"], engine=spec["subject"],
                                     threads=spec["threads"], cache_dir=spec["cache_dir"])

    def run(self, ids, n):
        self.model.generate_tokens(ids, max_new_tokens=n, ignore_eos=True)
        stats = self.model.stats
        return stats.ttft_s, stats.token_times


class LlamaCppSubject:
    def __init__(self, spec):
        from llama_cpp import Llama

        threads = spec["threads"]
        # flash_attn: llama.cpp's faster setting here (90 vs 86 tokens/s on the 270M, 2 threads).
        self.llm = Llama(model_path=spec["gguf"], n_threads=threads, n_threads_batch=threads,
                         n_ctx=2048, n_batch=512, flash_attn=True, verbose=False)

    def run(self, ids, n):
        times = []
        start = time.perf_counter()
        # Llama.generate is llama-cpp-python's raw loop: it never stops at EOS by itself.
        for _ in self.llm.generate(ids, top_k=1, top_p=1.0, temp=0.0, reset=True):
            times.append(time.perf_counter())
            if len(times) == n:
                break
        return times[0] - start, times


class PyTorchSubject:
    def __init__(self, spec):
        import torch
        from transformers import AutoModelForCausalLM

        torch.set_num_threads(spec["threads"])
        self.torch = torch
        self.model = AutoModelForCausalLM.from_pretrained(spec["checkpoint"], dtype=torch.float32).eval()

    def run(self, ids, n):
        torch = self.torch
        times = []
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.model(torch.tensor([ids]), use_cache=True, logits_to_keep=1)
            for _ in range(n):
                token = int(out.logits[0, -1].argmax())
                times.append(time.perf_counter())
                if len(times) == n:
                    break
                out = self.model(torch.tensor([[token]]), past_key_values=out.past_key_values, use_cache=True)
        return times[0] - start, times


SUBJECTS = {"genai": EngineSubject, "optimum": EngineSubject, "llama.cpp": LlamaCppSubject,
            "pytorch": PyTorchSubject}


def measure(spec: dict) -> dict:
    """Load, warm up, then first-token latency per prompt length and decode speed."""
    start = time.perf_counter()
    subject = SUBJECTS[spec["subject"]](spec)
    result = {"engine": spec["subject"], "load_s": round(time.perf_counter() - start, 3)}
    if not spec.get("load_only"):
        runs = spec["runs"]
        subject.run(spec["prompts"]["128"], 8)  # warm-up
        for length, ids in spec["prompts"].items():
            ttfts = [subject.run(ids, 1)[0] * 1000 for _ in range(runs)]
            result[f"ttft_ms_{length}"] = round(statistics.median(ttfts), 2)
        rates = []
        for _ in range(runs):
            _, times = subject.run(spec["prompts"]["128"], spec["new_tokens"])
            rates.append((len(times) - 1) / (times[-1] - times[0]))
        result.update(decode_tokens_per_s=round(statistics.median(rates), 2),
                      decode_min=round(min(rates), 2), decode_max=round(max(rates), 2))
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
