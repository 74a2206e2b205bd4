"""`edge-gemma bench`: load time, first-token latency, decode speed and memory per engine."""
