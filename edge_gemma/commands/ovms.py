"""`edge-gemma ovms EXPORT_DIR OUT_DIR`: an OpenVINO Model Server repository and a KServe
manifest for an export (serve/ovms.py)."""

from __future__ import annotations

from pathlib import Path

HELP = "an OpenVINO Model Server repository and KServe manifest for an export"


def add_arguments(p) -> None:
    p.add_argument("export_dir", type=Path, help="an OpenVINO export folder")
    p.add_argument("out_dir", type=Path, help="where the repository goes (config.json, <name>/graph.pbtxt, ...)")
    p.add_argument("--name", help="the model's name in OVMS and KServe (default: the export folder's name)")
    p.add_argument("--device", default="CPU", choices=["CPU", "GPU", "NPU"], help="OVMS target device (default CPU)")
    p.add_argument("--storage-uri", default="pvc://models",
                   help="where KServe finds OUT_DIR's contents (default pvc://models)")
    p.add_argument("--force", action="store_true", help="replace an existing OUT_DIR")


def run(args) -> int:
    from ..serve.ovms import write_ovms_repository

    for path in write_ovms_repository(args.export_dir, args.out_dir, device=args.device, name=args.name,
                                      storage_uri=args.storage_uri, force=args.force):
        print(path)
    return 0
