"""The conversion cache: a checkpoint's uncompressed model (the 16-bit IR with its tokenizer
IRs, or the fp32 ONNX trace), kept so that the next export of the same checkpoint at another
quant level skips step 2.

Converting is a third of a 270M export (optimum-intel's export and tokenizer conversion, about
50 s on 2 cores; the ONNX trace about 40 s) and the same work for every level. An entry is keyed
by the checkpoint's files (by content, sampled as NNCF's statistics key), the format, this
package's code and the converting tools, so a changed model, exporter or tool converts again.
Entries are copies both ways: an export never shares a file (an inode) with the cache, which a
user editing an export in place would otherwise corrupt. Only the KEEP most recently used
entries stay, and a conversion over MAX_BYTES is not kept (the 16-bit IR of a 9B model is 18 GB).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..files import CACHE_FIX, keep_most_recent, staged_directory
from .calibration import fingerprint
from .manifest import code_fingerprint, tool_versions

KEEP = 8  # a CI run converts the 270M twice (IR, ONNX) and a few tiny models
MAX_BYTES = 4 << 30
META = "conversion.json"


def conversion_key(view: Path, fmt: str) -> str:
    files = sorted(p for p in view.iterdir() if p.is_file())
    return fingerprint(*files, fmt, code_fingerprint(), json.dumps(tool_versions(), sort_keys=True))


def _copy_files(src: Path, dst: Path) -> None:
    for item in src.iterdir():
        if item.name != META:
            shutil.copy2(item, dst / item.name)


def restore(cache_dir: Path, key: str, out: Path) -> tuple[str, dict | None, Path] | None:
    """Copy a cached conversion into `out`: (load dtype, facts, entry), or None on a miss."""
    entry = Path(cache_dir) / "conversions" / key
    try:
        meta = json.loads((entry / META).read_text())
    except (OSError, ValueError):
        shutil.rmtree(entry, ignore_errors=True)  # a damaged entry: store() keeps existing ones
        return None
    _copy_files(entry, out)
    os.utime(entry)  # most recently used
    return meta["load_dtype"], meta["facts"], entry


def store(cache_dir: Path, key: str, out: Path, load_dtype: str, facts: dict | None) -> Path | None:
    """Copy the conversion in `out` into the cache; the entry, or None when it is too big."""
    if sum(p.stat().st_size for p in out.iterdir()) > MAX_BYTES:
        return None
    root = Path(cache_dir) / "conversions"
    with staged_directory(root / key, fix=CACHE_FIX, keep_existing=True) as (_, entry):
        _copy_files(out, entry)
        (entry / META).write_text(json.dumps({"load_dtype": load_dtype, "facts": facts}))
    keep_most_recent(root, KEEP)
    return root / key
