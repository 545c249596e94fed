"""Design-space sweeps: the same rows on a process pool and on a Dask cluster, resume,
failures kept in their rows, the Pareto front, spec validation, and the area estimate."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simaccel
from simaccel import sweeps
from simaccel.area import PRESETS, area
from simaccel.cli import main
from simaccel.errors import InputError
from simaccel.frontends.hardware_toml import parse_hardware
from simaccel.hardware import vary
from tests import sweep_hooks
from tests.helpers import shipped_hw_dict

ROOT = Path(__file__).resolve().parent.parent
MNIST = str(ROOT / "workloads" / "mnist_cnn.json")
GEMM = str(ROOT / "workloads" / "gemm_square_1024.json")

SMALL = {
    "name": "small",
    "base": "scalesim_default",
    "workloads": [MNIST, GEMM],
    "grid": {"array.rows+array.cols": [8, 32], "dram.bytes_per_cycle": [4, 16],
             "array.dataflow": ["os", "ws"]},
}


@pytest.fixture(scope="module")
def small_in_process() -> pd.DataFrame:
    return simaccel.sweep(SMALL)


def test_one_row_per_point_and_workload(small_in_process: pd.DataFrame) -> None:
    frame = small_in_process
    assert len(frame) == 8 * 2 and frame["key"].is_unique
    assert (frame["error"] == "").all()
    assert set(frame["workload"]) == {"mnist_cnn", "gemm_square_1024"}
    assert list(frame.columns) == sweeps.columns(sweeps.parse_spec(SMALL))
    # the parameters landed in the hardware: a 32×32 array is faster than 8×8 on the GEMM
    gemm = frame[frame["workload"] == "gemm_square_1024"]
    by_size = gemm.groupby("array.rows+array.cols")["compute_cycles"].min()
    assert by_size[32] < by_size[8]
    assert (frame["macs"][frame["workload"] == "gemm_square_1024"] == 1024**3).all()


def test_rows_equal_a_direct_simulation(small_in_process: pd.DataFrame) -> None:
    row = small_in_process.iloc[0]
    hw = vary(simaccel.load_hardware("scalesim_default"), {
        "array.rows+array.cols": int(row["array.rows+array.cols"]),
        "dram.bytes_per_cycle": int(row["dram.bytes_per_cycle"]),
        "array.dataflow": row["array.dataflow"]})
    model = simaccel.load_model(ROOT / "workloads" / f"{row['workload']}.json")
    total = simaccel.simulate(model, hw, check=False).to_dict()["total"]
    assert row["cycles"] == total["cycles"] and row["energy_pj"] == total["energy_pj"]["total"]
    assert row["area_mm2"] == pytest.approx(area(hw).total_mm2)


def test_process_pool_and_dask_cluster_give_identical_rows(small_in_process) -> None:
    distributed = pytest.importorskip("distributed")
    pool = simaccel.sweep(SMALL, workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        dask = simaccel.sweep(SMALL, scheduler=lambda: distributed.Client(cluster))
        by_address = simaccel.sweep(SMALL, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(pool, small_in_process)
    pd.testing.assert_frame_equal(dask, small_in_process)
    pd.testing.assert_frame_equal(by_address, small_in_process)


def test_scheduler_address_that_answers_nothing_is_bad_input(monkeypatch, tmp_path) -> None:
    """An unreachable scheduler or a string that is no address ("bogus" was an internal
    error) is refused before the journal is written."""
    pytest.importorskip("distributed")
    monkeypatch.setattr(sweeps, "CONNECT_TIMEOUT_S", 1)
    spec = {**SMALL, "workloads": [GEMM], "grid": {"array.rows+array.cols": [8]}}
    for address in ("tcp://127.0.0.1:9", "bogus"):
        with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
            sweeps.execute(sweeps.parse_spec(spec), tmp_path / "rows.csv", scheduler=address)
        assert not (tmp_path / "rows.csv").exists()


def test_rerun_resumes_skipping_finished_points(tmp_path: Path,
                                                small_in_process: pd.DataFrame) -> None:
    out = tmp_path / "results.csv"
    spec = sweeps.parse_spec(SMALL)
    first = sweeps.execute(spec, out)
    assert len(first.rows) == 16 and first.skipped == 0
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:6]) + "\n")  # as if stopped after 5 rows

    again = sweeps.execute(spec, out)
    assert again.skipped == 5 and len(again.rows) == 11
    assert {r["key"] for r in again.rows}.isdisjoint(
        set(pd.read_csv(tmp_path / "results.csv")["key"][:5]))
    done = sweeps.execute(spec, out)
    assert done.skipped == 16 and done.rows == []
    pd.testing.assert_frame_equal(sweeps.read_results(out), small_in_process,
                                  check_dtype=False)


def test_a_broken_point_keeps_its_error_and_the_sweep_goes_on(tmp_path: Path) -> None:
    """A point the config refuses only in combination (bf16 inputs against the base's int32
    accumulators; fp32 accumulators against its int8 inputs) is an error row and the sweep
    goes on; a value its field refuses on its own (``array.rows = 0`` or ``true``, a buffer
    under one byte) is bad input, refused before any point runs, naming where it is."""
    spec = {
        "base": "scalesim_default", "workloads": [MNIST], "mode": "list",
        "points": [
            {"array.rows": 16},
            {"array.rows": 8, "dtypes.input": "bf16"},             # refused with int32 acc
            {"array.rows": 12, "dtypes.accumulator": "fp32"},      # refused with int8 in
            {"array.rows": 32},
        ],
    }
    frame = simaccel.sweep(spec, out=tmp_path / "r.csv", workers=2)
    errors = dict(zip(frame["array.rows"], frame["error"], strict=True))
    assert len(frame) == 4
    ok = frame[frame["error"] == ""]
    assert len(ok) == 2 and (ok["cycles"] > 0).all()
    assert "dtypes" in errors[8] and "integer types or both float" in errors[8]
    assert "dtypes" in errors[12] and "accumulate" in errors[12]
    assert frame[frame["error"] != ""]["cycles"].isna().all()
    for field, bad, words in [("array.rows", 0, "greater than 0"),
                              ("array.rows", True, "valid integer"),
                              ("sram.ofmap_kib", 0.0005, "greater than or equal to")]:
        points = [{"array.rows": 16}, {field: bad}]
        with pytest.raises(InputError, match=words) as refused:
            simaccel.sweep({**spec, "points": points}, out=tmp_path / "bad.csv")
        assert (refused.value.source, refused.value.field) == (
            "simaccel.sweep", f"spec.points[1].{field!r}")  # the function and its parameter
        assert not (tmp_path / "bad.csv").exists()


def test_workloads_are_parsed_and_lowered_once(monkeypatch) -> None:
    calls = []
    real = simaccel.load_model

    def counting(path, *args, **kwargs):
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(simaccel, "load_model", counting)
    spec = {**SMALL, "workloads": [MNIST]}
    assert len(simaccel.sweep(spec)) == 8
    assert calls == [MNIST]


# --- Pareto front ----------------------------------------------------------------------------

def test_pareto_front_of_a_hand_made_set() -> None:
    frame = pd.DataFrame({
        "name":    ["a", "b", "c", "d", "e", "f", "g"],
        "latency": [1.0, 2.0, 3.0, 2.0, 4.0, 1.0, None],
        "energy":  [5.0, 3.0, 1.0, 4.0, 1.0, 6.0, 0.1],
    })
    # a, b, c are the front; d is beaten by b, e by c (tie on energy, worse latency), f by a
    # (tie on latency, worse energy); g failed (no latency)
    front = simaccel.pareto_front(frame, ["latency", "energy"])
    assert sorted(front["name"]) == ["a", "b", "c"]
    assert sorted(simaccel.pareto_front(frame, ["energy"])["name"]) == ["g"]
    assert sorted(simaccel.pareto_front(frame.assign(neg=-frame["latency"]),
                                        ["neg", "energy"])["name"]) == ["e"]


def test_duplicates_are_both_on_the_front() -> None:
    frame = pd.DataFrame({"x": [1.0, 1.0, 2.0], "y": [1.0, 1.0, 0.5]})
    assert len(simaccel.pareto_front(frame, ["x", "y"])) == 3


# --- the spec ----------------------------------------------------------------------------------

FIELDS = ["array.rows", "array.cols", "array.rows+array.cols", "array.dataflow", "array",
          "sram.ifmap_kib", "sram.double_buffered", "dram.bandwidth_gbps", "dram.bytes_per_cycle",
          "dtypes.input", "clock_mhz", "energy.preset", "area.pe_mm2", "vector.lanes", "nope",
          "array.rowz", "sram..x", "", "+", "a.b.c.d"]
VALUES = st.one_of(st.integers(-5, 300), st.floats(allow_nan=True), st.text(max_size=6),
                   st.booleans(), st.none(), st.lists(st.integers(), max_size=2))


@settings(max_examples=200, deadline=None)
@given(spec=st.fixed_dictionaries({}, optional={
    "name": st.one_of(st.text(max_size=8), st.integers()),
    "base": st.sampled_from(["scalesim_default", "tpu_v1", 3]),
    "workloads": st.one_of(st.lists(st.text(max_size=5), max_size=2), st.text(max_size=5)),
    "mode": st.sampled_from(["grid", "list", "random", "sobol", None]),
    "grid": st.one_of(st.dictionaries(st.sampled_from(FIELDS), st.lists(VALUES, max_size=3),
                                      max_size=3), st.lists(VALUES, max_size=2)),
    "points": st.lists(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=2), max_size=2),
    "samples": VALUES, "seed": VALUES, "unknown": VALUES,
}))
def test_any_spec_is_a_sweep_or_one_clear_error(spec: dict) -> None:
    """Whatever the decoded TOML holds, the loader returns a spec whose points are all
    config fields, or raises InputError naming the spec; nothing else escapes."""
    try:
        parsed = sweeps.parse_spec(spec, "s.toml")
    except InputError as err:
        assert err.source == "s.toml" and err.message
        return
    for point in sweeps.design_points(parsed):
        for key in point:
            assert all(sweeps._field_problem(part) is None for part in key.split("+"))


def test_random_mode_draws_distinct_points_reproducibly() -> None:
    spec = sweeps.parse_spec({**SMALL, "mode": "random", "samples": 5, "seed": 3})
    points = sweeps.design_points(spec)
    assert len(points) == 5 and len({tuple(sorted(p.items())) for p in points}) == 5
    assert points == sweeps.design_points(spec)
    grid = sweeps.design_points(sweeps.parse_spec(SMALL))
    assert all(p in grid for p in points)


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"grid": {"array.rowz": [8]}}, "grid.'array.rowz'", "not a hardware config field"),
    ({"grid": {"array": [8]}}, "grid.'array'", "is a table"),
    ({"grid": {"array.rows": []}}, "grid.'array.rows'", "no values"),
    ({"grid": {}}, "grid", "needs a [grid] table"),
    ({"mode": "list", "points": [{"sram.ifmap_kb": 1}]}, "points[0].'sram.ifmap_kb'",
     "not a hardware config field"),
    ({"workloads": []}, "workloads", "at least 1"),
    ({"workers": 2}, "workers", "unknown field"),
])
def test_bad_spec_names_the_field(change: dict, field: str, words: str) -> None:
    with pytest.raises(InputError) as err:
        sweeps.parse_spec({**SMALL, **change}, "s.toml")
    assert err.value.field == field and words in err.value.message


def test_cli_sweep_writes_csv_then_parquet_and_resumes(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "s.toml"
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "mnist.json").write_text(Path(MNIST).read_text())
    spec.write_text('base = "scalesim_default"\nworkloads = ["w/mnist.json"]\n'
                    '[grid]\n"array.rows+array.cols" = [8, 16]\n"sram.double_buffered" = '
                    '[true, false]\n')
    out = tmp_path / "out" / "r.parquet"
    out.parent.mkdir()  # sweep refuses a missing parent folder, as every verb does
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    assert "4 points run (0 failed)" in capsys.readouterr().out
    frame = pd.read_parquet(out)
    assert len(frame) == 4 and (frame["cycles"] > 0).all()
    assert main(["sweep", str(spec), "--out", str(out), "--quiet"]) == 0
    assert "0 points run (0 failed), 4 already in" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_parquet(out), frame)


def test_cli_bad_spec_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('workloads = ["x.json"]\n[grid]\n"array.colz" = [8]\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(spec) in err[0] and "array.colz" in err[0]
    assert not (tmp_path / "r.csv").exists()

    spec.write_text("workloads = [\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "r.csv")]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_missing_workload_is_bad_input_before_any_point_runs(tmp_path: Path) -> None:
    spec = sweeps.parse_spec({**SMALL, "workloads": [str(tmp_path / "nope.json")]})
    with pytest.raises(InputError, match="no such file"):
        sweeps.execute(spec, tmp_path / "r.csv")
    assert not (tmp_path / "r.csv").exists()


def test_an_unrelated_csv_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a simaccel sweep CSV"):
        sweeps.execute(sweeps.parse_spec(SMALL), out)
    assert out.read_text() == "a,b\n1,2\n"


# --- vary and the area estimate ---------------------------------------------------------------

def test_vary_sets_tied_fields_and_switches_bandwidth_kind() -> None:
    hw = simaccel.load_hardware("scalesim_default")
    v = vary(hw, {"array.rows+array.cols": 64, "dram.bandwidth_gbps": 25.6,
                  "dtypes.input+dtypes.weight": "int16"})
    assert (v.array.rows, v.array.cols) == (64, 64)
    assert v.dram.bytes_per_cycle is None and v.dram.bandwidth_gbps == 25.6
    assert v.dtypes.weight.value == "int16" and v.name.startswith("scalesim_default[")
    assert vary(hw, {}) == hw


def test_tpu_v1_area_is_its_floor_plan() -> None:
    """256×256 int8 PEs and 24 MiB of buffers are 24% and 29% of 331 mm² by construction;
    the test pins the arithmetic, per PE and per KiB."""
    doc = shipped_hw_dict("tpu_v1")
    doc = {key: value for key, value in doc.items() if key != "memories"}
    hw = parse_hardware({**doc, "array": {**doc["array"], "rows": 256, "cols": 256},
                         "sram": {"ifmap_kib": 8192, "filter_kib": 8192, "ofmap_kib": 8192}},
                        "<t>")
    a = area(hw)
    assert a.array_mm2 == pytest.approx(0.24 * 331)
    assert a.sram_mm2 == pytest.approx(0.29 * 331)
    assert a.vector_mm2 == pytest.approx(hw.vector.lanes * 4 * 0.24 * 331 / 65536)
    assert a.total_mm2 == pytest.approx(a.array_mm2 + a.sram_mm2 + a.vector_mm2)
    assert "ISCA 2017" in a.table.source


def test_area_overrides_and_wider_datatypes() -> None:
    doc = shipped_hw_dict("scalesim_default")
    base = area(parse_hardware(doc, "<t>"))
    fp32 = area(parse_hardware({**doc, "dtypes": {"input": "fp32", "weight": "fp32",
                                                  "accumulator": "fp32"}}, "<t>"))
    assert fp32.array_mm2 == pytest.approx(9 * base.array_mm2)
    custom = area(parse_hardware({**doc, "area": {"pe_mm2": {"int8": 0.001},
                                                  "sram_mm2_per_kib": 0.002,
                                                  "source": "my process"}}, "<t>"))
    pes = doc["array"]["rows"] * doc["array"]["cols"]
    kib = sum(doc["sram"][k] for k in ("ifmap_kib", "filter_kib", "ofmap_kib"))
    assert custom.array_mm2 == pytest.approx(pes * 0.001)
    assert custom.sram_mm2 == pytest.approx(kib * 0.002)
    assert custom.vector_mm2 == pytest.approx(base.vector_mm2)
    assert custom.table.source == "my process"
    assert math.isclose(PRESETS["tpu_v1_28nm"]["sram_mm2_per_kib"], 0.29 * 331 / 24576)


def test_report_carries_the_area(tmp_path: Path) -> None:
    hw = simaccel.load_hardware("gemmini")
    report = simaccel.simulate(simaccel.load_model(GEMM), hw, check=False).to_dict()
    assert report["hardware"]["area_mm2"]["total"] == pytest.approx(area(hw).total_mm2)


# --- faults: killed workers, hung points, torn journals, changed specs -------------------------

def _list_spec(rows: list[int], workloads: list[str] | None = None) -> dict:
    return {"base": "scalesim_default", "workloads": workloads or [MNIST], "mode": "list",
            "points": [{"array.rows": r} for r in rows]}


def test_a_killed_worker_costs_only_its_point_and_is_replaced(tmp_path: Path) -> None:
    """Three points kill their worker (more than the pool's two workers, so the sweep only
    ends if every dead worker is replaced); the other points' rows are as in one process."""
    rows = [13, 8, 14, 16, 15, 32]
    spec = sweeps.parse_spec(_list_spec(rows))
    run = sweeps.execute(spec, tmp_path / "r.csv", workers=2, runner=sweep_hooks.crash_or_hang)
    by_rows = {row["array.rows"]: row for row in run.rows}
    assert sorted(by_rows) == sorted(rows)
    for crashed in sweep_hooks.CRASH_ROWS:
        assert "worker process died (killed by SIGKILL)" in by_rows[crashed]["error"]
        assert "cycles" not in by_rows[crashed]
    alone = {row["array.rows"]: row for row in sweeps.execute(
        sweeps.parse_spec(_list_spec([8, 16, 32]))).rows}
    assert all(by_rows[r] == alone[r] for r in (8, 16, 32))
    frame = sweeps.read_results(tmp_path / "r.csv")
    assert len(frame) == 6 and (frame["error"] != "").sum() == 3


