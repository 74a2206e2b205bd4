"""Which OpenVINO device runs an export, and the compile properties for it.

Plain functions over plain data, so device choice and config building are unit-tested on a
machine that has only a CPU. OpenVINO is imported only by `available_devices`. Device names
and the NPU's weight rule come from edge_gemma/devices.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..devices import kind
from ..errors import DeviceError

HINTS = ("LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT")
# openvino.genai's NPU defaults (docs: "NPU with OpenVINO GenAI"): prompts are padded to a
# static MAX_PROMPT_LEN and at least MIN_RESPONSE_LEN tokens fit after them.
NPU_MAX_PROMPT_LEN = 1024
NPU_MIN_RESPONSE_LEN = 128


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # what OpenVINO is given: CPU, GPU, GPU.1, NPU
    reason: str  # one line saying why, printed by the CLI


def available_devices() -> list[str]:
    """The devices OpenVINO sees on this machine, e.g. ['CPU', 'GPU.0', 'GPU.1', 'NPU']."""
    import openvino as ov

    return list(ov.Core().available_devices)


def choose_device(requested: str, available: list[str], npu_ready: bool, npu_engine: bool) -> DeviceChoice:
    """Resolve AUTO (GPU, then NPU, then CPU) or check that a named device is present.

    `npu_ready`: the export's weights suit the NPU; `npu_engine`: the chosen engine can drive
    one (only openvino-genai can).
    """
    present = [d.upper() for d in available]
    if requested.upper() == "AUTO":
        gpus = [d for d in present if kind(d) == "GPU"]
        if gpus:
            return DeviceChoice(gpus[0], f"AUTO chose {gpus[0]}: a GPU is present ({', '.join(present)})")
        skipped = ""
        if "NPU" in present:
            if npu_ready and npu_engine:
                return DeviceChoice("NPU", f"AUTO chose NPU: no GPU, NPU present ({', '.join(present)})")
            why = "the export is not NPU-ready" if not npu_ready else "the engine cannot drive an NPU"
            skipped = f"; skipped the NPU because {why}"
        return DeviceChoice("CPU", f"AUTO chose CPU: no GPU{'' if skipped else ' or NPU'}{skipped}")
    device = requested.upper()
    base = kind(device)
    # OpenVINO lists a single GPU as "GPU" and several as "GPU.0", "GPU.1"; "GPU" means the first.
    if device not in present and not (device == "GPU" and any(kind(d) == "GPU" for d in present)):
        raise DeviceError(f"device {device} is not present here (OpenVINO sees {', '.join(present) or 'nothing'}); "
                          "pick one of those or AUTO")
    if base == "NPU" and not npu_engine:
        raise DeviceError("the NPU runs LLMs through openvino-genai only; use --engine genai")
    if base == "NPU" and not npu_ready:
        raise DeviceError("this export is not NPU-ready; export it with QUANT=int4-npu (symmetric int4, group 128)")
    return DeviceChoice(device, f"{device} as requested")


def default_dynamic_quant_group(compression: dict | None, bitwidths: tuple[str, ...] = ()) -> int | None:
    """The CPU's DYNAMIC_QUANTIZATION_GROUP_SIZE for an export, None for OpenVINO's default (32).

    The CPU plugin quantizes activations on the fly in groups; for int4 weights in groups of a
    multiple of 128, groups of 128 decoded the 270M faster than the default 32, while weight
    groups that are not a multiple of it got slower (docs/benchmarks.md, "What moved decode
    speed"), so only those exports get it. An int8 export gets 0 (off): its per-channel u8
    MatMuls read 15-20 % faster with activations left in the inference precision (bf16 or
    f32) than rounded to int8 (2026.4.1 CPU plugin, AMD EPYC: 64.5 against 54-60 tokens/s on
    the 270M), and unrounded activations are the more exact (docs/benchmarks.md, "Kernels by
    weight format"). int4 kernels are the other way round (a third slower with it off), so
    int4 exports, whose head is int8, keep it.
    `bitwidths` (the manifest's kinds of weight) covers exports NNCF did not compress: a
    `QUANT=gguf` export of a Q8_0 file holds int8_sym groups only, and gets 0 too.
    """
    mode = str((compression or {}).get("mode", ""))
    if mode.startswith("int8") or (bitwidths and all(kind.startswith("int8") for kind in bitwidths)):
        return 0
    if not mode.startswith("int4"):
        return None
    group = compression.get("group_size", -1)
    return 128 if group > 0 and group % 128 == 0 else None


ATTENTION_BACKENDS = ("SDPA", "PA")


def attention_backend(device: str, batched: bool, requested: str | None = None) -> str | None:
    """openvino-genai's ATTENTION_BACKEND for one use; None leaves openvino-genai's default.

    Measured on the 270M int4, CPU (docs/benchmarks.md, "Attention backend"): the stateful
    SDPA pipeline loads from a warm compiled-model cache in 0.4 s where paged attention takes
    1.3 s (its cache does not shorten that), with the same decode speed, first token and peak
    memory; so single-stream CPU use gets SDPA. Continuous batching (servers) needs PA. GPU
    keeps openvino-genai's default (PA): not measured here. The NPU pipeline is stateful
    whatever is asked.
    """
    base = kind(device)
    if requested is not None:
        choice = requested.upper()
        if choice not in ATTENTION_BACKENDS:
            raise DeviceError(f"attention backend {requested!r} is not one of {', '.join(ATTENTION_BACKENDS)}")
        if batched and choice != "PA":
            raise DeviceError("batched decoding runs on paged attention only; drop attention_backend or pass PA")
        if base == "NPU":
            raise DeviceError("the NPU pipeline chooses its own attention; drop attention_backend")
        return choice
    if batched:
        return "PA"
    return "SDPA" if base == "CPU" else None


def device_config(device: str, *, threads: int | None = None, hint: str | None = None,
                  cache_dir: Path | None = None, kv_cache_precision: str | None = None,
                  dynamic_quant_group: int | None = None,
                  max_prompt_len: int | None = None, min_response_len: int | None = None) -> dict:
    """OpenVINO compile properties for one device. Options that do not apply to it are errors."""
    base = kind(device)
    problems = []
    if threads is not None and (base != "CPU" or threads < 1):
        problems.append("threads must be a positive number and only applies to CPU")
    if kv_cache_precision is not None and (base != "CPU" or kv_cache_precision not in ("u8", "f16", "bf16", "f32")):
        problems.append("kv_cache_precision is one of u8, f16, bf16, f32 and only applies to CPU")
    if dynamic_quant_group is not None and (base != "CPU" or dynamic_quant_group < 0):
        problems.append("dynamic_quant_group must be >= 0 (0 = off) and only applies to CPU")
    if (max_prompt_len is not None or min_response_len is not None) and base != "NPU":
        problems.append("max_prompt_len and min_response_len only apply to NPU")
    if hint is not None and hint.upper() not in HINTS:
        problems.append(f"hint {hint!r} is not one of {', '.join(HINTS)}")
    if problems:
        raise DeviceError(f"{device}: " + "; ".join(problems))

    # One request at a time in an app: LATENCY (one stream) unless told otherwise.
    config: dict = {"PERFORMANCE_HINT": (hint or "LATENCY").upper()}
    if base == "CPU":
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = threads
        if kv_cache_precision is not None:
            config["KV_CACHE_PRECISION"] = kv_cache_precision
        if dynamic_quant_group is not None:
            config["DYNAMIC_QUANTIZATION_GROUP_SIZE"] = dynamic_quant_group
    if base == "NPU":
        config["MAX_PROMPT_LEN"] = max_prompt_len or NPU_MAX_PROMPT_LEN
        config["MIN_RESPONSE_LEN"] = min_response_len or NPU_MIN_RESPONSE_LEN
    if cache_dir is not None:
        # GPU and NPU compile an LLM for tens of seconds, the CPU the 270M for about a second;
        # CACHE_DIR keeps the compiled blob, so the next start loads it instead
        # (compiled_cache.py keys the folder to the export's files).
        config["CACHE_DIR"] = str(cache_dir)
    return config


def export_cpu_config(info, threads: int | None) -> dict:
    """The CPU properties an export runs with by default (`info`: export_folder.ExportInfo):
    its threads and the dynamic quantization group its weights get."""
    return device_config("CPU", threads=threads,
                         dynamic_quant_group=default_dynamic_quant_group(info.compression, info.bitwidths))


def ort_device(requested: str, **settings) -> tuple[DeviceChoice, dict]:
    """Device and config for the `ort` engine: ONNX Runtime's CPU provider, thread count only.

    GPU and NPU need other ONNX Runtime builds (OpenVINO, DirectML execution providers) that
    this project does not install; an ONNX export meant for those devices should be an
    OpenVINO export instead.
    """
    device = requested.upper()
    if device not in ("AUTO", "CPU"):
        raise DeviceError(f"the ort engine runs on CPU only, not {requested}; use --device CPU, or an "
                          "OpenVINO export (FORMAT=openvino) for GPU and NPU")
    threads = settings.pop("threads", None)
    unused = sorted(name for name, value in settings.items() if value is not None)
    if unused:
        raise DeviceError(f"the ort engine takes threads only, not the OpenVINO setting(s) {', '.join(unused)}; "
                          "drop them")
    reason = "AUTO chose CPU: the ort engine runs on CPU only" if device == "AUTO" else "CPU as requested"
    return DeviceChoice("CPU", reason), {"threads": threads}
