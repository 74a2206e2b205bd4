"""One module per `edge-gemma` subcommand, in mlx-lm's shape: each has HELP (its line in
`edge-gemma --help`), `add_arguments(parser)` and `run(args) -> int`, and imports what it
drives (export/, quality/, runtime/, benchmark/, serve/) only inside `run`, so building the
parser stays cheap. cli.py builds the parser from COMMANDS and dispatches.

    list validate export eval card sweep yaml       recipes, exports, quality, LocalAI files
    generate chat devices                           running an export
    bench bench-serve bench-export bench-scale      measuring
    localai-backend ovms                            serving
"""

from importlib import import_module

NAMES = ("list", "validate", "export", "eval", "card", "sweep", "yaml", "generate", "chat", "devices", "bench",
         "bench-serve", "bench-export", "bench-scale", "localai-backend", "ovms")
# subcommand -> its module (commands/<name>.py, "-" spelled "_")
COMMANDS = {name: import_module(f"{__name__}.{name.replace('-', '_')}") for name in NAMES}