def test_a_point_over_the_timeout_is_stopped_and_recorded(tmp_path: Path) -> None:
    spec = sweeps.parse_spec(_list_spec([8, sweep_hooks.HANG_ROWS, 16]))
    run = sweeps.execute(spec, workers=1, point_timeout_s=1,
                         runner=sweep_hooks.crash_or_hang)
    errors = {row["array.rows"]: row["error"] for row in run.rows}
    assert errors == {8: "", 16: "", 17: "took longer than the point timeout (1 s); stopped"}


@pytest.mark.parametrize("timeout", [0, -1, math.inf, math.nan])
def test_point_timeout_must_be_positive_seconds(timeout: float) -> None:
    with pytest.raises(InputError, match="positive number of seconds"):
        sweeps.execute(sweeps.parse_spec(_list_spec([8])), point_timeout_s=timeout)


def test_a_torn_last_line_runs_again(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    spec = sweeps.parse_spec(_list_spec([8, 16, 32]))
    sweeps.execute(spec, out)
    whole = out.read_bytes()
    out.write_bytes(whole[:-9])  # killed while writing the last row
    again = sweeps.execute(spec, out)
    assert again.skipped == 2 and len(again.rows) == 1
    assert out.read_bytes() == whole


def test_keys_name_the_base_and_the_workloads_path_and_content(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    (tmp_path / "a" / "net.json").write_text(Path(MNIST).read_text())
    gemm = (tmp_path / "b" / "net.json")
    gemm.write_text(Path(GEMM).read_text())
    spec = {**_list_spec([8], [str(tmp_path / "a" / "net.json"), str(gemm)])}
    rows = sweeps.execute(sweeps.parse_spec(spec)).rows
    assert len({r["key"] for r in rows}) == 2
    assert {r["workload"] for r in rows} == {str(tmp_path / "a" / "net.json"), str(gemm)}
    key = rows[0]["key"]
    assert key.startswith("base=scalesim_default@") and "array.rows=8" in key
    on_tpu = sweeps.execute(sweeps.parse_spec({**spec, "base": "tpu_v1"})).rows
    assert {r["key"] for r in on_tpu}.isdisjoint(r["key"] for r in rows)
    # separators inside values are escaped: no two parameter sets share a key
    assert sweeps.point_key({"a": "x;b=1"}, "w") != sweeps.point_key({"a": "x", "b": 1}, "w")
    assert sweeps.point_key({"a": "8"}, "w") != sweeps.point_key({"a": 8}, "w")
    assert sweeps.point_key({"a|b": 1}, "w") != sweeps.point_key({"a": "1|b"}, "w")


def test_a_workload_listed_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        sweeps.parse_spec(_list_spec([8], [MNIST, GEMM, MNIST]), "s.toml")
    assert err.value.field == "workloads[2]" and "workloads[0]" in err.value.message
    twin = tmp_path / "copy.json"
    twin.write_text(Path(MNIST).read_text())
    for other, same in [(str(ROOT / "workloads" / ".." / "workloads" / "mnist_cnn.json"),
                         "file"), (str(twin), "content")]:
        with pytest.raises(InputError, match=f"the same {same} as workloads\\[0\\]"):
            sweeps.execute(sweeps.parse_spec(_list_spec([8], [MNIST, other])))
    with pytest.raises(InputError, match=r"points\[2\].*the same as points\[0\]"):
        sweeps.parse_spec(_list_spec([8, 16, 8]), "s.toml")
    with pytest.raises(InputError, match=r"the same as grid.'array.rows'\[0\]"):
        sweeps.parse_spec({**SMALL, "grid": {"array.rows": [8, 16, 8]}}, "s.toml")


def test_a_changed_spec_with_the_same_output_is_refused_naming_the_change(
        tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    net = tmp_path / "net.json"
    net.write_text(Path(MNIST).read_text())
    spec = {"base": "scalesim_default", "workloads": [str(net)],
            "grid": {"array.rows": [8, 16], "array.dataflow": ["os"]}}
    sweeps.execute(sweeps.parse_spec(spec), out)
    written = out.read_bytes()
    for change, words in [
        ({"grid": {"array.rows": [8, 32], "array.dataflow": ["os"]}},
         "grid.'array.rows' was [8, 16], now [8, 32]"),
        ({"grid": {"array.rows": [8, 16]}}, "grid.'array.dataflow' removed"),
        ({"base": "tpu_v1"}, 'base was "scalesim_default", now "tpu_v1"'),
        ({"mode": "random", "samples": 1}, 'mode was "grid", now "random"'),
    ]:
        with pytest.raises(InputError, match="spec changed") as err:
            sweeps.execute(sweeps.parse_spec({**spec, **change}), out)
        assert words in err.value.message and err.value.source == str(out)
    net.write_text(Path(MNIST).read_text().replace('"name"', '"name" ', 1))
    with pytest.raises(InputError, match=f"workload {net.resolve()} has changed"):
        sweeps.execute(sweeps.parse_spec(spec), out)
    assert out.read_bytes() == written
    (tmp_path / "r.sweep.json").unlink()
    with pytest.raises(InputError, match="has rows but no r.sweep.json"):
        sweeps.execute(sweeps.parse_spec(spec), out)
    chip = tmp_path / "chip.toml"
    chip.write_text(tomli_w_free_copy("scalesim_default"))
    on_chip = sweeps.parse_spec({**spec, "base": str(chip)})
    sweeps.execute(on_chip, tmp_path / "chip.csv")
    chip.write_text(chip.read_text() + "\n# edited\n")
    with pytest.raises(InputError, match=f"base config \"{chip.resolve()}\" has changed"):
        sweeps.execute(on_chip, tmp_path / "chip.csv")


def tomli_w_free_copy(name: str) -> str:
    """A shipped config's TOML text."""
    from simaccel.frontends.hardware_toml import shipped_configs

    return shipped_configs()[name].read_text()


def test_grids_are_counted_before_they_are_built(monkeypatch) -> None:
    huge = {f"array.{k}": list(range(1, 11)) for k in ("rows", "cols")} | {
        f"sram.{k}": list(range(1, 11)) for k in ("ifmap_kib", "filter_kib", "ofmap_kib")} | {
        "dram.bytes_per_cycle": list(range(1, 11)), "system.link_gbps": list(range(1, 11)),
        "clock_mhz": list(range(1, 11)), "vector.lanes": list(range(1, 11)),
        "dram.latency_ns": list(range(1, 11))}
    spec = sweeps.parse_spec({**SMALL, "mode": "random", "samples": 5, "seed": 1,
                              "grid": huge})
    assert sweeps.count_points(spec) == 5
    points = sweeps.design_points(spec)  # drawn from 10^10 without building them
    assert len(points) == 5 and points == sweeps.design_points(spec)
    assert all(set(p) == set(huge) for p in points)
    grid = sweeps.parse_spec({**SMALL, "grid": huge})
    assert sweeps.count_points(grid) == 10**10
    with pytest.raises(InputError, match=r"20,000,000,000 rows .* over the limit"):
        sweeps.execute(grid)
    big = sweeps.parse_spec({**SMALL, "grid": {"array.rows": list(range(1, 101)),
                                               "array.cols": list(range(1, 101))}})
    with pytest.raises(InputError, match="20,000 rows .*pass --yes"):
        sweeps.execute(big)
    monkeypatch.setattr(sweeps, "LARGE_SWEEP_ROWS", 4)
    with pytest.raises(InputError, match="pass --yes"):
        sweeps.execute(sweeps.parse_spec(SMALL))
    assert len(simaccel.sweep(_list_spec([8, 16, 32]), allow_large=True)) == 3


def test_random_points_are_the_grids_in_product_order() -> None:
    spec = sweeps.parse_spec({**SMALL, "mode": "random", "samples": 7, "seed": 2})
    grid = sweeps.design_points(sweeps.parse_spec(SMALL))
    drawn = sweeps.design_points(spec)
    assert drawn == [p for p in grid if p in drawn]  # in the grid's order
    every = sweeps.parse_spec({**SMALL, "mode": "random", "samples": 8})
    assert sweeps.design_points(every) == grid


def _descendants(pid: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_killed_sweep_leaves_no_workers_behind(tmp_path: Path) -> None:
    """The parent is killed while its workers wait for their next point (or finish one):
    every process it started exits by itself, within a bounded wait."""
    spec = tmp_path / "s.toml"
    spec.write_text(f'base = "scalesim_default"\nworkloads = ["{ROOT}/workloads/resnet18.json"]'
                    '\n[grid]\n"array.rows" = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17]\n'
                    '"array.cols" = [8, 16, 32]\n')
    out = tmp_path / "r.csv"
    parent = subprocess.Popen([sys.executable, "-m", "simaccel.cli", "sweep", str(spec),
                               "--out", str(out), "--workers", "2", "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and out.read_text().count("\n") >= 2):  # a row is in
            assert parent.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        helpers = _descendants(parent.pid)
        assert len(helpers) >= 2  # the workers (and the forkserver)
        parent.send_signal(signal.SIGSTOP)  # the workers finish their points and wait idle
        time.sleep(1)
    finally:
        parent.kill()
        parent.wait(10)
    deadline = time.monotonic() + 20
    while any(_running(p) for p in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in helpers if _running(p)]
    for pid in left:  # leave nothing behind even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left


def test_cli_point_timeout_and_yes(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(f'workloads = ["{MNIST}"]\n[grid]\n"array.rows" = {list(range(1, 101))}\n'
                    f'"array.cols" = {list(range(1, 101))}\n"sram.ifmap_kib" = [64, 128]\n')
    out = tmp_path / "r.csv"
    assert main(["sweep", str(spec), "--out", str(out), "--point-timeout", "0"]) == 2
    assert "--point-timeout: must be a positive number of seconds" in capsys.readouterr().err
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(spec) in err[0] and "20,000 rows" in err[0] and "--yes" in err[0]
    assert not out.exists()


def test_a_dask_worker_killed_by_a_point_costs_only_that_point() -> None:
    distributed = pytest.importorskip("distributed")
    import dask

    spec = sweeps.parse_spec(_list_spec([8, 13, 16]))
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster:
        run = sweeps.execute(spec, scheduler=lambda: distributed.Client(cluster),
                             runner=sweep_hooks.crash_or_hang)
    errors = {row["array.rows"]: row["error"] for row in run.rows}
    assert errors[8] == errors[16] == "" and errors[13].startswith("KilledWorker")


def test_a_sweep_never_makes_folders_and_its_python_arguments_are_checked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An --out two folders below one that exists is refused (exit 2, naming it), and no
    folder appears (the journal's folder was made, parents and all, wherever the path
    pointed; as for `simulate --out`, only the output's own folder is made). In Python,
    `simaccel.sweep` refuses what the CLI refuses: an ``out`` that is not a .csv journal, a
    worker count below 1 or a bool, a spec of the wrong type."""
    spec = tmp_path / "s.toml"
    spec.write_text(f'base = "scalesim_default"\nworkloads = ["{MNIST}"]\nmode = "list"\n'
                    '[[points]]\n"dram.bandwidth_gbps" = 8\n')
    missing = tmp_path / "no" / "such" / "rows.csv"
    assert main(["sweep", str(spec), "--out", str(missing), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and str(missing) in err
    assert not (tmp_path / "no").exists()
    for kwargs, field in [({"out": str(tmp_path / "x.txt")}, "out"), ({"workers": 0}, "workers"),
                          ({"workers": True}, "workers")]:
        with pytest.raises(InputError) as refused:
            simaccel.sweep(str(spec), **kwargs)
        assert refused.value.source == "simaccel.sweep" and refused.value.field == field
    with pytest.raises(InputError, match="spec"):
        simaccel.sweep(None)
    assert not (tmp_path / "x.txt").exists()
