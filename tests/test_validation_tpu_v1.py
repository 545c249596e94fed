"""simaccel on `tpu_v1` against the TPU paper's Table 3 (Jouppi et al., ISCA 2017), computed
from the simulator; and docs/validation_tpu_v1.md is what scripts/tpu_v1_validation.py
writes now."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@cache
def _script():
    spec = importlib.util.spec_from_file_location(
        "tpu_v1_validation", ROOT / "scripts" / "tpu_v1_validation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _results() -> dict:
    return _script().compare()


# The paper's Table 3 TOPS and the aim of issue 11 (MLPs within 20%, CNN0 within 35%),
# written out here rather than read from the script, so that a change there cannot loosen it.
@pytest.mark.parametrize(("app", "paper", "tolerance"), [
    ("MLP0", 12.3, 0.20),
    ("MLP1", 9.7, 0.20),
    ("CNN0", 86.0, 0.35),
])
def test_tops_agree_with_the_paper(app: str, paper: float, tolerance: float) -> None:
    script = _script()
    assert script.TABLE3[app]["tops"] == paper
    ours = _results()[app]["tpu_v1"]["tops"]
    assert ours == pytest.approx(paper, rel=tolerance)


def test_tops_come_from_the_simulator_report() -> None:
    """The figures are the report's own total TOPS, not a recomputation."""
    import simaccel

    script = _script()
    report = script.simulate("MLP1", simaccel.load_hardware("tpu_v1"))
    assert _results()["MLP1"]["tpu_v1"]["tops"] == report.to_dict()["total"]["tops"]


@pytest.mark.parametrize("app", ["MLP0", "MLP1", "CNN0"])
def test_breakdown_adds_up_and_follows_the_fold_formulas(app: str) -> None:
    results = _results()[app]
    for label, run in results.items():
        parts = run["breakdown"]
        assert sum(parts.values()) == run["cycles"], label
        assert all(v >= 0 for v in parts.values()), (label, parts)
        assert parts["other"] == 0, label  # every cycle has a named cause
    base, serial = results["tpu_v1"]["breakdown"], results["serial preload"]["breakdown"]
    # the preload mode changes the exposed shift and nothing else in the array's time
    assert serial["array_active"] == base["array_active"]
    assert serial["fill_drain"] == base["fill_drain"]
    assert serial["weight_shift"] > base["weight_shift"]


def test_the_documented_causes_hold() -> None:
    """The page's explanations, as measured facts: the MLPs are memory-bound (bandwidth
    moves them, the preload mode barely does); CNN0 is compute-bound, its gap is the
    per-fold skew and the accumulator split."""
    r = _results()
    for app in ("MLP0", "MLP1"):
        base = r[app]["tpu_v1"]["tops"]
        assert r[app]["2× DRAM bandwidth"]["tops"] > 1.4 * base
        assert r[app]["serial preload"]["tops"] > 0.9 * base
    assert r["MLP0"]["tpu_v1"]["tops"] >= 0.97 * r["MLP0"]["tpu_v1"]["roofline_tops"]
    cnn0 = r["CNN0"]
    base = cnn0["tpu_v1"]
    assert cnn0["ideal DRAM"]["tops"] < 1.05 * base["tops"]
    assert cnn0["8 MiB accumulators"]["tops"] > 1.1 * base["tops"]
    assert cnn0["serial preload"]["tops"] < 0.95 * base["tops"]
    assert base["dram_read_bytes"] > 1.9 * base["weights"]  # weights read twice
    assert cnn0["8 MiB accumulators"]["dram_read_bytes"] < 1.05 * base["weights"]
    skew_free = base["cycles"] - base["breakdown"]["fill_drain"]
    assert 2 * base["macs"] / (skew_free / base["clock_hz"]) / 1e12 == pytest.approx(
        86.0, rel=0.05)


def test_page_is_current() -> None:
    text = _script().render(_results())
    assert (ROOT / "docs" / "validation_tpu_v1.md").read_text() == text, (
        "docs/validation_tpu_v1.md is stale: run python scripts/tpu_v1_validation.py")


@pytest.mark.parametrize(("app", "weights", "batch", "ops_per_weight_byte"), [
    ("MLP0", 20e6, 200, 200),
    ("MLP1", 5e6, 168, 168),
    ("CNN0", 8e6, 8, 2888),
])
def test_workloads_follow_table_1(app: str, weights: float, batch: int,
                                  ops_per_weight_byte: int) -> None:
    """Weights within 5% of Table 1, its batch, and its operational intensity (the paper
    counts one op per MAC per weight byte: MACs / weights)."""
    run = _results()[app]["tpu_v1"]
    assert run["weights"] == pytest.approx(weights, rel=0.05)
    import simaccel
    model = simaccel.load_model(ROOT / "workloads" / _script().FILES[app])
    assert model.inputs[0].shape[0] == batch
    assert run["macs"] / run["weights"] == pytest.approx(ops_per_weight_byte, rel=1e-3)
