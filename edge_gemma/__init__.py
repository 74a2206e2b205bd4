"""edge_gemma: take Gemma checkpoints to Intel edge devices (OpenVINO IR + NNCF, LocalAI).

    import edge_gemma
    model = edge_gemma.load("exports/gemma-3-270m-int4")
    print(model.generate("The capital of France is", max_new_tokens=16))

The pipeline, one sub-package a stage: sources/ (where a checkpoint comes from) -> export/
(conversion, compression, manifest) -> runtime/ (engines that run an export) -> benchmark/
(measuring them). Cross-cutting pieces sit at the top: cli.py, recipes.py, devices.py,
localai.py, layout.py, files.py, errors.py.
"""

from importlib import metadata

from .runtime import EdgeModel, GenerationOptions, load

try:
    __version__ = metadata.version("edge-gemma")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
__all__ = ["EdgeModel", "GenerationOptions", "load"]
