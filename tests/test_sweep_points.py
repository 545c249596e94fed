"""Sweep points mean what their rows say (issue 13): a field set twice in one point —
directly, through a ``+`` tie, or as both spellings of the DRAM bandwidth — is refused up
front naming both keys; values are compared as the config reads them (8 and 8.0 are one);
``random`` never quietly draws fewer points than asked; the spec's name is bounded; the LLM
sweep checks its values before any point runs and honours ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simaccel
from simaccel import sweeps
from simaccel.cli import main
from simaccel.errors import InputError
from simaccel.hardware_keys import clash
from simaccel.llm_sweep import check_grid

ROOT = Path(__file__).resolve().parent.parent
MNIST = str(ROOT / "workloads" / "mnist_cnn.json")
GPT2 = str(ROOT / "tests" / "data" / "llm" / "gpt2.json")
BASE = {"base": "scalesim_default", "workloads": [MNIST]}


# --- which keys set one field --------------------------------------------------------------

@pytest.mark.parametrize(("keys", "pair"), [
    (["dram.bandwidth_gbps", "dram.bytes_per_cycle"],
     ("dram.bandwidth_gbps", "dram.bytes_per_cycle")),
    (["array.rows+array.cols", "array.rows"], ("array.rows+array.cols", "array.rows")),
    (["array.rows", "sram.ifmap_kib", "array.cols + array.rows"],
     ("array.rows", "array.cols + array.rows")),
    (["array.rows+array.rows"], ("array.rows+array.rows", "array.rows+array.rows")),
    (["dram.bandwidth_gbps+dram.bytes_per_cycle"],
     ("dram.bandwidth_gbps+dram.bytes_per_cycle",) * 2),
    (["dram", "dram.latency_ns"], ("dram", "dram.latency_ns")),  # a table holds its field
    # a fixed static power is instead of the leakage figures: setting both drops one
    (["energy.pe_leakage_uw", "energy.static_mw"], ("energy.pe_leakage_uw", "energy.static_mw")),
    (["energy.pe_leakage_uw", "energy.sram_leakage_nw_per_byte"], None),  # they add up
    (["array.rows", "array.cols", "dram.bytes_per_cycle", "dram.latency_ns", "parallel",
      "batch"], None),
    (["array.row", "array.rows"], None),  # a prefix of a name is not a table
])
def test_clash_finds_the_two_keys_that_set_one_field(keys: list[str], pair) -> None:
    found = clash(keys)
    assert (found and (found.first, found.second)) == pair or (found is None and pair is None)


def test_vary_refuses_both_bandwidth_spellings_naming_both() -> None:
    """``vary`` used to drop the GB/s figure and run at 100 B/cycle with no word."""
    hw = simaccel.load_hardware("scalesim_default")
    with pytest.raises(InputError) as err:
        simaccel.vary(hw, {"dram.bandwidth_gbps": 8, "dram.bytes_per_cycle": 100})
    assert err.value.source == "simaccel.vary"
    assert "dram.bandwidth_gbps" in str(err.value) and "dram.bytes_per_cycle" in str(err.value)
    with pytest.raises(InputError, match="'array.rows'.*'array.rows\\+array.cols'"):
        simaccel.vary(hw, {"array.rows+array.cols": 8, "array.rows": 16})
    assert simaccel.vary(hw, {"dram.bandwidth_gbps": 8}).dram.bandwidth_gbps == 8


# --- the sweep spec ------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "field", "other"), [
    ({"grid": {"dram.bandwidth_gbps": [8], "dram.bytes_per_cycle": [100]}},
     "grid.'dram.bytes_per_cycle'", "grid.'dram.bandwidth_gbps'"),
    ({"grid": {"array.rows+array.cols": [8], "array.rows": [16]}}, "grid.'array.rows'",
     "grid.'array.rows+array.cols'"),
    ({"grid": {"array.rows": [16], "array.rows+array.cols": [8]}},
     "grid.'array.rows+array.cols'", "grid.'array.rows'"),
    ({"grid": {"array.rows+array.rows": [8]}}, "grid.'array.rows+array.rows'", "twice"),
    ({"mode": "list", "points": [{"array.rows": 8}, {"dram.bytes_per_cycle": 4,
                                                     "dram.bandwidth_gbps": 8}]},
     "points[1].'dram.bandwidth_gbps'", "points[1].'dram.bytes_per_cycle'"),
])
def test_a_field_set_twice_in_a_point_is_refused_naming_both(spec: dict, field: str,
                                                              other: str) -> None:
    with pytest.raises(InputError) as err:
        sweeps.parse_spec({**BASE, **spec}, "s.toml")
    assert (err.value.source, err.value.field) == ("s.toml", field)
    assert other in err.value.message


def test_list_points_may_each_set_a_field_once() -> None:
    """Two points, each with one spelling, are two points, not a clash."""
    spec = sweeps.parse_spec({**BASE, "mode": "list", "points": [
        {"dram.bandwidth_gbps": 8}, {"dram.bytes_per_cycle": 8}]})
    assert len(sweeps.design_points(spec)) == 2


@pytest.mark.parametrize(("spec", "field", "words"), [
    ({"grid": {"dram.bandwidth_gbps": [8, 8.0]}}, "grid.'dram.bandwidth_gbps'[1]",
     "8 and 8.0 read the same"),
    ({"grid": {"array.rows+sram.ifmap_kib": [16, 32, 16]}}, "grid.'array.rows+sram.ifmap_kib'[2]",
     "grid.'array.rows+sram.ifmap_kib'[0]"),
    ({"mode": "list", "points": [{"sram.ifmap_kib": 64, "array.rows": 8},
                                 {"array.rows": 8, "sram.ifmap_kib": 64.0}]}, "points[1]",
     "points[0]"),
])
def test_a_value_listed_twice_is_compared_as_the_config_reads_it(spec: dict, field: str,
                                                                  words: str) -> None:
    with pytest.raises(InputError) as err:
        sweeps.parse_spec({**BASE, **spec}, "s.toml")
    assert err.value.field == field and words in err.value.message
    # distinct values of one field stay distinct
    assert len(sweeps.design_points(sweeps.parse_spec(
        {**BASE, "grid": {"dram.bandwidth_gbps": [8, 8.5], "array.dataflow": ["os", "ws"]}}))
    ) == 4


def test_random_over_the_grid_size_is_refused_naming_samples() -> None:
    grid = {"array.rows": [8, 16]}
    with pytest.raises(InputError) as err:
        sweeps.parse_spec({**BASE, "mode": "random", "samples": 5, "grid": grid}, "s.toml")
    assert err.value.field == "samples" and "5 is more than the 2 points" in err.value.message
    with pytest.raises(InputError, match=r"16 \(the default\) is more than the 2 points"):
        sweeps.parse_spec({**BASE, "mode": "random", "grid": grid}, "s.toml")
    spec = sweeps.parse_spec({**BASE, "mode": "random", "samples": 2, "grid": grid})
    assert sweeps.count_points(spec) == 2 and len(sweeps.design_points(spec)) == 2


def test_the_name_is_bounded() -> None:
    assert sweeps.parse_spec({**BASE, "name": "n" * 256, "grid": {"array.rows": [8]}})
    with pytest.raises(InputError) as err:
        sweeps.parse_spec({**BASE, "name": "n" * 100_000, "grid": {"array.rows": [8]}},
                          "s.toml")
    assert err.value.field == "name" and "at most 256 characters" in err.value.message
    assert len(str(err.value)) < 1000


KEYS = ["array.rows", "array.cols", "array.rows+array.cols", "sram.ifmap_kib",
        "sram.ifmap_kib+sram.filter_kib", "dram.bandwidth_gbps", "dram.bytes_per_cycle",
        "array.rows+array.rows", "dram.bandwidth_gbps+dram.bytes_per_cycle"]


def _field(hw, dotted: str):
    node = hw
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


@settings(max_examples=60, deadline=None)
@given(grid=st.dictionaries(st.sampled_from(KEYS), st.lists(
    st.sampled_from([8, 16, 16.0, 32]), min_size=1, max_size=2), min_size=1, max_size=3))
def test_every_accepted_point_runs_the_values_its_row_names(grid: dict) -> None:
    """Whatever grid is accepted, each point's hardware holds every value its row shows."""
    try:
        spec = sweeps.parse_spec({**BASE, "grid": grid})
    except InputError:
        return
    base = simaccel.load_hardware("scalesim_default")
    for point in sweeps.design_points(spec):
        try:
            hw = simaccel.vary(base, point)
        except ValueError:  # a rule between fields (pydantic's ValidationError): its row
            continue
        for key, value in point.items():
            for dotted in key.split("+"):
                assert _field(hw, dotted.strip()) == value, (point, dotted)


