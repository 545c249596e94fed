"""Files read as the tools that wrote them meant them (issue 13): an ONNX model onnxruntime
cannot run is one line, an import reloads and simulates, 1-D MatMul operands as numpy reads
them, SCALE-Sim .cfg keys simaccel cannot model refused, topology rows reported in file
order."""

from __future__ import annotations

from pathlib import Path

from simaccel.cli import main

_DATA = Path(__file__).resolve().parent / "data"


def test_a_model_onnxruntime_cannot_run_is_one_line_with_its_reason(capfd) -> None:
    """Conv auto_pad=SAME_UPPER with dilation 2: onnxruntime 1.x refuses it at run time
    ("Dilation not supported for AutoPadType::SAME_UPPER"); compare says so on one line,
    exit 2, and onnxruntime's own colored log line never reaches the terminal."""
    code = main(["compare", str(_DATA / "onnx_cases" / "conv_dil_same_s2.onnx")])
    out, err = capfd.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "\x1b[" not in err
    assert err.startswith("simaccel: ") and "conv_dil_same_s2.onnx" in err
    assert "onnxruntime cannot run this model: Conv node" in err
    assert "Dilation not supported" in err and "ONNXRuntimeError" not in err
