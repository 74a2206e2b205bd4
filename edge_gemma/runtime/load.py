"""`edge_gemma.load`: an export folder becomes an EdgeModel on a device, with an engine.

It reads the export's manifest, picks the engine (engines/), the device and its compile
properties (device_config.py), the attention backend and the compiled-model cache folder
(compiled_cache.py), and hands the engine and its tokenizer to EdgeModel (model.py). Nothing
here imports torch or transformers: the genai engines run without them.
"""

from __future__ import annotations

from pathlib import Path

from ..devices import kind
from ..errors import RuntimeCheckError
from ..export_folder import ExportInfo, read_export
from ..layout import default_cache_dir
from .compiled_cache import compiled_cache_dir
from .device_config import (
    DeviceChoice,
    attention_backend,
    available_devices,
    choose_device,
    default_dynamic_quant_group,
    device_config,
    ort_device,
)
from .engines import engine_class
from .engines.batched import BatchedGenaiEngine
from .model import EdgeModel


def load(export: str | Path | ExportInfo, device: str | DeviceChoice = "AUTO", engine: str | None = None, *,
         threads: int | None = None, hint: str | None = None, cache_dir: str | Path | None = None,
         compiled_cache: bool = True, kv_cache_precision: str | None = None,
         dynamic_quant_group: int | None = None, max_prompt_len: int | None = None,
         min_response_len: int | None = None, max_context: int | None = None, batched: bool = False,
         attention: str | None = None) -> EdgeModel:
    """Load an export to generate with.

    export: its folder, or the ExportInfo a caller already read (export_folder.read_export).
    device: AUTO (GPU, then NPU, then CPU), CPU, GPU, GPU.<n> or NPU; or a DeviceChoice a caller
    already made (device_config.choose_device), used as it is, reason included.
    engine: genai (default) or optimum for OpenVINO exports; ort (the only one, CPU, threads
    only) for ONNX exports.
    threads, kv_cache_precision, dynamic_quant_group (default: chosen from the export's int4
    group size): CPU only. max_prompt_len, min_response_len: NPU only.
    compiled_cache: keep the compiled model on disk so the next start skips compilation (every
    device; in cache_dir, default the edge-gemma cache, one folder per export version).
    max_context: cap the context below the recipe's (a server's limit); prompt plus answer must
    fit. The KV cache grows with the tokens held, up to it.
    batched: engine genai on a continuous-batching pipeline whose `fork()`s decode side by side
    (engines/batched.py; CPU and GPU), for servers.
    attention: openvino-genai's attention backend, SDPA or PA (default: chosen per use,
    device_config.attention_backend).
    """
    info = export if isinstance(export, ExportInfo) else read_export(export)
    engine_cls = engine_class(engine, info.format)
    if batched:
        if engine_cls.name != "genai":
            raise RuntimeCheckError(f"batched decoding is engine genai's, not {engine_cls.name}'s; drop batched")
        engine_cls = BatchedGenaiEngine
    if engine_cls.format == "onnx":
        requested = device.device if isinstance(device, DeviceChoice) else device
        choice, config = ort_device(requested, threads=threads, hint=hint, kv_cache_precision=kv_cache_precision,
                                    dynamic_quant_group=dynamic_quant_group, max_prompt_len=max_prompt_len,
                                    min_response_len=min_response_len)
    else:
        choice = device if isinstance(device, DeviceChoice) else choose_device(
            device, available_devices(), npu_ready=not info.npu_problems, npu_engine="NPU" in engine_cls.devices)
        if compiled_cache:
            root = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "compiled"
            cache_dir = compiled_cache_dir(root, info.dir, info.manifest)
        else:
            cache_dir = None
        if dynamic_quant_group is None and kind(choice.device) == "CPU":
            dynamic_quant_group = default_dynamic_quant_group(info.compression, info.bitwidths)
        config = device_config(choice.device, threads=threads, hint=hint, cache_dir=cache_dir,
                               kv_cache_precision=kv_cache_precision, dynamic_quant_group=dynamic_quant_group,
                               max_prompt_len=max_prompt_len, min_response_len=min_response_len)
        if engine_cls.name == "genai":  # an openvino-genai pipeline setting, not a compile property
            backend = attention_backend(choice.device, batched, attention)
            if backend is not None and not batched:  # a continuous-batching pipeline is PA already
                config["ATTENTION_BACKEND"] = backend
        elif attention is not None:
            raise RuntimeCheckError(f"the attention backend is openvino-genai's; engine {engine_cls.name} "
                                    "has none to choose")
    runner = engine_cls(info.dir, choice.device, config)
    return EdgeModel(info, runner, runner.tokenizer(), choice.reason, prompt_limit=config.get("MAX_PROMPT_LEN"),
                     context_size=max_context)
