"""The weight-format kernel benchmark, on small shapes (its figures are printed, never asserted)."""

from __future__ import annotations

import numpy as np

from edge_gemma.benchmark import kernels
from edge_gemma.benchmark.kernels import FORMATS, main, weight


def test_every_format_decompresses_to_its_codes_times_the_scale():
    import openvino as ov

    for name, fmt in FORMATS.items():
        w, nbytes = weight(8, 128, *fmt, np.random.default_rng(0))
        values = ov.Core().compile_model(ov.Model([w.output(0)], []), "CPU")({})[0]
        bits = fmt[0]
        step = float(np.float16(0.01))  # the f16 scale
        assert values.shape == (8, 128)
        # whole codes times the scale; signed codes span [-2^(b-1), 2^(b-1)), offset ones are centred on 0
        assert np.allclose(np.round(values / step), values / step, atol=1e-3), name
        assert np.abs(values).max() <= 2 ** (bits - 1) * step + 1e-6, name
        assert nbytes >= 8 * 128 * bits / 8, name


def test_the_table_prints_a_rate_per_format(capsys, monkeypatch):
    monkeypatch.setattr(kernels, "MAX_COPIES", 2)  # the figures are not the point here, only the table
    assert main(["--shapes", "64x128"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 64x128 |")]
    assert len(lines) == len(FORMATS)
    for line in lines:
        assert float(line.split("|")[3]) > 0 and float(line.split("|")[4]) > 0


def test_a_malformed_shape_is_a_one_line_usage_error(capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_:
        main(["--shapes", "2048x"])
    assert exit_.value.code == 2
    assert "is not a list of ROWSxCOLUMNS" in capsys.readouterr().err
