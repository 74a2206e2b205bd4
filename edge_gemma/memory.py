"""How much memory this process may still take, and a ceiling to run a child process under.

Both read Linux's memory cgroups, v1 (the `memory` hierarchy) or v2:
- `available_memory()`: the machine's MemAvailable, or less when the process's cgroup has a
  limit (quality/models.py sizes the PyTorch reference by it; export/awq_memory.py decides
  whether AWQ's copies fit);
- `memory_ceiling()`: a new cgroup with a limit, so `bench-scale --memory-limit 13` answers
  "does this export fit a 16 GB laptop?" by running it: the cgroup charges the process's own
  (anonymous) memory and the file pages it reads (the memory-mapped checkpoint), reclaims file
  pages at the ceiling as a small machine's kernel would, and kills the process when what it
  must keep resident does not fit. Needs a writable hierarchy (root, or a delegated subtree).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import EdgeGemmaError


@dataclass(frozen=True)
class _Layout:
    root: Path
    limit: str  # the ceiling's file
    peak: str  # the peak charge's file
    anon: str  # the key of anonymous memory in memory.stat


_V1 = _Layout(Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes", "memory.max_usage_in_bytes", "rss")
_V2 = [_Layout(Path("/sys/fs/cgroup"), "memory.max", "memory.peak", "anon"),
       _Layout(Path("/sys/fs/cgroup/unified"), "memory.max", "memory.peak", "anon")]


def _cgroup_room() -> int | None:
    """Bytes left under this process's memory cgroup limit, if it has one."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            layouts = [_V1]
        elif controllers == "":
            layouts = _V2
        else:
            continue
        for layout in layouts:
            folder = layout.root / path.lstrip("/")
            try:
                limit = (folder / layout.limit).read_text().strip()
                stat = dict(row.split() for row in (folder / "memory.stat").read_text().splitlines())
            except (OSError, ValueError):
                continue
            if limit.isdigit() and int(limit) < 1 << 60:
                return int(limit) - int(stat.get(layout.anon, 0))
    return None


def available_memory() -> int | None:
    """Bytes this process can still take: MemAvailable from /proc/meminfo, or what its
    cgroup's limit leaves if that is less; None where neither can be read (not Linux)."""
    known = [room] if (room := _cgroup_room()) is not None else []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                known.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    return min(known) if known else None


def memory_cgroup_root() -> _Layout:
    """The writable memory cgroup hierarchy; raises if there is none."""
    for layout in [_V1, *_V2]:
        controllers = layout.root / "cgroup.subtree_control"
        if (layout.root / layout.limit).exists() or controllers.exists() and "memory" in controllers.read_text().split():
            if os.access(layout.root, os.W_OK):
                return layout
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
    layout = memory_cgroup_root()
    folder = layout.root / f"edge-gemma-{os.getpid()}"
    folder.mkdir()
    try:
        (folder / layout.limit).write_text(str(limit_bytes))
        yield Ceiling(folder, layout.peak)
    finally:
        folder.rmdir()  # empty once its processes have exited
