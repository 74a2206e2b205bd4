"""File helpers: outputs that are never half-written, and content hashes.

A failed or interrupted run must leave nothing that looks finished, so everything is built
in a temporary sibling and renamed into place at the end.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError


OUTPUT_FIX = "pick an --output in a writable folder"
CACHE_FIX = "set EDGE_GEMMA_CACHE (or --cache-dir) to a writable folder"


def check_writable_parent(target: Path, fix: str = OUTPUT_FIX) -> None:
    """Create `target`'s parent folder if needed; a one-line error ending in `fix` if that or
    writing there fails.

    The export calls it before any long work, so a bad --output fails in a second, not after.
    """
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"{parent} is a file, not a folder; {fix}")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {parent} ({exc.strerror}); {fix}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {parent} (permission denied); {fix}")


@contextmanager
def staged_directory(target: Path, fix: str = OUTPUT_FIX, keep_existing: bool = False):
    """Yield (work, result): scratch space and the folder that becomes `target` on success.

    Both live in a hidden sibling of `target` (same filesystem, so the final rename is
    atomic). An existing `target` is replaced only after `result` is complete, or kept with
    `keep_existing` (a cache entry, which another process may have written meanwhile: the same
    by its key, and maybe being read). On any exception, KeyboardInterrupt included, the
    sibling is removed and `target` is untouched. A parent that cannot be written is an
    OutputError ending in `fix`.
    """
    check_writable_parent(target, fix)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        result = work / "result"
        result.mkdir()
        yield work, result
        if keep_existing:
            try:
                result.rename(target)
            except OSError:
                if not target.is_dir():
                    raise
        else:
            if target.exists():
                target.rename(work / "replaced")
            result.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def one_process_at_a_time(path: Path):
    """Held while `path` (a cache entry) is made: a second process making one in the same
    cache folder (two exports of one model started together) waits, then finds it made.

    One hidden lock file per cache folder, not one per entry: entries are evicted, and a lock
    file cannot be removed safely while another process may be waiting on it."""
    from filelock import FileLock

    check_writable_parent(path, CACHE_FIX)
    with FileLock(str(path.parent / ".lock")):
        yield


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file, so readers see the old file or the new one."""
    if not isinstance(text, str):
        raise TypeError(f"write_text_atomic writes str, not {type(text).__name__}")
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """write_text_atomic for bytes (a picture)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; model.yaml files are shared config
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def file_sha256(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def keep_most_recent(root: Path, keep: int) -> None:
    """Remove all but the `keep` most recently used entries (folders, by mtime) of a cache."""
    entries = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True)
