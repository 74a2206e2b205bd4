"""Quality of an export against the model it was made from (`edge-gemma eval`), and the
built-in evaluation and calibration texts."""

from .evaluate import evaluate
from .metrics import summary_line

__all__ = ["evaluate", "summary_line"]
