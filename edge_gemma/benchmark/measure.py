"""One benchmark subject, measured in its own process so peak RSS is its own.

    python -m edge_gemma.benchmark.measure '{"subject": "genai", ...}'

prints one JSON object. Subjects: the runtime engines (genai, optimum, ort) on an export, and the
baselines pytorch (the source checkpoint, fp32) and llama.cpp (the source GGUF).
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time


CONTEXT = 2048  # tokens of context every subject is set up for


class EngineSubject:
    @staticmethod
    def imports(spec):
        import edge_gemma  # noqa: F401

        if spec["subject"] == "ort":
            import onnxruntime  # noqa: F401
            import transformers  # noqa: F401
        elif spec["subject"] == "optimum":
            import optimum.intel  # noqa: F401
        else:  # genai needs neither torch nor transformers
            import openvino_genai  # noqa: F401

    def __init__(self, spec):
        import edge_gemma

        # The context llama.cpp is given too (n_ctx), so peak memory compares like with like.
        self.model = edge_gemma.load(spec["export_dir"], device=spec["device"], engine=spec["subject"],
                                     threads=spec["threads"], cache_dir=spec["cache_dir"], max_context=CONTEXT,
                                     attention=spec.get("attention"))

    def run(self, ids, n):
        self.model.generate_tokens(ids, max_new_tokens=n, ignore_eos=True)
        stats = self.model.stats
        return stats.ttft_s, stats.token_times


class LlamaCppSubject:
    @staticmethod
    def imports(spec):
        import llama_cpp  # noqa: F401

    def __init__(self, spec):
        from llama_cpp import Llama

        threads = spec["threads"]
        # flash_attn: llama.cpp's faster setting here (docs/benchmarks.md).
        self.llm = Llama(model_path=spec["gguf"], n_threads=threads, n_threads_batch=threads,
                         n_ctx=CONTEXT, n_batch=512, flash_attn=True, verbose=False)

    def run(self, ids, n):
        self.llm.reset()  # generate(reset=True) still reuses a matching prefix (0.3.36)
        times = []
        start = time.perf_counter()
        # Llama.generate is llama-cpp-python's raw loop: it never stops at EOS by itself.
        for _ in self.llm.generate(ids, top_k=1, top_p=1.0, temp=0.0, reset=True):
            times.append(time.perf_counter())
            if len(times) == n:
                break
        return times[0] - start, times


class PyTorchSubject:
    @staticmethod
    def imports(spec):
        import transformers  # noqa: F401

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


SUBJECTS = {"genai": EngineSubject, "optimum": EngineSubject, "ort": EngineSubject, "llama.cpp": LlamaCppSubject,
            "pytorch": PyTorchSubject}


def measure(spec: dict) -> dict:
    """Import, load, the first token, warm-up, then first-token latency per prompt length and
    decode speed.

    load_s is the load call alone (compile, weights, tokenizer); import_s the Python imports;
    first_token_s the first generation's first token (a 128-token prompt), which also pays
    one-time work such as the CPU plugin's kernel compilation. Their sum is start-up: how long
    an app waits from its imports to its first token.
    """
    kind = SUBJECTS[spec["subject"]]
    start = time.perf_counter()
    kind.imports(spec)
    loaded = time.perf_counter()
    subject = kind(spec)
    result = {"engine": spec["subject"], "import_s": round(loaded - start, 3),
              "load_s": round(time.perf_counter() - loaded, 3)}
    runs, prompts = spec["runs"], spec["prompts"]
    result["first_token_s"] = round(subject.run(prompts["128"][0], 1)[0], 3)
    result["startup_s"] = round(result["import_s"] + result["load_s"] + result["first_token_s"], 3)
    if not spec.get("startup_only"):
        subject.run(prompts["128"][0], 8)  # warm-up
        for length, variants in prompts.items():
            ttfts = [subject.run(ids, 1)[0] * 1000 for ids in variants[1:runs + 1]]
            result[f"ttft_ms_{length}"] = round(statistics.median(ttfts), 2)
        rates = []
        for ids in prompts["128"][runs + 1:2 * runs + 1]:
            _, times = subject.run(ids, spec["new_tokens"])
            rates.append((len(times) - 1) / (times[-1] - times[0]))
        result.update(decode_tokens_per_s=round(statistics.median(rates), 2),
                      decode_min=round(min(rates), 2), decode_max=round(max(rates), 2))
    result["peak_rss_mb"] = round(peak_rss_bytes() / 2**20, 1)
    return result


def peak_rss_bytes() -> int:
    """This process's peak RSS. Linux's VmHWM starts afresh at exec; ru_maxrss does not (it
    keeps the parent's peak across fork + exec), so it is only the fallback."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
