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


def _targets() -> set[str]:
    makefile = (README.parent / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))


def _code(text: str) -> str:
    """The fenced blocks and `inline code` of a Markdown text: where commands are written."""
    return "\n".join(re.findall(r"```.*?```", text, re.S) + re.findall(r"`[^`\n]+`", text))


def test_every_make_target_the_docs_name_exists():
    docs = [README, *sorted((README.parent / "docs").glob("*.md"))]
    named = {(doc.name, t) for doc in docs
             for t in re.findall(r"(?:^|`|\(|&& )make ([a-z][\w-]*)", _code(doc.read_text(encoding="utf-8")), re.M)}
    assert named, "the README names no make target"
    missing = sorted(f"{doc}: make {target}" for doc, target in named if target not in _targets())
    assert not missing, missing


def test_every_edge_gemma_flag_the_readme_names_exists():
    from edge_gemma.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # subcommand -> its parser
    text = _code(README.read_text(encoding="utf-8"))
    checked = 0
    for line in text.splitlines():
        for command, rest in re.findall(r"edge-gemma ([a-z][\w-]*)((?: [^`|]*)?)", line):
            if command not in commands:
                continue  # "edge-gemma is ..." prose, not a command
            flags = set(re.findall(r"(--[a-z][\w-]*)", rest))
            known = {s for action in commands[command]._actions for s in action.option_strings}
            assert flags <= known, (command, sorted(flags - known), line)
            checked += len(flags)
    assert checked > 10  # the README's command table was read
