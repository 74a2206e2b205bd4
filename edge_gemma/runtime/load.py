"""`edge_gemma.load`: an export folder becomes an EdgeModel on a device, with an engine.

It reads the export's manifest, picks the engine (engines/) and the device and its compile
properties (device_config.py), loads the tokenizer, and hands them to EdgeModel (model.py).
"""

from __future__ import annotations

from pathlib import Path

from ..devices import kind
from ..errors import RuntimeCheckError
from ..layout import default_cache_dir, export_name
from .device_config import available_devices, choose_device, default_dynamic_quant_group, device_config, ort_device
from .engines import engine_class
from .engines.batched import BatchedGenaiEngine
from .export_info import read_export
from .model import EdgeModel


def load(export_dir: str | Path, device: str = "AUTO", engine: str | None = None, *,
         threads: int | None = None, hint: str | None = None, cache_dir: str | Path | None = None,
         kv_cache_precision: str | None = None, dynamic_quant_group: int | None = None,
         max_prompt_len: int | None = None, min_response_len: int | None = None,
         context_size: int | None = None, batched: bool = False) -> EdgeModel:
    """Load an export to generate with.

    device: AUTO (GPU, then NPU, then CPU), CPU, GPU, GPU.<n> or NPU. engine: genai (default)
    or optimum for OpenVINO exports; ort (the only one, CPU, threads only) for ONNX exports.
    threads, kv_cache_precision, dynamic_quant_group (default: chosen from the export's int4
    group size): CPU only. max_prompt_len, min_response_len: NPU only.
    GPU and NPU keep compiled blobs in cache_dir (default: the edge-gemma cache).
    context_size: a smaller context than the recipe's (a server's limit); prompt plus answer must fit.
    batched: engine genai on a continuous-batching pipeline whose `fork()`s decode side by side
    (engines/batched.py; CPU and GPU), for servers.
    """
    from transformers import AutoTokenizer

    info = read_export(export_dir)
    engine_cls = engine_class(engine, info.format)
    if batched:
        if engine_cls.name != "genai":
            raise RuntimeCheckError(f"batched decoding is engine genai's, not {engine_cls.name}'s; drop batched")
        engine_cls = BatchedGenaiEngine
    if engine_cls.format == "onnx":
        choice, config = ort_device(device, threads=threads, hint=hint, kv_cache_precision=kv_cache_precision,
                                    dynamic_quant_group=dynamic_quant_group, max_prompt_len=max_prompt_len,
                                    min_response_len=min_response_len)
    else:
        choice = choose_device(device, available_devices(), npu_ready=not info.npu_problems,
                               npu_engine="NPU" in engine_cls.devices)
        if cache_dir is None and kind(choice.device) in ("GPU", "NPU"):
            cache_dir = default_cache_dir() / "compiled" / export_name(info.model, info.quant, info.format)
        if dynamic_quant_group is None and kind(choice.device) == "CPU":
            dynamic_quant_group = default_dynamic_quant_group(info.compression)
        config = device_config(choice.device, threads=threads, hint=hint, cache_dir=cache_dir,
                               kv_cache_precision=kv_cache_precision, dynamic_quant_group=dynamic_quant_group,
                               max_prompt_len=max_prompt_len, min_response_len=min_response_len)
    tokenizer = AutoTokenizer.from_pretrained(info.dir)
    return EdgeModel(info, engine_cls(info.dir, choice.device, config), tokenizer, choice.reason,
                     prompt_limit=config.get("MAX_PROMPT_LEN"), context_size=context_size)
