"""OpenVINO device names and what the NPU needs: one grammar and one rule for every caller;
and the CPU's name, which every measurement records beside its figures.

The recipe check (int4-npu presets), the runtime's device choice, the CLI flags and the
LocalAI `main_gpu` check all read them from here. Plain data, no OpenVINO import.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

from .errors import DeviceError

KINDS = ("CPU", "GPU", "NPU")
# One physical device: OpenVINO lists a single GPU as "GPU" and several as "GPU.0", "GPU.1".
_PHYSICAL = r"CPU|(?:GPU|NPU)(?:\.\d+)?"
PHYSICAL = re.compile(_PHYSICAL)
# Every device string OpenVINO takes that we pass on: a physical device, AUTO, or OpenVINO's
# virtual devices over a list of physical ones (AUTO:GPU,CPU; HETERO:GPU,CPU; MULTI:...).
DEVICE = re.compile(rf"AUTO|{_PHYSICAL}|(?:AUTO|HETERO|MULTI):(?:{_PHYSICAL})(?:,(?:{_PHYSICAL}))*")
DEVICE_CHOICES = "AUTO, CPU, GPU, GPU.<n> or NPU"


def normalize_device(text: str) -> str:
    """`text` in OpenVINO's upper-case spelling; DeviceError if it is not a device string."""
    device = text.strip().upper()
    if not DEVICE.fullmatch(device):
        raise DeviceError(f"{text!r} is not an OpenVINO device ({DEVICE_CHOICES})")
    return device


def kind(device: str) -> str:
    """'GPU.1' -> 'GPU'. DeviceError for anything but one physical device (CPU, GPU[.n], NPU)."""
    name = device.upper()
    if not PHYSICAL.fullmatch(name):
        raise DeviceError(f"unknown device {device!r}; use {DEVICE_CHOICES}")
    return name.partition(".")[0]


# NPU runs int4 LLMs only when symmetric, ratio 1.0, channel-wise (-1) or group 128
# (OpenVINO GenAI NPU guide, openvino-genai 2026.4).
NPU_MODE = "int4_sym"
NPU_RATIO = 1.0
NPU_GROUP_SIZES = (-1, 128)
NPU_RULE = "int4 weights with sym: true, ratio: 1.0 and group_size -1 or 128"


def npu_weight_problems(mode: str | None, ratio: float | None, group_size: int | None) -> list[str]:
    """Why weights compressed with this NNCF mode, ratio and group size cannot run on the NPU."""
    problems = []
    if mode != NPU_MODE:
        problems.append(f"mode is {mode}, not {NPU_MODE}")
    if ratio != NPU_RATIO:
        problems.append(f"ratio is {ratio}, not {NPU_RATIO}")
    if group_size not in NPU_GROUP_SIZES:
        problems.append(f"group size is {group_size}, not {' or '.join(map(str, NPU_GROUP_SIZES))}")
    return problems


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
