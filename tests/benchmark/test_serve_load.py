"""`edge-gemma bench-serve` runs end to end (a tiny run: figures go in docs/serving.md, not here)."""

from __future__ import annotations

from edge_gemma.benchmark.serve_load import _percentile, run, table


def test_percentile():
    assert _percentile([], 0.95) == 0.0
    assert _percentile([5.0], 0.95) == 5.0
    assert _percentile([float(v) for v in range(1, 101)], 0.5) in (50.0, 51.0)
    assert _percentile([float(v) for v in range(1, 101)], 0.95) == 95.0


def test_a_short_run_counts_requests_tokens_and_memory(real_exports):
    report = run(real_exports["int4"], ["genai"], clients=2, seconds=2, new_tokens=8, threads=2)
    (row,) = report["results"]
    assert row["errors"] == 0 and row["requests"] >= 2 and row["tokens_per_s"] > 0
    assert 0 < row["ttft_p50_ms"] <= row["ttft_p95_ms"] and row["peak_rss_mb"] > 100
    assert "| genai | 2 |" in table(report)
