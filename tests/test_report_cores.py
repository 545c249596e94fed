"""The report's per-core section (`cores` in report.json, the terminal's per-core table) and
the trace's per-core tracks on a chip of several cores (docs/report.md)."""

from __future__ import annotations

import pytest

import simaccel
from simaccel import display
from simaccel.cli import main
from simaccel.hardware import vary
from tests.helpers import ideal_hw, model, strict_json


def _two_branches() -> simaccel.model.Model:
    """x [16, 64] into two independent dense layers: a (64 units) and b (32 units)."""
    return model([{"name": "a", "op": "dense", "inputs": ["x"], "units": 64},
                  {"name": "b", "op": "dense", "inputs": ["x"], "units": 32}],
                 inputs=[{"name": "x", "shape": [16, 64]}])


def _two_core_report() -> simaccel.report.Report:
    hw = vary(ideal_hw(32, 32, "os"), {"chip.cores": 2})
    return simaccel.simulate(_two_branches(), hw, check=False)


def test_two_independent_branches_each_core_is_busy_for_its_kernels_compute() -> None:
    """On a 32×32 output-stationary array an OS fold of K = 64 takes 64 + 32 + 32 − 2 = 126
    cycles and a kernel's last fold overlaps its end by 1: a (N = 64, two column folds)
    2 × 126 − 1 = 251 cycles on core 0, b (N = 32, one fold) 126 − 1 = 125 on core 1. With
    unlimited DRAM bandwidth the run is the longer branch, 251 cycles, so core 0 is busy
    the whole run and core 1 for 125/251 of it. MACs: a 16·64·64 = 65,536, b 32,768.
    Bytes per core are its kernel's: a reads x (16·64) and its weights (64·64) and bias
    (64 × 4 bytes): 5,376, writes 16·64 = 1,024; b reads 1,024 + 2,048 + 128 = 3,200 and
    writes 512."""
    data = _two_core_report().to_dict()
    assert [(row["name"], row["core"], row["compute_cycles"]) for row in data["layers"]] == [
        ("a", 0, 251), ("b", 1, 125)]
    assert data["total"]["cycles"] == 251
    cores = data["cores"]
    assert [(c["core"], c["kernels"], c["compute_cycles"], c["macs"]) for c in cores] == [
        (0, ["a"], 251, 65_536), (1, ["b"], 125, 32_768)]
    assert [c["busy_share"] for c in cores] == [1.0, pytest.approx(125 / 251)]
    assert cores[1]["utilization"] == pytest.approx(32_768 / (32 * 32 * 251))
    assert [(c["dram_read_bytes"], c["dram_write_bytes"]) for c in cores] == [
        (5_376, 1_024), (3_200, 512)]


