"""Run every benchmark subject in its own process and put the figures side by side."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import EdgeGemmaError
from ..export.weights import bytes_per_token, gguf_bytes_per_token, read_weights
from ..export_folder import MODEL_FILES, read_export
from ..layout import default_cache_dir
from ..runtime.engines import ENGINES, engine_class
from ..runtime.tokenizer import export_tokenizer
from ..texts.prompts import prompts
from .end_to_end import end_to_end


def _measure(spec: dict) -> dict:
    proc = subprocess.run([sys.executable, "-m", "edge_gemma.benchmark.measure", json.dumps(spec)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise EdgeGemmaError(f"benchmark of {spec['subject']} failed: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def baselines(manifest: dict, log) -> tuple[dict, dict]:
    """Specs for the baselines this machine can run, and why the others are skipped."""
    from ..sources import Source, gguf_file

    found, skipped = {}, {}
    checkpoint = manifest["source"].get("checkpoint")
    if checkpoint and Path(checkpoint).is_dir():
        found["pytorch"] = {"checkpoint": checkpoint,
                            "model_bytes": sum(p.stat().st_size for p in Path(checkpoint).glob("*.safetensors"))}
    else:
        skipped["pytorch"] = "the source checkpoint is not on this machine"
    if importlib.util.find_spec("llama_cpp") is None:
        skipped["llama.cpp"] = "llama-cpp-python is not installed (make install-llama)"
    else:
        source = Source(manifest["source"]["kind"], manifest["source"]["location"])
        gguf = gguf_file(source, default_cache_dir(), log)
        if gguf is None:
            skipped["llama.cpp"] = "the export's source is not a GGUF file"
        else:
            found["llama.cpp"] = {"gguf": str(gguf), "weight_bytes": gguf_bytes_per_token(gguf),
                                  "model_bytes": gguf.stat().st_size}
    return found, skipped


def benchmark(export_dir: Path, engines: list[str] | None, with_baselines: bool, threads: int, runs: int,
              new_tokens: int, device: str = "CPU", log=print, attention: str | None = None) -> dict:
    """Engines default to every one that runs the export's format (genai, optimum or ort);
    `attention` sets genai's attention backend (default: its choice per use)."""
    info = read_export(export_dir)
    engines = engines or [name for name, cls in ENGINES.items() if cls.format == info.format]
    for name in engines:
        engine_class(name, info.format)  # an engine for the other format fails here, before any work
    tokenizer = export_tokenizer(info.dir)
    # One prompt for the warm-up, then one per timed run (TTFT runs and decode runs).
    common = {"threads": threads, "runs": runs, "new_tokens": new_tokens, "prompts": prompts(tokenizer, 2 * runs + 1)}
    model_weights = bytes_per_token(read_weights(info.dir / MODEL_FILES[info.format]))
    subjects = {name: {"export_dir": str(info.dir), "device": device, "weight_bytes": model_weights,
                       "model_bytes": info.manifest["total_bytes"]} for name in engines}
    if attention and "genai" in subjects:
        subjects["genai"]["attention"] = attention
    skipped = {}
    if with_baselines:
        found, skipped = baselines(info.manifest, log)
        subjects.update(found)

    results = {}
    for name, extra in subjects.items():
        with tempfile.TemporaryDirectory(prefix="edge-gemma-bench-") as cache:
            spec = {**common, **extra, "subject": name, "cache_dir": cache}
            log(f"{name}: first start (empty compiled-model cache) to its first token")
            cold = _measure({**spec, "startup_only": True})
            log(f"{name}: second start, warm-up, {runs} runs per prompt length, {runs} runs of {new_tokens} tokens")
            result = _measure(spec)
        result["load_cold_s"] = cold["load_s"]
        result["startup_cold_s"] = cold["startup_s"]
        result["ttft_ms"] = result["ttft_ms_128"]
        result["model_mb"] = round(extra["model_bytes"] / 1e6, 1)
        # None for PyTorch: no file of the weights it reads (fp32, converted when loaded).
        result["weight_mb_per_token"] = round(extra.get("weight_bytes", 0) / 1e6, 1) or None
        if result["weight_mb_per_token"]:
            result["achieved_gb_per_s"] = round(result["weight_mb_per_token"] * result["decode_tokens_per_s"] / 1e3, 1)
        results[name] = result
    report = {"export": str(info.dir), "model": info.model, "quant": info.label, "device": device,
              "threads": threads, "runs": runs, "new_tokens": new_tokens, "engines": results, "skipped": skipped}
    if info.format == "openvino" and "genai" in engines and device == "CPU":
        log("end to end: `edge-gemma generate`, 16 new tokens, process start to exit")
        gguf = subjects.get("llama.cpp", {}).get("gguf")
        with tempfile.TemporaryDirectory(prefix="edge-gemma-bench-") as cache:
            report["end_to_end"] = end_to_end(info.dir, gguf, threads, Path(cache))
    if "llama.cpp" in results:
        from .llama_build import describe_build

        report["llama_build"] = describe_build()
    return report


