"""The sweep's picture: KL against the reference (log axis) over decode tokens/s, ours and
llama.cpp's rows as different markers, the Pareto front joined up, the CPU in the title.

matplotlib's Agg backend writes the PNG without a display. matplotlib comes with the export
extra; without it the sweep prints a note and writes its table only.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from ..files import write_bytes_atomic

MARKERS = {"genai": ("o", "tab:blue", "edge_gemma (openvino-genai)"), "llama.cpp": ("s", "tab:orange", "llama.cpp")}


def slug(cpu: str) -> str:
    """A file-name part for a CPU name: "Intel(R) Xeon(R) Platinum" -> "intel-r-xeon-r-platinum"."""
    return re.sub(r"[^a-z0-9]+", "-", cpu.lower()).strip("-") or "cpu"


def plot(rows: list[dict], cpu: str, path: Path) -> Path | None:
    """Write the picture of the rows with a speed to `path`; None (and a note why) when it cannot."""
    try:
        import matplotlib
    except ImportError:
        print("sweep: no plot: matplotlib is not installed (pip install -e '.[export]')", file=sys.stderr)
        return None
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = [r for r in rows if r.get("decode_tokens_per_s")]
    if not rows:
        print("sweep: no plot: no row has a decode speed (--no-speed)", file=sys.stderr)
        return None
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    for engine, (marker, colour, label) in MARKERS.items():
        mine = [r for r in rows if r.get("engine", "genai") == engine]
        ax.scatter([r["decode_tokens_per_s"] for r in mine], [r["kl"] for r in mine], marker=marker, color=colour,
                   label=label, s=40, zorder=3)
        for r in mine:
            ax.annotate(r["name"].removeprefix("llama.cpp "), (r["decode_tokens_per_s"], r["kl"]), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
    front = sorted((r for r in rows if r.get("front")), key=lambda r: r["decode_tokens_per_s"])
    if front:
        ax.plot([r["decode_tokens_per_s"] for r in front], [r["kl"] for r in front], color="grey", lw=1,
                ls="--", label="front (KL, top-1, speed)", zorder=2)
    ax.set_yscale("log")
    ax.set_xlabel("decode tokens/s")
    ax.set_ylabel("KL against the reference (lower is better)")
    ax.set_title(f"Quality against decode speed, {cpu}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    picture = io.BytesIO()
    fig.savefig(picture, format="png")
    plt.close(fig)
    write_bytes_atomic(path, picture.getvalue())
    return path
