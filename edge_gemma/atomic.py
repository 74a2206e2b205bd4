"""Write outputs so that a failed or interrupted run leaves nothing that looks finished:
build in a temporary sibling, rename into place at the end."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_directory(target: Path):
    """Yield (work, result): scratch space and the folder that becomes `target` on success.

    Both live in a hidden sibling of `target` (same filesystem, so the final rename is
    atomic). An existing `target` is replaced only after `result` is complete. On any
    exception, KeyboardInterrupt included, the sibling is removed and `target` is untouched.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        result = work / "result"
        result.mkdir()
        yield work, result
        if target.exists():
            target.rename(work / "replaced")
        result.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; model.yaml files are shared config
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
