"""One module per subcommand: each has its help line, its arguments and its handler, and the CLI
only dispatches; flags given on the command line beat the checkpoint's sampling defaults."""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

from edge_gemma.cli import build_parser
from edge_gemma.commands import COMMANDS

CLI = Path(__file__).parent.parent / "edge_gemma" / "cli.py"


def test_every_subcommand_is_a_module_of_its_own():
    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)
    assert names == set(COMMANDS)
    for name, module in COMMANDS.items():
        assert module.__name__ == f"edge_gemma.commands.{name.replace('-', '_')}"
        assert module.HELP and callable(module.add_arguments) and callable(module.run), name
    assert len(CLI.read_text().splitlines()) <= 90  # a dispatcher, not the handlers


def test_generation_options_take_flags_then_the_checkpoint_then_greedy(tmp_path):
    from edge_gemma.commands.common import generation_options

    model = Namespace(info=Namespace(dir=tmp_path))
    flags = dict(max_new_tokens=8, seed=None, stop=[], keep_repeats=False, temperature=None, top_p=None, top_k=None)
    options, note = generation_options(Namespace(**flags), model)
    assert note is None and "temperature" not in options and options["stop_repeats"] is True
    (tmp_path / "generation_config.json").write_text(json.dumps({"do_sample": True, "top_k": 64, "top_p": 0.95}))
    options, note = generation_options(Namespace(**flags), model)
    assert options["temperature"] == 1.0 and options["top_k"] == 64 and "generation_config.json" in note
    options, note = generation_options(Namespace(**{**flags, "top_k": 5}), model)
    assert options["top_k"] == 5 and options["top_p"] == 0.95  # a flag beats the checkpoint's value
    options, note = generation_options(Namespace(**{**flags, "temperature": 0.0, "keep_repeats": True}), model)
    assert options["temperature"] == 0.0 and "top_k" not in options and note is None
    assert options["stop_repeats"] is False


def test_chat_on_a_base_model_names_an_instruction_tuned_recipe():
    from edge_gemma.commands.chat import base_model_note
    from edge_gemma.recipes import RECIPES_DIR, load_recipe

    base = base_model_note({"recipe": load_recipe("gemma-3-270m").as_dict()}, RECIPES_DIR)
    assert "gemma-3-270m is a base model" in base and "make export MODEL=gemma-3-270m-it" in base
    assert base_model_note({"recipe": load_recipe("gemma-3-270m-it").as_dict()}, RECIPES_DIR) is None
    assert base_model_note({"recipe": {"name": "old-export"}}, RECIPES_DIR) is None  # made before the key existed
