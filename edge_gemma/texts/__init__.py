"""Every text the project measures, calibrates or tests with, below every stage that reads them.

Here: the held-out prose for evaluation (quality/) and a different set for calibration
(export/calibration.py). Both are original writing committed with the package (data/), so
they are on every machine that has the project and no model was trained on them; neither is
ever used for the other's job. prompts.py: the benchmark, accuracy and test prompts.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import QualityError

DATA = Path(__file__).resolve().parent / "data"


def _body(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)  # the header that says what the file is
    return "\n".join(lines).strip() + "\n"


def heldout_text() -> str:
    """The evaluation text, its "=== kind ===" section lines dropped."""
    return "\n\n".join(paragraphs(_body(DATA / "heldout.txt")))


def calibration_samples() -> list[str]:
    """The calibration text's paragraphs, section headers dropped."""
    return paragraphs(_body(DATA / "calibration.txt"))


def paragraphs(text: str) -> list[str]:
    parts = (p.strip() for p in text.split("\n\n"))
    return [p for p in parts if p and not p.startswith("===")]


def read_text_file(path: Path, what: str) -> str:
    """A user's --text or --calibration file, or a one-line error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QualityError(f"cannot read the {what} file {path}: {getattr(exc, 'strerror', None) or exc}; "
                           "give a UTF-8 text file") from None
    if not text.strip():
        raise QualityError(f"the {what} file {path} is empty; give a UTF-8 text file with prose in it")
    return text
