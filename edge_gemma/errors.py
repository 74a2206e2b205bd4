"""Domain errors. `edge-gemma` catches EdgeGemmaError once, in `cli.main`, and prints its
message as one line; anything else is a bug and shows a traceback."""


class EdgeGemmaError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class RecipeError(EdgeGemmaError):
    """A recipe file is missing or malformed. Holds every problem found in the file."""

    def __init__(self, path, problems):
        self.path = str(path)
        self.problems = list(problems)
        super().__init__(f"{self.path}: " + "; ".join(self.problems))


class SourceError(EdgeGemmaError):
    """The weights could not be found, downloaded or converted."""


class ExportError(EdgeGemmaError):
    """The export could not be written."""


class OutputError(EdgeGemmaError):
    """An output folder or file cannot be created or written."""


class LocalAIConfigError(EdgeGemmaError):
    """A generated model.yaml would break one of LocalAI's rules."""


class RuntimeCheckError(EdgeGemmaError):
    """An export could not be loaded or run (not an export, wrong engine or device for it)."""


class DeviceError(EdgeGemmaError):
    """The requested OpenVINO device is unknown, absent, or cannot run this export."""


class GenerationError(EdgeGemmaError):
    """A prompt or generation option is invalid (empty, too long, out of range)."""


class QualityError(EdgeGemmaError):
    """An evaluation could not run (no reference, bad text), or an export missed its recipe's
    quality bound (max_kl)."""
