"""Energy: Σ actions × energy per action, checked by hand and by its behaviour."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import simaccel
from simaccel.energy import PRESETS, energy_table
from simaccel.errors import InputError
from simaccel.frontends.hardware_toml import parse_hardware
from simaccel.hardware import Hardware

WORKLOADS = Path(__file__).resolve().parent.parent / "workloads"


def _hw(energy: dict | None = None, dtypes: tuple = ("int8", "int8", "int32"),
        clock: float = 500) -> Hardware:
    return parse_hardware({
        "name": "e", "clock_mhz": clock, "array": {"rows": 8, "cols": 8, "dataflow": "os"},
        "dtypes": dict(zip(("input", "weight", "accumulator"), dtypes, strict=True)),
        "sram": {"ifmap_kib": 16, "filter_kib": 16, "ofmap_kib": 16},
        "dram": {"bytes_per_cycle": 8, "latency_ns": 20}, "vector": {"lanes": 8},
        **({"energy": energy} if energy else {})}, "<test>")


def _run(workload: str, hw: Hardware) -> dict:
    return simaccel.simulate(simaccel.load_model(WORKLOADS / f"{workload}.json"), hw,
                             check=False).to_dict()


def test_a_small_layer_by_hand() -> None:
    """With 1 pJ per MAC, 1 pJ per SRAM byte (8 pJ per 64-bit access), 10 pJ per DRAM
    byte, 0.5 pJ per vector op and 2 mW static at 500 MHz (4 pJ per cycle), conv1 of the
    MNIST CNN costs MACs + SRAM bytes + 10 × DRAM bytes + 0.5 × its fused ReLU's outputs
    + 4 × its cycles."""
    hw = _hw({"mac_pj": {"int8": 1.0}, "sram_access_pj": [[1, 8.0]], "dram_pj_per_byte": 10.0,
              "vector_pj_per_op": {"int": 0.5}, "static_mw": 2.0})
    conv1 = _run("mnist_cnn", hw)["layers"][0]
    e = conv1["energy_pj"]
    assert e["mac"] == 194_688
    assert e["sram"] == conv1["sram_read_bytes"] + conv1["sram_write_bytes"]
    assert e["dram"] == 10 * (conv1["dram_read_bytes"] + conv1["dram_write_bytes"])
    assert e["vector"] == 0.5 * 26 * 26 * 32  # relu: one op per output
    assert e["static"] == pytest.approx(4 * conv1["cycles"])
    assert e["total"] == pytest.approx(sum(e[k] for k in ("mac", "sram", "dram", "vector",
                                                          "static")))


def test_horowitz_sram_energy_grows_with_the_buffer() -> None:
    """64-bit access: 8 KiB 10 pJ, 32 KiB 20 pJ, 1 MiB 100 pJ; 16 KiB lies on the log-log
    line: 10·√2 pJ."""
    table = energy_table(_hw())
    assert table.sram_pj_per_byte(8) == pytest.approx(10 / 8)
    assert table.sram_pj_per_byte(32) == pytest.approx(20 / 8)
    assert table.sram_pj_per_byte(1024) == pytest.approx(100 / 8)
    assert table.sram_pj_per_byte(16) == pytest.approx(10 * math.sqrt(2) / 8)
    assert table.sram_pj_per_byte(4) < table.sram_pj_per_byte(8)


def test_horowitz_figures_and_default_static_power() -> None:
    table = energy_table(_hw())
    assert table.mac_pj == pytest.approx(0.2 + 0.1)  # 8b mult + 32b add
    assert table.dram_pj_per_byte == pytest.approx(1950 / 8)
    # 10% of peak MAC power: 64 PEs × 0.3 pJ × 500 MHz = 9.6 mW → 0.96 mW
    assert table.static_mw == pytest.approx(0.96)
    assert "ISSCC 2014" in table.source


def test_int8_macs_cost_less_than_fp32() -> None:
    int8 = _run("mnist_cnn", _hw())["total"]["energy_pj"]["mac"]
    fp32 = _run("mnist_cnn", _hw(dtypes=("fp32", "fp32", "fp32")))["total"]["energy_pj"]["mac"]
    assert int8 < fp32 and fp32 / int8 == pytest.approx(4.6 / 0.3)


def test_a_dram_bound_layer_is_dram_dominated() -> None:
    total = _run("gemm_skinny_1x4096x4096", simaccel.load_hardware("scalesim_default"))["total"]
    energy = total["energy_pj"]
    assert energy["dram"] > 0.8 * energy["total"]


def test_totals_tops_per_watt_and_power() -> None:
    report = _run("resnet18", simaccel.load_hardware("gemmini"))
    total = report["total"]
    for key in ("mac", "sram", "dram", "vector", "static", "total"):
        assert total["energy_pj"][key] == pytest.approx(
            sum(layer["energy_pj"][key] for layer in report["layers"]))
        assert all(layer["energy_pj"][key] >= 0 for layer in report["layers"])
    joules = total["energy_pj"]["total"] * 1e-12
    assert total["tops_per_w"] == pytest.approx(2 * total["macs"] / joules / 1e12)
    assert total["average_power_w"] == pytest.approx(joules / total["latency_s"])


def test_the_second_preset() -> None:
    hw = _hw({"preset": "eyeriss_relative"})
    table = energy_table(hw)
    assert table.dram_pj_per_byte == pytest.approx(100 * PRESETS["eyeriss_relative"]["mac_pj"][
        "int8"])  # 200 MACs per 16-bit word
    assert table.sram_pj_per_byte(1) == table.sram_pj_per_byte(1024) == pytest.approx(0.9)
    assert "Eyeriss" in table.source


def test_unknown_preset_names_the_field() -> None:
    with pytest.raises(InputError) as caught:
        _hw({"preset": "horowitz_7nm"})
    assert caught.value.field == "energy.preset"
