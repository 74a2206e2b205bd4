"""edge_gemma: take Gemma checkpoints to Intel edge devices (OpenVINO IR + NNCF, LocalAI).

    import edge_gemma
    model = edge_gemma.load("exports/gemma-3-270m-int4")
    print(model.generate("The capital of France is", max_new_tokens=16))
"""

from .runtime import EdgeModel, GenerationOptions, load

__version__ = "0.1.0"
__all__ = ["EdgeModel", "GenerationOptions", "load"]
