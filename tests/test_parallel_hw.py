"""Multi-core chips and multi-chip systems in the hardware config: `[chip]` DRAM sharing and
on-chip network, `[system]` chips, topology and links (docs/formats.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

import simaccel
from simaccel.cli import main
from simaccel.hardware import vary
from tests.helpers import ideal_hw, model

ROOT = Path(__file__).resolve().parent.parent


def test_tpu_v4_like_reaches_the_papers_275_tflops_and_32_gib() -> None:
    hw = simaccel.load_hardware("tpu_v4_like")
    peak_flops = 2 * hw.chip.cores * hw.array.pes * hw.clock_mhz * 1e6
    assert peak_flops == pytest.approx(275e12, rel=0.001)  # Jouppi et al. 2023, Table 1
    assert hw.dram_capacity_bytes == 32 << 30
    system = simaccel.load_hardware("tpu_v4_like_x8")
    assert (system.system.chips, system.system.topology.value, system.system.link_gbps) == (
        8, "ring", 50.0)
    assert system.chip == hw.chip and system.array == hw.array


def test_edge_4core_keeps_the_edge_tpu_budget_of_4_tops() -> None:
    hw = simaccel.load_hardware("edge_4core")
    assert 2 * hw.chip.cores * hw.array.pes * hw.clock_mhz * 1e6 == pytest.approx(3.93e12,
                                                                                 rel=0.01)


def _two_dram_bound_branches() -> simaccel.model.Model:
    return model([{"name": "a", "op": "dense", "inputs": ["x"], "units": 512},
                  {"name": "b", "op": "dense", "inputs": ["x"], "units": 512}],
                 inputs=[{"name": "x", "shape": [1, 1024]}])


@pytest.mark.parametrize("sharing", ["shared", "per_core"])
def test_per_core_dram_channels_serve_two_cores_at_once(sharing: str) -> None:
    """Two 1×1024×512 dense layers (512 KiB of int8 weights each) on two cores of a 64×64
    array at 16 B/cycle (each branch computes in ~24k cycles): one shared channel moves the
    1 MiB in ≥ 65,536 cycles; a channel per core moves each branch's 512 KiB beside the
    other's, in ≥ 32,768."""
    hw = vary(ideal_hw(64, 64, "ws"), {"chip.cores": 2, "chip.dram": sharing,
                                       "dram.bytes_per_cycle": 16})
    cycles = simaccel.simulate(_two_dram_bound_branches(), hw, check=False
                               ).to_dict()["total"]["cycles"]
    weights = 2 * 1024 * 512
    if sharing == "shared":
        assert cycles >= weights / 16
    else:
        assert weights / 2 / 16 <= cycles < 0.6 * weights / 16


@pytest.mark.parametrize(("old", "new", "field"), [
    ('topology = "ring"', 'topology = "torus"', "system.topology"),
    ("chips = 8", "chips = 0", "system.chips"),
    ("link_gbps = 50", "link_gbps = -1", "system.link_gbps"),
    ('dram = "shared"', 'dram = "both"', "chip.dram"),
    ("noc_latency_ns = 10", 'noc_latency_ns = "fast"', "chip.noc_latency_ns"),
    ("capacity_gib = 32", "capacity_gib = 0", "dram.capacity_gib"),
])
def test_bad_system_fields_are_refused_naming_file_and_field(
        old: str, new: str, field: str, tmp_path: Path, capsys) -> None:
    text = (ROOT / "hw_configs" / "tpu_v4_like_x8.toml").read_text()
    assert old in text
    path = tmp_path / "hw.toml"
    path.write_text(text.replace(old, new, 1))
    code = main(["simulate", str(ROOT / "workloads" / "mnist_cnn.json"), "--hw", str(path),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert str(path) in err[0] and field in err[0]
    assert not (tmp_path / "out").exists()
