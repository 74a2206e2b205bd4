"""No module imports a later pipeline stage: every import in edge_gemma/, read with `ast` (the
ones inside functions too), goes to the importer's own floor or one below it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "edge_gemma"
# Bottom to top; edge_gemma/__init__.py has the same list in words.
FLOORS = (
    {"errors", "files", "layout", "export_folder", "devices", "families", "recipes", "chat_formats", "hf_logging", "memory", "texts"},
    {"sources"},
    {"export"},
    {"runtime"},
    {"quality"},
    {"benchmark", "serve"},
    {"commands", "cli", "__main__", "__init__"},
)


def floor(module: str) -> int:
    top = module.split(".")[0]
    found = [i for i, names in enumerate(FLOORS) if top in names]
    assert found, f"edge_gemma.{module} is on no floor: add it to FLOORS here and to edge_gemma/__init__.py"
    return found[0]


def imports(path: Path) -> list[tuple[str, int]]:
    """(module inside edge_gemma, line) for every import of the package in `path`."""
    package = path.relative_to(PACKAGE).with_suffix("").parts[:-1]  # export/driver.py -> ("export",)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                names = [".".join(base + ([node.module] if node.module else []))]
                if not node.module:  # from . import calibration
                    names = [".".join(base + [alias.name]) for alias in node.names]
            elif (node.module or "").startswith("edge_gemma."):
                names = [node.module.removeprefix("edge_gemma.")]
            else:
                continue
            found += [(name, node.lineno) for name in names if name]
        elif isinstance(node, ast.Import):
            found += [(a.name.removeprefix("edge_gemma."), node.lineno) for a in node.names
                      if a.name.startswith("edge_gemma.")]
    return found


def test_no_module_imports_a_later_stage():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for target, line in imports(path):
            if floor(target) > floor(me):
                problems.append(f"edge_gemma/{path.relative_to(PACKAGE)}:{line} imports {target} (a later stage)")
    assert not problems, "\n".join(problems)


def test_the_checker_sees_relative_imports():
    # A check that finds nothing must be shown able to find something.
    driver = dict(imports(PACKAGE / "export" / "driver.py"))
    assert {"export.calibration", "sources", "export_folder"} <= set(driver)
    assert floor("quality.evaluate") > floor("export.driver") > floor("sources.resolve") > floor("texts")
