"""``parallel`` and ``batch`` as swept fields of a sweep spec (`simaccel.sweep_parallel`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import simaccel
from simaccel import sweeps
from simaccel.cli import main
from simaccel.hardware import vary
from simaccel.partition import batch_cycles, choose
from simaccel.sweep_parallel import COLUMNS

ROOT = Path(__file__).resolve().parent.parent
MNIST = str(ROOT / "workloads" / "mnist_cnn.json")


def test_parallel_swept_gives_a_row_a_point_with_the_partition_columns() -> None:
    spec = {"base": "tpu_v4_like_x8", "workloads": [MNIST],
            "grid": {"parallel": ["data", "tensor", "pipeline", "auto"],
                     "system.chips": [2, 4], "batch": [1, 8]}}
    frame = sweeps.sweep(spec)
    assert len(frame) == 16 and (frame["error"] == "").all()
    assert list(frame.columns[-len(COLUMNS) - 6:-6]) == list(COLUMNS)
    assert len(set(frame["key"])) == 16
    for _, group in frame.groupby(["system.chips", "batch"]):
        times = dict(zip(group["parallel"], group["parallel_batch_s"], strict=True))
        assert times["auto"] == min(times.values())
        auto = group[group["parallel"] == "auto"].iloc[0]
        assert times[auto["parallel_chosen"]] == times["auto"] \
            or auto["parallel_chosen"] == "per_layer"
    # a row is the partition of the point's one-chip run, as `simaccel partition` finds it
    row = frame[(frame["parallel"] == "tensor") & (frame["system.chips"] == 4)
                & (frame["batch"] == 8)].iloc[0]
    hw = vary(simaccel.load_hardware("tpu_v4_like_x8"), {"system.chips": 4})
    part, _ = choose(simaccel.simulate(simaccel.load_model(MNIST), hw, check=False),
                     "tensor", 8)
    assert row["parallel_batch_s"] == pytest.approx(batch_cycles(part, 8) / 1050e6)
    assert row["parallel_comm_share"] == pytest.approx(part.comm_cycles / part.batch_cycles)
    assert row["parallel_chosen"] == "tensor" and row["parallel_chips"] == 4
    data = frame[(frame["parallel"] == "data") & (frame["batch"] == 1)]
    assert (data["parallel_comm_share"] == 0).all()
    piped = frame[(frame["parallel"] == "pipeline") & (frame["system.chips"] == 4)
                  & (frame["batch"] == 8)].iloc[0]  # stages send activations
    part, _ = choose(simaccel.simulate(simaccel.load_model(MNIST), hw, check=False),
                     "pipeline", 8)
    # the sends on the batch's critical path: the first inference's, then the bottleneck's
    bottleneck = max(part.stages, key=lambda s: s.cycles + s.send_cycles)
    sends = sum(s.send_cycles for s in part.stages) + 7 * bottleneck.send_cycles
    assert len(part.stages) > 1 and sends > 0
    assert piped["parallel_comm_share"] == pytest.approx(sends / batch_cycles(part, 8))


def test_a_spec_without_run_fields_keeps_its_columns() -> None:
    spec = sweeps.parse_spec({"workloads": [MNIST], "grid": {"array.rows": [8, 16]}})
    assert sweeps.columns(spec) == ["key", "workload", "array.rows", *sweeps.METRICS,
                                    *sweeps.EXTRA]


@pytest.mark.parametrize(("grid", "field", "words"), [
    ('parallel = ["data", "model"]', "grid.'parallel'[1]", "'model' is not one of data"),
    ("batch = [1, 0]", "grid.'batch'[1]", "0 is not a whole number of inferences"),
    ('batch = ["8"]', "grid.'batch'[0]", "'8' is not a whole number"),
    ('"parallel+array.rows" = [8]', "grid.'parallel+array.rows'",
     "'parallel' is a run field, not a hardware field: sweep it on its own"),
    ('"array.rows+batch" = [8]', "grid.'array.rows+batch'", "'batch' is a run field"),
])
def test_a_bad_run_value_is_one_line_naming_the_spec_and_field(tmp_path: Path, capsys,
                                                               grid: str, field: str,
                                                               words: str) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(f'workloads = ["{MNIST}"]\n[grid]\n{grid}\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(spec) in err[0] and field in err[0] and words in err[0]
    assert not (tmp_path / "r.csv").exists()


def test_the_shipped_parallel_sweep_is_a_valid_spec() -> None:
    spec = sweeps.load_spec(ROOT / "workloads" / "sweeps" / "parallel.toml")
    assert sweeps.count_points(spec) == 24
    assert set(spec.grid["parallel"]) == {"data", "tensor", "pipeline", "auto"}
    assert pd.Series(spec.workloads).map(lambda p: Path(p).is_file()).all()
