"""Run an export: `load(export_dir, device, engine)` -> EdgeModel (generate, stream, chat)."""

from .model import EdgeModel, load
from .options import GenerationOptions

__all__ = ["EdgeModel", "GenerationOptions", "load"]
