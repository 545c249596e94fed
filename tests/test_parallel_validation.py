"""scripts/parallel_validation.py's pieces that docs/validation_parallel.md quotes: the
published A100 measurements it holds, and how it splits the arrays' busy time."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location(
        "parallel_validation", ROOT / "scripts" / "parallel_validation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_llmcompass_a100_measurements_add_up_to_the_quoted_layer_latencies() -> None:
    """LLMCompass's twelve operators a layer: prefill 66.7 ms (matmuls 56.3, all-reduces
    5.8), decode 1.11 ms (matmuls 0.90)."""
    script = _script()
    assert len(script.A100_PREFILL_S) == len(script.A100_DECODE_S) == 12
    assert sum(script.A100_PREFILL_S) == pytest.approx(0.06675, abs=5e-6)
    assert sum(script.A100_PREFILL_S[:6]) == pytest.approx(0.05628, abs=5e-6)
    assert sum(script.A100_PREFILL_S[10:]) == pytest.approx(0.005782, abs=5e-7)
    assert sum(script.A100_DECODE_S) == pytest.approx(0.001111, abs=5e-7)


def test_array_time_splits_a_gemms_busy_cycles_into_useful_unmapped_and_fill_drain() -> None:
    """A GEMM of 1,000 MACs on a 10-PE array at mapping efficiency 0.5 streams 1000 / (10 ×
    0.5) = 200 cycles: 100 useful, 100 with half the PEs idle; computing 260 cycles, 60 are
    fill and drain. A vector kernel (no mapping efficiency) is left out."""
    rows = [{"macs": 1000, "mapping_efficiency": 0.5, "compute_cycles": 260},
            {"macs": 0, "mapping_efficiency": None, "compute_cycles": 999}]
    assert _script()._array_time(rows, 10) == {  # noqa: SLF001
        "useful": 100, "unmapped": 100, "fill_drain": 60, "busy": 260}
