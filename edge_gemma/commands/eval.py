"""`edge-gemma eval`: an export's quality against the model it was made from (KL, top-1,
perplexity, greedy agreement); quality/evaluate.py does the measuring."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import add_cache_dir, add_export_dir, at_least, export_dir

HELP = "quality of an export against the model it was made from (KL, top-1, perplexity)"


def add_arguments(p) -> None:
    add_export_dir(p)
    p.add_argument("--text", type=Path, metavar="FILE", help="evaluation text (default: the built-in held-out text)")
    p.add_argument("--checkpoint", type=Path, help="the reference Hugging Face folder (default: the manifest's)")
    p.add_argument("--threads", type=at_least(1), help="CPU threads (default: OpenVINO's choice)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--write", action="store_true", help="record the result in the export's manifest.json and README.md")
    add_cache_dir(p)


def run(args) -> int:
    from ..export.card import quality_section, write_card
    from ..export_folder import read_manifest, save_manifest
    from ..quality import evaluate
    from ..texts import read_text_file

    folder = export_dir(args)
    text = read_text_file(args.text, "evaluation") if args.text else None
    quality = evaluate(folder, text=text, text_name=str(args.text) if text else None, checkpoint=args.checkpoint,
                       threads=args.threads, cache_dir=args.cache_dir)
    manifest = read_manifest(folder)
    manifest["quality"] = quality
    if args.write:
        save_manifest(folder, manifest)
        write_card(folder, manifest)
    print(json.dumps(quality, indent=2) if args.json else quality_section(manifest))
    if args.write:
        print(f"\nrecorded in {folder}/manifest.json and README.md", file=sys.stderr)
    return 0
