"""The README's Python example runs as written (on the session's real int4 export)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_readme_python_example_runs(real_exports, capsys):
    block = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    assert 'edge_gemma.load("exports/gemma-3-270m-int4"' in block
    code = block.replace('"exports/gemma-3-270m-int4"', repr(str(real_exports["int4"])))
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "AUTO chose" in out and "reused" in out
    reused = re.search(r"reused (\d+) of (\d+) prompt tokens", out)
    assert 0 < int(reused.group(1)) < int(reused.group(2))
