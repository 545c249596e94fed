"""docs/validation_sparsity.md is current, and its claims hold: 2:4 on an N:M array is never
more than 2× faster on a GEMM, its int8 weights cost exactly 62.5% of the dense bytes, and
activation gating saves exactly the measured zero share of each layer's MAC energy."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location(
        "sparsity_validation", ROOT / "scripts" / "sparsity_validation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sparsity_validation_page_is_current_and_its_claims_hold() -> None:
    script = _script()
    nm, gating = script.nm_runs(), script.gating_runs()
    gemms = [r for r in nm if r["gemm"]]
    assert len(gemms) == 12
    for row in gemms:
        dense, sparse = row["compute"]
        assert 1.0 < dense / sparse <= script.A100_SPEEDUP
        assert row["bytes"][1] * 8 == row["bytes"][0] * 5  # 62.5%: values + 2-bit indices
    assert max(r["compute"][0] / r["compute"][1] for r in gemms) > 1.99  # tpu_v1 ffn2
    for _, zeros, off, on in gating["layers"]:
        assert 0 < zeros < 1 and on == pytest.approx(off * (1 - zeros))
    assert (ROOT / "docs" / "validation_sparsity.md").read_text(encoding="utf-8") == \
        script.render(nm, gating), "stale: run python scripts/sparsity_validation.py"
