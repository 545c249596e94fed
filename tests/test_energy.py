"""Energy: Σ actions × energy per action, checked by hand and by its behaviour."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import simaccel
from simaccel.domain import Operand
from simaccel.energy import PRESETS, energy_table, static_pj
from simaccel.errors import InputError
from simaccel.frontends.hardware_toml import parse_hardware
from simaccel.hardware import Hardware, vary

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
    assert e["total"] == pytest.approx(sum(e[k] for k in ("mac", "sram", "dram", "vector",
                                                          "static")))


def test_static_energy_is_static_power_over_the_run_shared_by_windows() -> None:
    """A fixed ``static_mw`` (2 mW at 500 MHz: 4 pJ per cycle) over the run's latency, not
    over the sum of the kernels' windows (which overlap: array and vector unit), shared
    among kernels in proportion to their windows."""
    report = _run("mnist_cnn", _hw({"static_mw": 2.0}))
    total, layers = report["total"], report["layers"]
    assert total["energy_pj"]["static"] == pytest.approx(4 * total["cycles"])
    windows = sum(layer["cycles"] for layer in layers)
    for layer in layers:
        assert layer["energy_pj"]["static"] == pytest.approx(
            4 * total["cycles"] * layer["cycles"] / windows)


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
    # leakage: 64 PEs × 0.3 pJ × 6.39 µW/pJ (Aladdin 40 nm mult + add) + 48 KiB × 8 nW/B
    pe_uw = 0.3 * (0.08 + 0.0024) / (12.68 + 0.21) * 1e3
    assert table.pe_leakage_uw == pytest.approx(pe_uw)
    assert table.static_mw == pytest.approx(64 * pe_uw * 1e-3 + 48 * 1024 * 8e-6)
    assert not table.static_fixed
    assert "ISSCC 2014" in table.source and "Aladdin" in table.source


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
    unit = PRESETS["eyeriss_relative"]["mac_pj"]["int16"]  # one 16-bit MAC
    assert table.dram_pj_per_byte == pytest.approx(100 * unit)  # 200 MACs per 16-bit word
    assert table.sram_pj_per_byte(1) == table.sram_pj_per_byte(1024) == pytest.approx(3 * unit)
    assert "Eyeriss" in table.source


@pytest.mark.parametrize("kib", [16, 1024, 24576])
def test_eyeriss_ratios_for_a_16_bit_datapath(kib: float) -> None:
    """Eyeriss (Chen et al., ISCA 2016 / JSSC 2017), normalised to a 16-bit MAC: a global
    buffer access of a 16-bit word costs 6 MACs, a DRAM access 200, whatever the buffer's
    size."""
    hw = parse_hardware({
        "name": "e16", "clock_mhz": 200, "array": {"rows": 12, "cols": 14, "dataflow": "os"},
        "dtypes": {"input": "int16", "weight": "int16", "accumulator": "int32"},
        "sram": {"ifmap_kib": kib, "filter_kib": kib, "ofmap_kib": kib},
        "dram": {"bytes_per_cycle": 8}, "vector": {"lanes": 8},
        "energy": {"preset": "eyeriss_relative"}}, "<test>")
    table = energy_table(hw)
    word = hw.dtypes.input.bytes
    assert word == 2
    for operand in Operand:
        assert word * table.operand_access_pj_per_byte(operand) / table.mac_pj == \
            pytest.approx(6)
    assert word * table.dram_pj_per_byte / table.mac_pj == pytest.approx(200)


def test_unknown_preset_names_the_field() -> None:
    with pytest.raises(InputError) as caught:
        _hw({"preset": "horowitz_7nm"})
    assert caught.value.field == "energy.preset"


def test_access_energy_is_the_physical_memorys() -> None:
    """tpu_v1's ifmap tiles stream through 4 MiB of the 24 MiB Unified Buffer: an access
    costs what a 24 MiB SRAM access costs (Horowitz's line extended past 1 MB), not a 4 MiB
    one; gemmini's ifmap and filter share one 256 KiB scratchpad and cost the same."""
    tpu = simaccel.load_hardware("tpu_v1")
    table = energy_table(tpu)
    assert tpu.sram.ifmap_kib == 4096 and tpu.memory_of(Operand.IFMAP).kib == 24576
    assert table.operand_access_pj_per_byte(Operand.IFMAP) == pytest.approx(
        table.sram_pj_per_byte(24576))
    assert table.operand_access_pj_per_byte(Operand.IFMAP) > 2 * table.sram_pj_per_byte(4096)
    assert table.operand_access_pj_per_byte(Operand.FILTER) == pytest.approx(
        table.sram_pj_per_byte(256))
    assert table.operand_access_pj_per_byte(Operand.OFMAP) == pytest.approx(
        table.sram_pj_per_byte(4096))
    assert dict(table.memory_pj_per_byte) == pytest.approx({
        "unified_buffer": table.sram_pj_per_byte(24576),
        "accumulators": table.sram_pj_per_byte(4096), "weight_fifo": table.sram_pj_per_byte(256)})
    gemmini = energy_table(simaccel.load_hardware("gemmini"))
    assert gemmini.operand_access_pj_per_byte(Operand.IFMAP) == pytest.approx(
        gemmini.operand_access_pj_per_byte(Operand.FILTER))
    assert gemmini.operand_access_pj_per_byte(Operand.IFMAP) == pytest.approx(
        gemmini.sram_pj_per_byte(256))


def test_a_runs_sram_energy_is_bytes_times_each_memorys_figure() -> None:
    """In a run on tpu_v1, every layer's SRAM energy is its ifmap bytes at the Unified
    Buffer's figure, filter bytes at the weight FIFO's and ofmap bytes at the accumulators';
    the report keys the figures and the run's SRAM energy by memory."""
    hw = simaccel.load_hardware("tpu_v1")
    model = simaccel.load_model(WORKLOADS / "mnist_cnn.json")
    report = simaccel.simulate(model, hw, check=False)
    figures = report.to_dict()["hardware"]["energy_table"]["sram_pj_per_byte"]
    assert set(figures) == {"unified_buffer", "accumulators", "weight_fifo"}
    by_memory = dict.fromkeys(figures, 0.0)
    for result, energy in zip(report.results.layers, report.energy.layers, strict=True):
        parts = {name: sum(sum(result.traffic.sram_bytes(op))
                           for op in Operand if hw.memory_of(op).name == name) * figures[name]
                 for name in figures}
        assert energy.sram == pytest.approx(sum(parts.values()))
        for name, pj in parts.items():
            by_memory[name] += pj
    total = report.to_dict()["total"]
    assert total["energy_sram_pj_by_memory"] == pytest.approx(by_memory)
    assert sum(by_memory.values()) == pytest.approx(total["energy_pj"]["sram"])


def test_leakage_grows_with_pes_memory_bytes_and_cores() -> None:
    """Static power is leakage per PE plus per byte of every memory's capacity: at equal
    cycles, a larger (even idle) array, a larger memory or a second core costs more."""
    base = _hw()
    table = energy_table(base)
    cycles = 10_000
    bigger_array = energy_table(vary(base, {"array.rows+array.cols": 16}))
    assert bigger_array.array_leakage_mw == pytest.approx(4 * table.array_leakage_mw)
    assert static_pj(bigger_array, cycles, base) > static_pj(table, cycles, base)
    assert bigger_array.static_mw - table.static_mw == pytest.approx(
        3 * 64 * table.pe_leakage_uw * 1e-3)
    bigger_sram = energy_table(vary(base, {"sram.ifmap_kib": 1024}))
    assert bigger_sram.static_mw - table.static_mw == pytest.approx(
        (1024 - 16) * 1024 * table.sram_leakage_nw_per_byte * 1e-6)
    assert static_pj(bigger_sram, cycles, base) > static_pj(table, cycles, base)
    two_cores = energy_table(vary(base, {"chip.cores": 2}))
    assert two_cores.static_mw == pytest.approx(2 * table.static_mw)
    # a memory counts whole: the Unified Buffer's resident space leaks too
    tpu = simaccel.load_hardware("tpu_v1")
    assert dict(energy_table(tpu).memory_leakage_mw)["unified_buffer"] == pytest.approx(
        24576 * 1024 * 8e-6)
    bigger_ub = vary(tpu, {"memories": [
        {**m.model_dump(mode="json"), "kib": m.kib * 2} if m.name == "unified_buffer"
        else m.model_dump(mode="json") for m in tpu.memory_list]})
    assert energy_table(bigger_ub).static_mw - energy_table(tpu).static_mw == pytest.approx(
        24576 * 1024 * 8e-6)


def test_an_idle_larger_array_costs_more_static_energy() -> None:
    """A DRAM-bound gemv (1×4096 by 4096×4096) takes about as long on a 32×32 array as on
    an 8×8 (the array idles, waiting for weights): the larger array's run costs more static
    energy, static power × the run's latency."""
    small = _hw()
    large = vary(small, {"array.rows+array.cols": 32})
    runs = [_run("gemm_skinny_1x4096x4096", hw)["total"] for hw in (small, large)]
    for run, hw in zip(runs, (small, large), strict=True):
        assert run["energy_pj"]["static"] == pytest.approx(
            static_pj(energy_table(hw), run["cycles"], hw))
    assert runs[1]["cycles"] == pytest.approx(runs[0]["cycles"], rel=0.1)
    assert runs[1]["energy_pj"]["static"] > 3 * runs[0]["energy_pj"]["static"]


def test_old_energy_configs_still_load() -> None:
    """An [energy] table written before leakage (every key it could have, static_mw
    included) loads, and its static_mw stays a fixed static power."""
    hw = _hw({"preset": "horowitz_45nm", "source": "mine", "mac_pj": {"int8": 0.25},
              "sram_access_pj": [[8, 10], [32, 20], [1024, 100]], "dram_pj_per_byte": 244,
              "vector_pj_per_op": {"int": 0.1, "float": 0.9}, "static_mw": 50})
    table = energy_table(hw)
    assert table.static_mw == 50 and table.static_fixed and table.source == "mine"
    assert energy_table(vary(hw, {"array.rows+array.cols": 64})).static_mw == 50
    for name in ("horowitz_45nm", "eyeriss_relative"):
        assert energy_table(_hw({"preset": name})).static_mw > 0
    overridden = energy_table(_hw({"pe_leakage_uw": 10.0, "sram_leakage_nw_per_byte": 0.0}))
    assert overridden.static_mw == pytest.approx(64 * 10.0 * 1e-3)


def test_an_old_config_file_loads(tmp_path: Path) -> None:
    """A TOML config as written before leakage (its [energy] with static_mw) loads from a
    file and keeps its fixed static power; the shipped configs' own [energy] tables load."""
    path = tmp_path / "old.toml"
    path.write_text("""name = "old"
clock_mhz = 500
[array]
rows = 8
cols = 8
dataflow = "os"
[sram]
ifmap_kib = 16
filter_kib = 16
ofmap_kib = 16
[dram]
bytes_per_cycle = 8
[vector]
lanes = 8
[energy]
preset = "eyeriss_relative"
dram_pj_per_byte = 30
static_mw = 2.5
""", encoding="utf-8")
    table = energy_table(simaccel.load_hardware(str(path)))
    assert table.static_mw == 2.5 and table.dram_pj_per_byte == 30
    for name in ("tpu_v1", "gemmini", "scalesim_default", "edge_tpu_like", "teaching_8x8"):
        assert energy_table(simaccel.load_hardware(name)).static_mw > 0


def test_a_mac_costs_the_rate_of_its_wider_operand() -> None:
    """int8 activations × int16 weights multiply 16-bit numbers: an int16 MAC (Horowitz:
    0.9 pJ against int8's 0.3), not the input type's (found by a tester: int8 × int16 cost
    as int8 × int8, int16 × int8 as int16 × int16)."""
    base = simaccel.load_hardware("scalesim_default")
    rates = {}
    for pair in [("int8", "int8"), ("int8", "int16"), ("int16", "int8"), ("int16", "int16")]:
        hw = vary(base, {"dtypes.input": pair[0], "dtypes.weight": pair[1],
                         "dtypes.accumulator": "int48" if "int16" in pair else "int32"})
        rates[pair] = energy_table(hw).mac_pj
    assert rates[("int8", "int8")] == PRESETS["horowitz_45nm"]["mac_pj"]["int8"]
    assert rates[("int8", "int16")] == rates[("int16", "int8")] == rates[("int16", "int16")]
    assert rates[("int16", "int16")] == PRESETS["horowitz_45nm"]["mac_pj"]["int16"]
