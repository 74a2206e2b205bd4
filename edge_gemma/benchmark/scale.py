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

# The real shapes (the models' config.json on the hub; the text_config of the multimodal ones,
# whose text decoder is what edge_gemma exports). vocab 262144 instead of 256000 for Gemma 1
# and 2: the tokenizer at hand is Gemma 3's; it makes the embedding 2.4 % larger.
SHAPES = {
    "gemma-2-9b-it": ("gemma2", dict(hidden_size=3584, intermediate_size=14336, num_hidden_layers=42,
                                     num_attention_heads=16, num_key_value_heads=8, head_dim=256)),
    "gemma-2-2b-it": ("gemma2", dict(hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                                     num_attention_heads=8, num_key_value_heads=4, head_dim=256)),
    "gemma-7b-it": ("gemma", dict(hidden_size=3072, intermediate_size=24576, num_hidden_layers=28,
                                  num_attention_heads=16, num_key_value_heads=16, head_dim=256)),
}


def layer_pattern(layers: int, period: int) -> list[str]:
    """Gemma's sliding/full pattern: every `period`-th layer attends to the whole context."""
    return ["full_attention" if (i + 1) % period == 0 else "sliding_attention" for i in range(layers)]


def _gemma3(hidden, mlp, layers, heads, kv_heads, head_dim, scalar):
    return ("gemma3_text", dict(hidden_size=hidden, intermediate_size=mlp, num_hidden_layers=layers,
                                num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=head_dim,
                                query_pre_attn_scalar=scalar, sliding_window=1024, vocab_size=262208,
                                layer_types=layer_pattern(layers, 6)))


def _gemma3n(mlp, layers, shared):
    return ("gemma3n_text", dict(hidden_size=2048, intermediate_size=[mlp] * layers, num_hidden_layers=layers,
                                 num_attention_heads=8, num_key_value_heads=2, head_dim=256, sliding_window=512,
                                 vocab_size=262400, vocab_size_per_layer_input=262144, hidden_size_per_layer_input=256,
                                 num_kv_shared_layers=shared, laurel_rank=64, altup_num_inputs=4,
                                 activation_sparsity_pattern=[0.95] * 10 + [0.0] * (layers - 10),
                                 final_logit_softcapping=30.0, layer_types=layer_pattern(layers, 5)))


def _gemma4(hidden, mlp, layers, heads, kv_heads, period, **extra):
    return ("gemma4_text", dict(hidden_size=hidden, intermediate_size=mlp, num_hidden_layers=layers,
                                num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=256,
                                global_head_dim=512, final_logit_softcapping=30.0,
                                layer_types=layer_pattern(layers, period), **extra))


# The text decoders of the multimodal checkpoints (their text_config; what edge_gemma exports),
# from Hugging Face's conversion scripts and published configs, read 2026-12-03 (no hub here).
SHAPES.update({
    "gemma-3-4b-it": _gemma3(2560, 10240, 34, 8, 4, 256, 256),
    "gemma-3-12b-it": _gemma3(3840, 15360, 48, 16, 8, 256, 256),
    "gemma-3-27b-it": _gemma3(5376, 21504, 62, 32, 16, 128, 168),
    "gemma-3n-e2b-it": _gemma3n(8192, 30, 10),
    "gemma-3n-e4b-it": _gemma3n(16384, 35, 15),
    # E2B's KV-shared layers have a double-wide MLP (use_double_wide_mlp).
    "gemma-4-e2b-it": _gemma4(1536, 6144, 35, 8, 1, 5, sliding_window=512, num_kv_shared_layers=20,
                              hidden_size_per_layer_input=256, use_double_wide_mlp=True),
    "gemma-4-e4b-it": _gemma4(2560, 10240, 42, 8, 2, 6, sliding_window=512, num_kv_shared_layers=18,
                              hidden_size_per_layer_input=256),
    "gemma-4-26b-a4b-it": _gemma4(2816, 2112, 30, 16, 8, 6, sliding_window=1024, num_global_key_value_heads=2,
                                  hidden_size_per_layer_input=0, attention_k_eq_v=True, enable_moe_block=True,
                                  num_experts=128, top_k_experts=8, moe_intermediate_size=704),
    "gemma-4-31b-it": _gemma4(5376, 21504, 60, 32, 16, 6, sliding_window=1024, num_global_key_value_heads=4,
                              hidden_size_per_layer_input=0, attention_k_eq_v=True),
})
# Families whose RMSNorm scales by w (Gemma 3n, 4), not (1 + w): their norms start at one.
NORM_BY_W = {"gemma3n_text", "gemma4_text"}
SHARD_BYTES = 2 * 2**30
BLOCK_ROWS = 16384