def speed_of(subject: str, export_dir: Path, threads: int, runs: int, new_tokens: int,
             extra: dict | None = None) -> dict:
    """One subject's first token and decode speed on an export's prompts, warm load only (the
    sweep's speed column)."""
    tokenizer = export_tokenizer(export_dir)
    with tempfile.TemporaryDirectory(prefix="edge-gemma-bench-") as cache:
        result = _measure({"subject": subject, "export_dir": str(export_dir), "device": "CPU", "threads": threads,
                           "runs": runs, "new_tokens": new_tokens, "prompts": prompts(tokenizer, 2 * runs + 1),
                           "cache_dir": cache, **(extra or {})})
    return {k: result[k] for k in ("decode_tokens_per_s", "ttft_ms_128", "peak_rss_mb")}


def table(report: dict) -> str:
    head = ("engine", "model MB", "weights MB/token", "import s", "load cold s", "load s", "start cold s", "start s",
            "TTFT 128 ms", "TTFT 512 ms", "decode tok/s (min-max)", "GB/s", "peak RSS MB")
    rows = [head]
    for name, r in report["engines"].items():
        rows.append((name, f"{r['model_mb']:.0f}", str(r.get("weight_mb_per_token") or "-"), f"{r['import_s']:.2f}",
                     f"{r['load_cold_s']:.2f}", f"{r['load_s']:.2f}", f"{r['startup_cold_s']:.2f}", f"{r['startup_s']:.2f}",
                     f"{r['ttft_ms_128']:.0f}", f"{r['ttft_ms_512']:.0f}",
                     f"{r['decode_tokens_per_s']:.1f} ({r['decode_min']:.1f}-{r['decode_max']:.1f})",
                     str(r.get("achieved_gb_per_s", "-")), f"{r['peak_rss_mb']:.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for name, why in report["skipped"].items():
        lines.append(f"{name}: skipped, {why}")
    lines.append("start: imports + load + the first token of a 128-token prompt, in a fresh process "
                 "(cold: empty compiled-model cache)")
    llama = report["engines"].get("llama.cpp")
    for name, r in report["engines"].items():
        if llama and name in ENGINES:
            lines.append(f"{name} vs llama.cpp: decode {r['decode_tokens_per_s'] / llama['decode_tokens_per_s']:.2f}x, "
                         f"first token {r['ttft_ms_128'] / llama['ttft_ms_128']:.2f}x the time (128-token prompt), "
                         f"start {r['startup_s'] / llama['startup_s']:.2f}x warm and "
                         f"{r['startup_cold_s'] / llama['startup_s']:.2f}x cold, "
                         f"peak RSS {r['peak_rss_mb'] / llama['peak_rss_mb']:.2f}x")
    for name, times in report.get("end_to_end", {}).items():
        cold = f"{times['cold_s']:.2f} s cold, " if "cold_s" in times else ""
        lines.append(f"end to end, 16 new tokens, process start to exit: {name} {cold}{times['warm_s']:.2f} s")
    if "llama_build" in report:
        lines.append(f"llama.cpp build: {report['llama_build']}")
    return "\n".join(lines)