def test_cli_refuses_a_clash_in_one_line_and_writes_nothing(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "bw_conflict.toml"
    spec.write_text(f'base = "scalesim_default"\nworkloads = ["{MNIST}"]\n[grid]\n'
                    '"dram.bandwidth_gbps" = [8]\n"dram.bytes_per_cycle" = [100]\n')
    out = tmp_path / "bw.csv"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and not captured.out
    assert str(spec) in err[0] and "'dram.bandwidth_gbps'" in err[0] \
        and "'dram.bytes_per_cycle'" in err[0]
    assert list(tmp_path.iterdir()) == [spec]


# --- the LLM sweep -------------------------------------------------------------------------

@pytest.mark.parametrize(("grid", "field", "words"), [
    ({"system.chips": [2, 0]}, "system.chips", "greater than 0 (got 0)"),
    ({"array.rows+array.cols": [64, True]}, "array.rows+array.cols", "got True"),
    ({"array.rows+array.cols": [64], "array.rows": [16]}, "array.rows",
     "as 'array.rows+array.cols' does"),
])
def test_llm_grid_values_are_checked_before_any_point(grid: dict, field: str,
                                                      words: str) -> None:
    with pytest.raises(InputError) as err:
        check_grid(grid, "--sweep")
    assert (err.value.source, err.value.field) == ("--sweep", field)
    assert words in err.value.message


def test_llm_cli_sweep_refuses_a_bad_value_up_front(tmp_path: Path, capsys) -> None:
    """It used to run system.chips=2, then give 0 an error row and exit 0."""
    out = tmp_path / "run"
    assert main(["llm", "llama2-7b", "--prompt", "8", "--generate", "1", "--hw",
                 "tpu_v4_like_x8", "--parallel", "tensor", "--sweep", "system.chips=2,0",
                 "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert not captured.out and captured.err.startswith("simaccel: --sweep: system.chips:")
    assert len(captured.err.splitlines()) == 1 and not out.exists()
    assert main(["llm", "llama2-7b", "--hw", "tpu_v4_like_x8", "--sweep", "system.chips=2",
                 "--sweep", "system.chips=4"]) == 2
    assert "given twice" in capsys.readouterr().err


def test_llm_cli_sweep_prints_strict_json(capsys) -> None:
    assert main(["llm", GPT2, "--prompt", "16", "--generate", "2", "--hw", "tpu_v4_like_x8",
                 "--sweep", "parallel=tensor", "--sweep", "dram.capacity_gib=32,0.01",
                 "--json"]) == 0

    def refuse(constant: str):
        raise AssertionError(f"{constant} is not JSON")

    doc = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert (doc["model"], doc["prompt"], doc["generate"]) == ("gpt2", 16, 2)
    ran, failed = doc["rows"]
    assert (ran["dram.capacity_gib"], ran["error"], ran["chosen"]) == (32, "", "tensor")
    assert ran["tokens_per_s"] > 0
    assert failed["dram.capacity_gib"] == 0.01 and "exceed" in failed["error"]
    assert failed["tokens_per_s"] is None  # a failed point's figures are null, not NaN
