"""Memory and time of an export at 2B-9B scale, on a random-weight checkpoint of a recipe's exact
shape, built here shard by shard (a full `from_config` would need the model in fp32 memory).
`edge-gemma bench-scale --model gemma-2-9b-it --quant int4 [--work DIR] [--layers N]`.

The export runs in its own process with quality measurement off (EVAL=0, as for such models);
its anonymous memory (RssAnon: what a machine must really have; the checkpoint is
memory-mapped, so plain RSS also counts file pages the kernel can drop) and RSS are sampled
every 0.2 s. Random weights: compression time and memory are those of the real model, quality
is not. Prints one Markdown row for docs/quality.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

# The real shapes (the models' config.json on the hub). vocab 262144 instead of 256000 for
# Gemma 1 and 2: the tokenizer at hand is Gemma 3's; it makes the embedding 2.4 % larger.
SHAPES = {
    "gemma-2-9b-it": ("gemma2", dict(hidden_size=3584, intermediate_size=14336, num_hidden_layers=42,
                                     num_attention_heads=16, num_key_value_heads=8, head_dim=256)),
    "gemma-2-2b-it": ("gemma2", dict(hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                                     num_attention_heads=8, num_key_value_heads=4, head_dim=256)),
    "gemma-7b-it": ("gemma", dict(hidden_size=3072, intermediate_size=24576, num_hidden_layers=28,
                                  num_attention_heads=16, num_key_value_heads=16, head_dim=256)),
}
SHARD_BYTES = 2 * 2**30


def build(model: str, out: Path, tokenizer_from: Path, layers: int | None = None) -> Path:
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM

    family, dims = SHAPES[model]
    if layers:
        dims = {**dims, "num_hidden_layers": layers}
    config = AutoConfig.for_model(family, vocab_size=262144, bos_token_id=2, eos_token_id=1, pad_token_id=0,
                                  torch_dtype="bfloat16", **dims)
    with torch.device("meta"):
        shapes = {n: p.shape for n, p in AutoModelForCausalLM.from_config(config).state_dict().items()}
    out.mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    index, shard, size, n = {}, {}, 0, 0

    def flush():
        nonlocal shard, size, n
        name = f"model-{n:05d}.safetensors"
        save_file(shard, out / name, metadata={"format": "pt"})
        index.update({k: name for k in shard})
        shard, size, n = {}, 0, n + 1

    for name, shape in shapes.items():
        if name == "lm_head.weight":
            continue  # tied to the embedding, as in every Gemma
        tensor = (torch.randn(shape, generator=generator) * 0.02).to(torch.bfloat16)
        if "norm" in name:
            tensor = torch.zeros(shape, dtype=torch.bfloat16)  # Gemma's RMSNorm scales by (1 + w)
        shard[name] = tensor
        size += tensor.numel() * 2
        if size >= SHARD_BYTES:
            flush()
    if shard:
        flush()
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": index}))
    config.save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tokenizer_from / name, out / name)
    return out


def sample_memory(pid: int, peaks: dict, done: threading.Event) -> None:
    while not done.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("RssAnon", "VmRSS"):
                    peaks[key] = max(peaks.get(key, 0), int(value.split()[0]) * 1024)
        except (OSError, ValueError):
            pass
        time.sleep(0.2)


def scale_row(model: str, quant: str, work: Path, layers: int | None = None) -> str:
    """Build the random checkpoint (once, in `work`), export it, and return the Markdown row."""
    from ..errors import EdgeGemmaError
    from ..layout import default_cache_dir
    from ..recipes import load_recipe
    from ..sources import parse_source, prepare_checkpoint

    name = f"{model}-{layers}layers" if layers else model
    checkpoint = work / f"{name}-random"
    if not checkpoint.is_dir():
        tokenizer = prepare_checkpoint(parse_source(load_recipe("gemma-3-270m").source), default_cache_dir())
        print(f"building {checkpoint}", file=sys.stderr, flush=True)
        build(model, checkpoint, tokenizer, layers)
    out = work / f"{name}-{quant}"
    shutil.rmtree(out, ignore_errors=True)
    preset = load_recipe(model).preset(quant)
    cmd = [sys.executable, "-m", "edge_gemma", "export", "--model", model, "--quant", quant,
           "--source", str(checkpoint), "--output", str(out), "--no-eval"]
    peaks: dict = {}
    done = threading.Event()
    start = time.monotonic()
    proc = subprocess.Popen(cmd)
    sampler = threading.Thread(target=sample_memory, args=(proc.pid, peaks, done), daemon=True)
    sampler.start()
    code = proc.wait()
    done.set()
    wall = time.monotonic() - start
    if code != 0:
        raise EdgeGemmaError(f"the export of {checkpoint} failed (exit {code}); run the command above to see why")
    ir_gb = sum(p.stat().st_size for p in out.glob("openvino_model.*")) / 1e9
    described = ", ".join(f"{k}={v}" for k, v in vars(preset).items() if v not in (False, "", 0.0))
    return (f"| {name} (random weights) | {quant}: {described} | {wall:.0f} s | "
            f"{peaks.get('RssAnon', 0) / 2**30:.1f} GB | {peaks.get('VmRSS', 0) / 2**30:.1f} GB | {ir_gb:.2f} GB |")
