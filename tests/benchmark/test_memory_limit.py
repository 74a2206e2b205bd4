"""A memory ceiling for a child process (edge_gemma/memory.py), with real processes: what
must stay resident past the ceiling is killed, what fits runs, and the cgroup goes away after."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edge_gemma.memory import memory_ceiling, memory_cgroup_root
from edge_gemma.errors import EdgeGemmaError

try:
    memory_cgroup_root()
    WRITABLE = True
except EdgeGemmaError:
    WRITABLE = False
needs_cgroup = pytest.mark.skipif(not WRITABLE, reason="no writable memory cgroup here (needs Linux and root)")


def _allocate(mb: int, limit_mb: int) -> tuple[int, int | None]:
    """Exit code and cgroup peak of a child that touches `mb` MB under a `limit_mb` ceiling."""
    code = f"a = bytearray({mb} << 20); a[::4096] = b'x' * len(a[::4096])"
    with memory_ceiling(limit_mb << 20) as ceiling:
        folder = ceiling.folder
        proc = subprocess.run([sys.executable, "-c", code], preexec_fn=ceiling.enter)
        peak = ceiling.peak()
    assert not folder.exists()
    return proc.returncode, peak


@needs_cgroup
def test_what_does_not_fit_is_killed_and_what_fits_runs():
    assert _allocate(512, 256)[0] == -9
    code, peak = _allocate(64, 256)
    assert code == 0 and (peak is None or 64 << 20 < peak <= 256 << 20)


def test_a_bad_ceiling_is_refused_before_any_work(capsys):
    from edge_gemma.cli import main

    assert main(["bench-scale", "--model", "gemma-4-e2b-it", "--memory-limit", "0"]) == 1
    assert "--memory-limit" in capsys.readouterr().err
