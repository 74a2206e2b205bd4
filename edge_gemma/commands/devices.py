"""`edge-gemma devices`: the OpenVINO devices present."""

from __future__ import annotations

HELP = "the OpenVINO devices present"


def add_arguments(p) -> None:
    pass


def run(args) -> int:
    from ..runtime.device_config import available_devices

    for device in available_devices():
        print(device)
    return 0
