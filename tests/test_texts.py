"""The built-in texts: long enough, several kinds of writing, and never the same text twice."""

from __future__ import annotations

import pytest

from edge_gemma.errors import QualityError
from edge_gemma.texts import DATA, calibration_samples, heldout_text, paragraphs, read_text_file


def test_heldout_text_is_long_and_varied():
    raw = (DATA / "heldout.txt").read_text(encoding="utf-8")
    kinds = [line for line in raw.splitlines() if line.startswith("=== ")]
    assert len(kinds) >= 8
    text = heldout_text()
    # 4,852 tokens with Gemma's tokenizer (measured); words are the offline proxy.
    assert len(text.split()) >= 3600
    assert "===" not in text and not text.startswith("#")


def test_calibration_and_evaluation_share_no_paragraph():
    held = set(paragraphs(heldout_text()))
    calib = calibration_samples()
    assert len(calib) >= 20
    assert not held & set(calib)
    assert not any(p[:80] in heldout_text() for p in calib)


def test_user_text_files(tmp_path):
    with pytest.raises(QualityError, match="cannot read the evaluation file .*missing.txt"):
        read_text_file(tmp_path / "missing.txt", "evaluation")
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(QualityError, match="is empty; give a UTF-8 text file"):
        read_text_file(tmp_path / "empty.txt", "calibration")
    (tmp_path / "ok.txt").write_text("Some prose.")
    assert read_text_file(tmp_path / "ok.txt", "evaluation") == "Some prose."
