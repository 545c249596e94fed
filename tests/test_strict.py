"""Strict, complete validation: no loose coercion, duplicate keys, bounds and non-finite
numbers, energy tables, weight files, bounded messages, simulate(inputs=...), and the memory
bound of the default numerics check."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

import simaccel
from simaccel.cli import main
from simaccel.energy import energy_table
from simaccel.errors import InputError
from simaccel.frontends.hardware_toml import parse_hardware
from simaccel.pipeline import CHECK_BY_DEFAULT_MAX_BYTES, check_by_default, numerics_bytes, prepare
from tests.helpers import model, shipped_hw_dict

CASES = Path(__file__).parent / "data" / "cases"
DENSE = [{"name": "fc", "op": "dense", "inputs": ["x"], "units": 3}]


def _hw(**changes: object) -> dict:
    doc = shipped_hw_dict("scalesim_default")
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return doc


@pytest.mark.parametrize(("field", "value"), [
    ("units", True), ("units", "3"), ("units", 3.0), ("bias", 1), ("bias", "true"),
])
def test_model_fields_take_no_loose_coercion(field: str, value: object) -> None:
    layers = copy.deepcopy(DENSE)
    layers[0][field] = value
    with pytest.raises(InputError) as caught:
        model(layers, inputs=[{"name": "x", "shape": [1, 4]}])
    assert caught.value.field == f"layers[0].{field}"


@pytest.mark.parametrize(("field", "value", "named"), [
    ("array__rows", True, "array.rows"), ("array__rows", "32", "array.rows"),
    ("array__rows", 32.0, "array.rows"), ("sram__double_buffered", 1, "sram.double_buffered"),
    ("clock_mhz", "1000", "clock_mhz"), ("clock_mhz", 1e-300, "clock_mhz"),
    ("clock_mhz", 5e-324, "clock_mhz"), ("clock_mhz", float("nan"), "clock_mhz"),
    ("dram__latency_ns", 5e-324, "dram.latency_ns"),
    ("sram__ifmap_kib", 1e-9, "sram.ifmap_kib"), ("vector__lanes", 4.0, "vector.lanes"),
    ("energy__mac_pj", {"int8": float("nan")}, "energy.mac_pj.int8"),
    ("energy__static_mw", float("inf"), "energy.static_mw"),
])
def test_hardware_fields_are_strict_and_bounded(field: str, value: object, named: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_hardware(_hw(**{field: value}), "hw.toml")
    assert caught.value.field == named


def test_denormal_bandwidth_is_refused_naming_the_field(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(CASES / "gemm_1x1x4.csv"), "--hw",
                 str(CASES / "bandwidth_denormal.toml")])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.startswith(
        f"simaccel: {CASES / 'bandwidth_denormal.toml'}: dram.bytes_per_cycle: ")


def test_energy_table_any_order_positive_distinct() -> None:
    points = [[8, 10.0], [32, 20.0], [1024, 100.0]]
    tables = [energy_table(parse_hardware(_hw(energy__sram_access_pj=p), "e.toml"))
              for p in (points, points[::-1], [points[1], points[2], points[0]])]
    assert {t.sram_pj_per_byte(64) for t in tables} == {tables[0].sram_pj_per_byte(64)}
    assert tables[0].sram_pj_per_byte(32) == pytest.approx(20 / 8)
    with pytest.raises(InputError, match="given twice") as caught:
        parse_hardware(_hw(energy__sram_access_pj=[[8, 10.0], [8, 12.0]]), "e.toml")
    assert caught.value.field == "energy.sram_access_pj"
    # read at the config's 64 KiB buffers, nearly equal sizes extrapolate to overflow
    with pytest.raises(InputError, match="pJ per byte for the 64 KiB") as caught:
        energy_table(parse_hardware(_hw(energy__sram_access_pj=[[8, 10], [8 + 1e-9, 100]]),
                                    "e.toml"))
    assert caught.value.field == "energy.sram_access_pj"
    with pytest.raises(InputError) as caught:
        simaccel.load_hardware(CASES / "energy_zero_pj.toml")
    assert caught.value.field == "energy.sram_access_pj[0][1]"


def test_duplicate_keys_and_non_json_numbers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"format": "simaccel-model/1", "name": "a", "name": "b"}')
    with pytest.raises(InputError, match="duplicate key 'name'"):
        simaccel.load_model(path)
    doc = json.dumps({"format": "simaccel-model/1", "name": "t", "inputs": [
        {"name": "x", "shape": [1, 4]}], "layers": [
        {"name": "m", "op": "matmul", "inputs": ["x", "x"], "transpose_b": True, "scale": 1}]})
    path.write_text(doc.replace('"scale": 1', '"scale": NaN'))
    with pytest.raises(InputError, match="NaN is not a JSON number"):
        simaccel.load_model(path)


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), 0.0, 1e-300, 1e200])
def test_matmul_scale_must_be_finite_and_sane(scale: float) -> None:
    with pytest.raises(InputError) as caught:
        model([{"name": "m", "op": "matmul", "inputs": ["x", "x"], "transpose_b": True,
                "scale": scale}], inputs=[{"name": "x", "shape": [1, 4]}])
    assert caught.value.field == "layers[0].scale"


def _write_model(tmp_path: Path) -> Path:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"format": "simaccel-model/1", "name": "t", "inputs": [
        {"name": "x", "shape": [1, 4]}], "layers": DENSE, "weights": "w.npz"}))
    return path


@pytest.mark.parametrize(("content", "field", "words"), [
    (b"", "", "not a readable .npz"),
    (b"PK\x03\x04 this is not a zip", "", "not a readable .npz"),
    ({}, "", "holds no arrays"),
    ({"fc.kernel": np.full((4, 3), np.nan), "fc.bias": np.zeros(3)}, "fc.kernel", "NaN"),
    ({"fc.kernel": np.ones((4, 3)), "fc.bias": np.array([0, np.inf, 0])}, "fc.bias",
     "infinity"),
    ({"fc.kernel": np.array([["a"] * 3] * 4), "fc.bias": np.zeros(3)}, "fc.kernel",
     "real numbers"),
])
def test_bad_weight_files_exit_2_naming_the_file(tmp_path: Path, content: object, field: str,
                                                 words: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = _write_model(tmp_path)
    weights = tmp_path / "w.npz"
    if isinstance(content, bytes):
        weights.write_bytes(content)
    else:
        np.savez(weights, **content)
    code = main(["simulate", str(path)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    where = f"{weights}: {field}: " if field else f"{weights}: "
    assert captured.err.startswith(f"simaccel: {where}"), captured.err
    assert words in captured.err


def test_a_huge_name_gives_one_short_line(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.json"
    name = "n" * 100_000
    path.write_text(json.dumps({"format": "simaccel-model/1", "name": "t", "inputs": [
        {"name": "x", "shape": [1, 4]}], "layers": [
        {"name": "fc", "op": "dense", "inputs": [name], "units": 3}]}))
    assert main(["simulate", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert len(captured.err) < 1200
    assert "layers[0].inputs[0]" in captured.err
    # whatever a message quotes, the line stays bounded, keeping both ends of a long part
    line = str(InputError("f" * 5000, "layers[0]", f"no layer named {name!r}\nat all"))
    assert len(line) < 1200 and "\n" not in line
    assert line.startswith("fff") and "nnn...nnn" in line and line.endswith("at all")


def test_simulate_checks_the_inputs_it_is_given() -> None:
    net = model([{"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 2, "kernel": 3}])
    hw = simaccel.load_hardware("gemmini")
    good = np.ones((1, 8, 8, 4))
    assert simaccel.simulate(net, hw, inputs={"x": good}).to_dict()["layers"][0][
        "check"]["status"] == "pass"
    for inputs, field, words in [
        ({"y": good}, "'y'", "no input of that name"),
        ({}, "'x'", "missing"),
        ({"x": good.transpose(0, 3, 1, 2)}, "'x'", "shape [1, 4, 8, 8] is not the declared"),
        ({"x": good.reshape(-1)}, "'x'", "shape [256] is not"),
        ({"x": np.array(["a"] * 256).reshape(1, 8, 8, 4)}, "'x'", "not real numbers"),
        ({"x": np.full((1, 8, 8, 4), np.nan)}, "'x'", "NaN"),
    ]:
        with pytest.raises(InputError) as caught:
            simaccel.simulate(net, hw, inputs=inputs)
        assert (caught.value.source, caught.value.field) == ("simulate(inputs=...)", field)
        assert words in caught.value.message


def test_default_check_is_bounded_by_memory() -> None:
    """A batch-1 dense layer of 2^28 weights is 268 M MACs (under the MACs bound) but its
    check holds the weights three times in float64: 6 GiB, over the 1 GiB budget."""
    big = prepare(model([{"name": "fc", "op": "dense", "inputs": ["x"], "units": 1 << 14,
                          "bias": False}], inputs=[{"name": "x", "shape": [1, 1 << 14]}]))
    assert numerics_bytes(big.graph, big.kernels) == 8 * (3 * 2**28 + 2 * 2 * 2**14
                                                          + 2 * (2**14 + 2**14))
    assert numerics_bytes(big.graph, big.kernels) > CHECK_BY_DEFAULT_MAX_BYTES
    assert not check_by_default(big.graph, big.kernels)
    small = prepare(model(DENSE, inputs=[{"name": "x", "shape": [1, 4]}]))
    # weights 12 ×3, tensors x 4 + fc 3 ×2, GEMM 1×(4+3) ×2
    assert numerics_bytes(small.graph, small.kernels) == 8 * (36 + 14 + 14)
    assert check_by_default(small.graph, small.kernels)


@pytest.mark.parametrize("layers", [
    [{"name": f"r{i}", "op": "relu", "inputs": ["x"]} for i in range(8)]
    + [{"name": "c", "op": "concat", "inputs": [f"r{i}" for i in range(8)]}],
    [{"name": "a", "op": "add", "inputs": ["x", "x"]}, {"name": "b", "op": "add",
                                                        "inputs": ["a", "x"]}],
    [{"name": "s", "op": "softmax", "inputs": ["x"]}],
])
def test_the_check_stays_within_its_memory_estimate(layers) -> None:
    """Issue 13, item 8: the default check is bounded by `numerics_bytes`, which must hold
    what the check really allocates. A fresh tester found vector-heavy models (a fan-out of
    eight relus into a concat, chains of adds, softmax) peaking at about twice the estimate,
    which then let a 2 GB check run by default. Measured with tracemalloc (numpy's arrays
    included) over the whole checked simulation."""
    import tracemalloc

    net = model(layers, inputs=[{"name": "x", "shape": [1, 96, 96, 16]}])
    prepared = prepare(net)
    estimate = numerics_bytes(prepared.graph, prepared.kernels)
    hw = simaccel.load_hardware("scalesim_default")
    tracemalloc.start()
    try:
        simaccel.simulate(net, hw, check=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= estimate, (peak, estimate)
