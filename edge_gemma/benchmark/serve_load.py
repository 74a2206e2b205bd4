"""`edge-gemma bench-serve`: a bounded load test of the LocalAI backend on localhost.

For each engine, the backend runs as its own process (`edge-gemma localai-backend`, as LocalAI
starts it) and is loaded over gRPC as LocalAI loads it; N clients then send streaming requests
back to back for a fixed time, each a different prompt (so no prefix cache fakes the first
token) decoding a fixed number of tokens (IgnoreEOS). Requests still running at the deadline
finish and count. Reported: requests/s and generated tokens/s over the whole run, first-token
latency p50/p95 as a client sees it, errors, and the backend process's peak RSS (VmHWM).

The `optimum` engine is optimum-intel's OVModelForCausalLM, the model class LocalAI's
transformers backend loads for `type: OVModelForCausalLM`, decoded by our loop; that backend
itself cannot run here (it imports openvino.runtime, gone in openvino 2026).
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..texts import prompts


def _free_addr() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def _peak_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _client(stub, pb, index: int, deadline: float, new_tokens: int, out: dict, lock: threading.Lock) -> None:
    k = 0
    while time.monotonic() < deadline:
        prompt = f"Request {index}.{k}. {prompts.ACCURACY_PROMPTS[(index + k) % len(prompts.ACCURACY_PROMPTS)]}"
        k += 1
        start, first, tokens = time.monotonic(), None, 0
        try:
            for reply in stub.PredictStream(pb.PredictOptions(Prompt=prompt, Tokens=new_tokens, IgnoreEOS=True)):
                if first is None and reply.message:
                    first = time.monotonic() - start
                tokens = reply.tokens
        except Exception as err:  # counted, not raised: the run goes on
            with lock:
                out["errors"].append(f"{type(err).__name__}: {err}")
            time.sleep(0.05)  # a dead backend fails at once: don't spin
            continue
        with lock:
            out["ttft"].append(first or 0.0)
            out["tokens"] += tokens
            out["requests"] += 1


def measure_engine(export_dir: Path, engine: str, clients: int, seconds: int, new_tokens: int, threads: int,
                   log) -> dict:
    import grpc

    from ..serve import backend_pb2 as pb
    from ..serve import backend_pb2_grpc as pb_grpc

    addr = _free_addr()
    server = subprocess.Popen([sys.executable, "-m", "edge_gemma", "localai-backend", "--addr", addr,
                               "--workers", str(clients + 4)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        channel = grpc.insecure_channel(addr)
        grpc.channel_ready_future(channel).result(timeout=120)
        stub = pb_grpc.BackendStub(channel)
        start = time.monotonic()
        loaded = stub.LoadModel(pb.ModelOptions(Model=export_dir.name, ModelFile=str(export_dir.resolve()),
                                                ModelPath=str(export_dir.resolve().parent), MainGPU="CPU",
                                                Threads=threads, Options=[f"engine:{engine}"]))
        if not loaded.success:
            raise RuntimeError(f"{engine}: LoadModel failed: {loaded.message}")
        load_s = time.monotonic() - start
        log(f"{engine}: loaded in {load_s:.1f}s; warming up, then {clients} clients for {seconds}s")
        stub.Predict(pb.PredictOptions(Prompt="Warm-up.", Tokens=8, IgnoreEOS=True))
        out = {"ttft": [], "tokens": 0, "requests": 0, "errors": []}
        lock = threading.Lock()
        start = time.monotonic()
        workers = [threading.Thread(target=_client, args=(stub, pb, i, start + seconds, new_tokens, out, lock))
                   for i in range(clients)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = time.monotonic() - start
        peak = _peak_rss_mb(server.pid)
        channel.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    ttft_ms = [t * 1000 for t in out["ttft"]]
    return {"engine": engine, "clients": clients, "seconds": round(wall, 1), "load_s": round(load_s, 1),
            "requests": out["requests"], "requests_per_s": round(out["requests"] / wall, 2),
            "tokens_per_s": round(out["tokens"] / wall, 1),
            "ttft_p50_ms": round(statistics.median(ttft_ms), 1) if ttft_ms else 0.0,
            "ttft_p95_ms": round(_percentile(ttft_ms, 0.95), 1), "errors": len(out["errors"]),
            "first_error": out["errors"][0] if out["errors"] else "", "peak_rss_mb": round(peak)}


def run(export_dir: Path, engines: list[str], clients: int, seconds: int, new_tokens: int, threads: int,
        log=lambda msg: None) -> dict:
    rows = [measure_engine(Path(export_dir), e, clients, seconds, new_tokens, threads, log) for e in engines]
    return {"export": str(export_dir), "new_tokens": new_tokens, "threads": threads, "results": rows}


def table(report: dict) -> str:
    lines = [f"{report['export']}: streaming requests of {report['new_tokens']} tokens, {report['threads']} threads",
             "",
             "| engine | clients | requests | requests/s | tokens/s (all clients) | first token p50 | p95 "
             "| errors | backend peak RSS |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        lines.append(f"| {r['engine']} | {r['clients']} | {r['requests']} in {r['seconds']} s | {r['requests_per_s']} "
                     f"| {r['tokens_per_s']} | {r['ttft_p50_ms']:.0f} ms | {r['ttft_p95_ms']:.0f} ms | {r['errors']} "
                     f"| {r['peak_rss_mb']} MB |")
    errors = [f"{r['engine']}: {r['first_error']}" for r in report["results"] if r["first_error"]]
    return "\n".join(lines + [f"first error: {e}" for e in errors])