def build(model: str, out: Path, tokenizer_from: Path, layers: int | None = None) -> Path:
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM

    family, dims = SHAPES[model]
    if layers:
        dims = at_depth(dims, layers)
    config = AutoConfig.for_model(family, **{"vocab_size": 262144, **dims}, bos_token_id=2, eos_token_id=1,
                                  pad_token_id=0, torch_dtype="bfloat16")
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
        if len(shape) > 1:  # drawn a block of rows at a time: E4B's per-layer table is 11 GB in f32
            tensor = torch.empty(shape, dtype=torch.bfloat16)
            for start in range(0, shape[0], BLOCK_ROWS):
                block = tensor[start:start + BLOCK_ROWS]
                block.copy_(torch.randn(block.shape, generator=generator) * 0.02)
        else:  # norms and scales: Gemma 1-3's RMSNorm scales by (1 + w), Gemma 3n and 4's by w
            tensor = torch.full(shape, float(family in NORM_BY_W), dtype=torch.bfloat16)
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


def at_depth(dims: dict, layers: int) -> dict:
    """The same widths at another depth: per-layer lists (layer types, MLP widths, sparsity)
    cut to it, the KV-shared share scaled to it (a KV-shared layer reuses the cache of an
    earlier layer of its type, so one full period stays unshared)."""
    depth = dims["num_hidden_layers"]
    out = {k: v[:layers] if isinstance(v, list) and len(v) == depth else v for k, v in dims.items()}
    out["num_hidden_layers"] = layers
    if dims.get("num_kv_shared_layers"):
        period = dims["layer_types"].index("full_attention") + 1
        shared = round(dims["num_kv_shared_layers"] * layers / depth)
        out["num_kv_shared_layers"] = min(shared, max(0, layers - period))
    return out


def sample_memory(pid: int, peaks: dict, done: threading.Event) -> None:
    """Peak RssAnon and VmRSS of `pid` in `peaks`, and when (s) the anonymous peak came."""
    start = time.monotonic()
    while not done.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("RssAnon", "VmRSS"):
                    value = int(value.split()[0]) * 1024
                    if key == "RssAnon" and value > peaks.get(key, 0):
                        peaks["RssAnon_at"] = time.monotonic() - start
                    peaks[key] = max(peaks.get(key, 0), value)
        except (OSError, ValueError):
            pass
        time.sleep(0.2)


def scale_row(model: str, quant: str, work: Path, layers: int | None = None,
              memory_limit_gb: float | None = None) -> str:
    """Build the random checkpoint (once, in `work`), export it, and return the Markdown row.
    `memory_limit_gb`: run the export under that memory ceiling (edge_gemma/memory.py); the row then
    says whether it fitted."""
    from contextlib import nullcontext

    from ..errors import EdgeGemmaError
    from ..layout import default_cache_dir
    from ..recipes import load_recipe
    from ..sources import parse_source, prepare_checkpoint
    from ..memory import memory_cgroup_root, memory_ceiling

    if memory_limit_gb:
        memory_cgroup_root()  # fails before the checkpoint is built
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
    limit = memory_limit_gb and int(memory_limit_gb * 2**30)
    with memory_ceiling(limit) if limit else nullcontext() as ceiling:
        proc = subprocess.Popen(cmd, preexec_fn=ceiling and ceiling.enter)
        sampler = threading.Thread(target=sample_memory, args=(proc.pid, peaks, done), daemon=True)
        sampler.start()
        code = proc.wait()
        done.set()
        charged = ceiling and ceiling.peak()
    wall = time.monotonic() - start
    defaults = vars(type(preset)(weights=preset.weights))
    described = ", ".join(f"{k}={v}" for k, v in vars(preset).items() if k == "weights" or v != defaults[k])
    row = f"| {name} (random weights) | {quant}: {described} |"
    fits = f" {memory_limit_gb:g} GB ceiling: {{}} |" if limit else ""
    if limit and code == -9:  # the kernel's OOM killer: what must stay resident did not fit
        return (f"{row} killed after {wall:.0f} s | {peaks.get('RssAnon', 0) / 2**30:.1f} GB when killed | - | - |"
                + fits.format("**does not fit**"))
    if code != 0:
        raise EdgeGemmaError(f"the export of {checkpoint} failed (exit {code}); run the command above to see why")
    ir_gb = sum(p.stat().st_size for p in out.glob("openvino_model.*")) / 1e9
    return (f"{row} {wall:.0f} s (anonymous peak at {peaks.get('RssAnon_at', 0):.0f} s) | "
            f"{peaks.get('RssAnon', 0) / 2**30:.1f} GB | {peaks.get('VmRSS', 0) / 2**30:.1f} GB | {ir_gb:.2f} GB |"
            + fits.format(f"fits (cgroup peak {charged / 2**30:.1f} GB)" if charged else "fits"))