def test_the_trace_has_a_track_per_core_unit_holding_that_cores_busy_cycles() -> None:
    """Perfetto shows core 1's array as its own track ("systolic array (core 1)"), with
    its DRAM transfers on "DRAM read (core 1)"; the array slices of each core add up to
    that core's busy cycles (no vector work here)."""
    report = _two_core_report()
    events = report.trace_events()["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e.get("name") == "thread_name"}
    assert {"systolic array", "systolic array (core 1)", "DRAM read (core 1)",
            "DRAM write (core 1)"} <= set(names.values())
    busy = {label: 0.0 for label in names.values()}
    for e in events:
        if e["ph"] == "X":
            busy[names[e["tid"]]] += e["args"]["cycles"]
    cores = report.to_dict()["cores"]
    assert busy["systolic array"] == cores[0]["compute_cycles"] == 251
    assert busy["systolic array (core 1)"] == cores[1]["compute_cycles"] == 125


def _branches_and_join() -> simaccel.model.Model:
    """Three convolution branches of different widths joined by adds: work for several
    cores, vector kernels included, on a shared DRAM channel."""
    conv = {"op": "conv2d", "inputs": ["x"], "kernel": [3, 3], "padding": "same"}
    return model([{**conv, "name": "p", "filters": 32},
                  {**conv, "name": "q", "filters": 32, "activation": "relu"},
                  {**conv, "name": "r", "filters": 32, "kernel": [1, 1]},
                  {"name": "s", "op": "add", "inputs": ["p", "q"]},
                  {"name": "t", "op": "add", "inputs": ["s", "r"]}],
                 inputs=[{"name": "x", "shape": [2, 16, 16, 8]}])


def test_per_core_figures_add_up_to_the_totals_on_a_shared_dram_chip() -> None:
    """Every kernel is on exactly one core; the cores' MACs and DRAM bytes add up to the
    totals; a core's busy cycles are at least its longest kernel's compute and at most the
    sum of its kernels' (its array and vector unit may work side by side), and the cores
    together are busy at least as long as the chip (`total.compute_cycles` counts once
    the cycles in which several units worked)."""
    hw = vary(ideal_hw(16, 16, "ws"), {"chip.cores": 4, "dram.bytes_per_cycle": 32})
    data = strict_json(simaccel.simulate(_branches_and_join(), hw, check=False).to_json())
    cores, total = data["cores"], data["total"]
    assert [c["core"] for c in cores] == [0, 1, 2, 3]
    assert sorted(k for c in cores for k in c["kernels"]) == sorted(
        row["name"] for row in data["layers"])
    assert len({row["core"] for row in data["layers"]}) > 1  # the branches did spread
    for key in ("macs", "dram_read_bytes", "dram_write_bytes", "sram_read_bytes",
                "sram_write_bytes"):
        assert sum(c[key] for c in cores) == total[key], key
    by_name = {row["name"]: row for row in data["layers"]}
    for c in cores:
        mine = [by_name[k]["compute_cycles"] for k in c["kernels"]]
        assert max(mine, default=0) <= c["compute_cycles"] <= sum(mine)
        assert all(by_name[k]["core"] == c["core"] for k in c["kernels"])
        assert 0 <= c["busy_share"] <= 1
    assert total["compute_cycles"] <= sum(c["compute_cycles"] for c in cores)


def test_a_one_core_chip_has_one_core_row_and_no_per_core_table() -> None:
    report = simaccel.simulate(_two_branches(), ideal_hw(32, 32, "os"), check=False)
    data = report.to_dict()
    assert [(c["core"], c["kernels"], c["compute_cycles"]) for c in data["cores"]] == [
        (0, ["a", "b"], data["total"]["compute_cycles"])]
    assert display.cores_table(report) is None


def test_simulate_prints_the_per_core_table_on_a_chip_of_several_cores(
        tmp_path, capsys) -> None:
    hw = vary(ideal_hw(32, 32, "os"), {"chip.cores": 2})
    path = tmp_path / "two_core.toml"
    path.write_text(
        "name = 'two_core'\nclock_mhz = 1000\n"
        "[array]\nrows = 32\ncols = 32\ndataflow = 'os'\n"
        "[sram]\nifmap_kib = 8192\nfilter_kib = 8192\nofmap_kib = 8192\n"
        "[dram]\nbytes_per_cycle = inf\nlatency_ns = 0\n"
        "[vector]\nlanes = 32\n[chip]\ncores = 2\n", encoding="utf-8")
    assert simaccel.load_hardware(str(path)).chip == hw.chip
    workload = tmp_path / "branches.json"
    workload.write_text(
        '{"format": "simaccel-model/1", "name": "t", "inputs": [{"name": "x", "shape": '
        '[16, 64]}], "layers": [{"name": "a", "op": "dense", "inputs": ["x"], "units": 64},'
        ' {"name": "b", "op": "dense", "inputs": ["x"], "units": 32}]}', encoding="utf-8")
    assert main(["simulate", str(workload), "--hw", str(path), "--no-check", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "per core (2 cores)" in out
    row = next(line for line in out.splitlines() if "1: b" in line)
    assert "125" in row and "49.8" in row  # core 1: 125 busy cycles, 49.8% of the run
