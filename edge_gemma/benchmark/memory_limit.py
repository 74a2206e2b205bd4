"""Run a process as on a machine with less memory: a Linux memory cgroup with a ceiling.

`bench-scale --memory-limit 13` answers "does this export fit a 16 GB laptop?" by running it:
the cgroup charges both the process's own (anonymous) memory and the file pages it reads
(the memory-mapped checkpoint), reclaims file pages at the ceiling as a small machine's kernel
would, and kills the process when what it must keep resident does not fit. Needs a writable
memory cgroup: cgroup v1's `memory` hierarchy or v2 with the memory controller (root, or a
delegated subtree).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import EdgeGemmaError

# (hierarchy root, ceiling file, peak file) for cgroup v1 and v2.
_LAYOUTS = [(Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes", "memory.max_usage_in_bytes"),
            (Path("/sys/fs/cgroup"), "memory.max", "memory.peak"),
            (Path("/sys/fs/cgroup/unified"), "memory.max", "memory.peak")]


def memory_cgroup_root() -> tuple[Path, str, str]:
    """The writable memory cgroup hierarchy: (root, ceiling file, peak file); raises if none."""
    for root, ceiling, peak in _LAYOUTS:
        controllers = root / "cgroup.subtree_control"
        if (root / ceiling).exists() or controllers.exists() and "memory" in controllers.read_text().split():
            if os.access(root, os.W_OK):
                return root, ceiling, peak
    raise EdgeGemmaError("--memory-limit needs a writable memory cgroup (Linux, as root or in a delegated "
                         "cgroup); run without it, or as root")


class Ceiling:
    """A memory cgroup with a ceiling; `enter` (a preexec_fn) moves the calling process into it."""

    def __init__(self, folder: Path, peak_file: str):
        self.folder, self.peak_file = folder, peak_file

    def enter(self) -> None:
        (self.folder / "cgroup.procs").write_text(str(os.getpid()))

    def peak(self) -> int | None:
        """The cgroup's peak charge in bytes (anonymous memory and page cache), if the kernel keeps it."""
        path = self.folder / self.peak_file
        return int(path.read_text()) if path.exists() else None


@contextmanager
def memory_ceiling(limit_bytes: int) -> Iterator[Ceiling]:
    """A new memory cgroup under the ceiling, removed on the way out."""
    root, ceiling, peak = memory_cgroup_root()
    folder = root / f"edge-gemma-{os.getpid()}"
    folder.mkdir()
    try:
        (folder / ceiling).write_text(str(limit_bytes))
        yield Ceiling(folder, peak)
    finally:
        folder.rmdir()  # empty once its processes have exited
