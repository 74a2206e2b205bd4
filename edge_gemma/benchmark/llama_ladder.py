"""llama.cpp's own quantization ladder of a GGUF source: the rows the sweep sets beside ours.

The source's tensors are dequantized and written as an F16 GGUF with its metadata (gguf-py:
sources/gguf_write.py), then llama.cpp's own quantizer (`llama_model_quantize`, through
llama-cpp-python) makes each rung from that F16 file, as `llama-quantize model-f16.gguf
out.gguf Q4_0` would. No importance matrix: llama.cpp's default, and the 4-bit rungs named
here do not require one.

The files are cached by the source's content and the llama.cpp build, so a sweep run again
quantizes nothing. What the 270M's source holds (field notes): its "Q4_K_M" is mostly Q5_0 and
Q8_0, since 640-wide rows cannot take K-quants; llama.cpp's Q4_K_M of the F16 rebuilds
about the same file, and the real 4-bit rungs are Q4_0, IQ4_NL and IQ4_XS.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from ..errors import EdgeGemmaError
from ..files import CACHE_FIX, keep_most_recent, one_process_at_a_time, staged_directory

# The rungs issue 19 names, most bits first; any of llama.cpp's LLAMA_FTYPE_MOSTLY_* names works.
RUNGS = ("Q8_0", "Q6_K", "Q5_0", "Q4_K_M", "Q4_0", "IQ4_NL", "IQ4_XS")
KEEP = 2  # sources whose ladders stay cached (each ladder of the 270M is about 2.5 GB)


class LadderError(EdgeGemmaError):
    """llama.cpp's ladder cannot be made here."""


def ftype(rung: str) -> int:
    """llama.cpp's file-type number for a rung name ("Q4_K_M" -> LLAMA_FTYPE_MOSTLY_Q4_K_M)."""
    import llama_cpp

    value = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{rung.upper()}", None)
    if value is None:
        known = sorted(n.removeprefix("LLAMA_FTYPE_MOSTLY_") for n in dir(llama_cpp)
                       if n.startswith("LLAMA_FTYPE_MOSTLY_"))
        raise LadderError(f"llama.cpp has no quantization type {rung!r}; it has {', '.join(known)}")
    return int(value)


def check_rungs(rungs: list[str]) -> list[str]:
    """The rungs, upper-cased, each one llama.cpp knows (a one-line error naming the valid ones)."""
    rungs = [r.upper() for r in rungs]
    for r in rungs:
        ftype(r)
    return rungs


@contextmanager
def _stderr_to(path: Path):
    """The C library's stderr (file descriptor 2) into `path` meanwhile: llama.cpp's quantizer
    prints a line per tensor there, which a sweep's log does not need unless it fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "wb") as f:
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def quantize(f16: Path, out: Path, rung: str, threads: int) -> None:
    """llama.cpp's quantizer: `f16` -> `out` in `rung`."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype(rung)
    params.nthread = threads
    log = out.with_suffix(".log")
    with _stderr_to(log):
        failed = llama_cpp.llama_model_quantize(str(f16).encode(), str(out).encode(), params) != 0
    if failed:
        last = (log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise LadderError(f"llama.cpp could not quantize {f16.name} to {rung}: {last}")
    log.unlink()


def _key(source: Path) -> str:
    from ..export.calibration import fingerprint
    from .llama_build import describe_build

    return fingerprint(source, describe_build())


def ladder(source: Path, rungs: list[str], cache_dir: Path, threads: int = 2, log=print) -> dict[str, Path]:
    """{rung: GGUF file} of `source` in each rung, made now or found in the cache."""
    from ..sources.gguf_write import requantize

    rungs = check_rungs(rungs)
    root = Path(cache_dir) / "llama-ladder"
    target = root / _key(source)
    with one_process_at_a_time(target):
        missing = [r for r in rungs if not (target / f"{r}.gguf").is_file()]
        if missing:
            with staged_directory(target, fix=CACHE_FIX) as (work, result):
                if target.is_dir():  # the rungs made before: kept, only the missing ones are made
                    for old in target.iterdir():
                        os.link(old, result / old.name)
                f16 = result / "F16.gguf"
                if not f16.is_file():
                    log(f"llama.cpp ladder: writing {source.name} as F16 (gguf-py)")
                    requantize(source, f16, "F16")
                for rung in missing:
                    log(f"llama.cpp ladder: quantizing to {rung} (llama_model_quantize)")
                    quantize(f16, work / f"{rung}.gguf", rung, threads)
                    os.replace(work / f"{rung}.gguf", result / f"{rung}.gguf")
        os.utime(target)  # most recently used
    keep_most_recent(root, KEEP)
    return {r: target / f"{r}.gguf" for r in rungs}
