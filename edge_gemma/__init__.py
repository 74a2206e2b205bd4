"""edge_gemma: take Gemma checkpoints to Intel edge devices (OpenVINO IR + NNCF, LocalAI)."""

__version__ = "0.1.0"
