"""Files read as the tools that wrote them meant them (issue 13): an ONNX model onnxruntime
cannot run is one line, an import reloads and simulates, 1-D MatMul operands as numpy reads
them, SCALE-Sim .cfg keys simaccel cannot model refused, topology rows reported in file
order."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest

import simaccel
from simaccel.cli import main
from simaccel.compare import onnx_outputs, simaccel_inputs
from simaccel.errors import InputError
from simaccel.frontends.model_json import check_weights, may_be_infinite, parse_model
from simaccel.frontends.scalesim_cfg_keys import KEYS
from simaccel.graph import build_graph
from simaccel.model import Dense, OnnxOp, TensorSpec
from simaccel.pipeline import simulate
from tests.onnx_builders import GraphBuilder, onnx_macs
from tests.test_onnx_exports import EXPORTS, FP32, stored
from tests.test_onnx_kinds import check_against_onnxruntime

_DATA = Path(__file__).resolve().parent / "data"


def test_a_model_onnxruntime_cannot_run_is_one_line_with_its_reason(capfd) -> None:
    """Conv auto_pad=SAME_UPPER with dilation 2: onnxruntime 1.x refuses it at run time
    ("Dilation not supported for AutoPadType::SAME_UPPER"); compare says so on one line,
    exit 2, and onnxruntime's own colored log line never reaches the terminal."""
    code = main(["compare", str(_DATA / "onnxruntime_refuses" / "conv_dil_same_s2.onnx")])
    out, err = capfd.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "\x1b[" not in err
    assert err.startswith("simaccel: ") and "conv_dil_same_s2.onnx" in err
    assert "onnxruntime cannot run this model: Conv node" in err
    assert "Dilation not supported" in err and "ONNXRuntimeError" not in err


@pytest.mark.parametrize(("name", "mask"), [("hf_gpt2_legacy", "model/h.0/attn/Add.c1"),
                                            ("hf_gpt2_masked_legacy",
                                             "model/h.0/attn/Where.c2")])
def test_an_import_with_infinite_mask_constants_reloads_simulates_and_agrees(
        name: str, mask: str, tmp_path: Path, capsys) -> None:
    """GPT-2's exported causal mask is a folded constant holding −inf (an ``Add``'s, a
    ``Where``'s fill): what ``import`` writes, ``simulate`` reads, and the reloaded model's
    fp32 run equals onnxruntime's stored outputs (rtol 1e-4 of the largest magnitude)."""
    out = tmp_path / "m.json"
    assert main(["import", str(EXPORTS / f"{name}.onnx"), "-o", str(out)]) == 0
    with np.load(tmp_path / "m.npz") as written:
        assert np.isneginf(written[mask]).any()  # the case this test is about
    assert main(["simulate", str(out)]) == 0
    assert "holds infinity" not in capsys.readouterr().err
    feeds, want = stored(name)
    imported, reloaded = simaccel.load_model(EXPORTS / f"{name}.onnx"), simaccel.load_model(out)
    assert reloaded.weights is not None and np.isneginf(reloaded.weights[mask]).any()
    report = simulate(reloaded, FP32, check=True, inputs=simaccel_inputs(imported, feeds))
    assert all(c.status == "pass" for c in report.numerics.checks)
    got = onnx_outputs(imported, report.numerics.outputs)  # the ONNX names, by the import
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=0,
                                   atol=1e-4 * float(np.abs(value).max()) + 1e-30)


def test_learned_weights_stay_finite_where_mask_constants_may_not() -> None:
    """±inf is allowed in an ONNX op's constants only: a dense kernel holding it is still
    refused, naming the key, and NaN is refused even in a mask."""
    dense = Dense(name="fc", op="dense", inputs=("x",), units=3)
    mask = OnnxOp(name="m", op="eltwise", onnx_op="Add", inputs=("x",), consts=((1, (4,)),),
                  shape=(1, 4))
    assert may_be_infinite(mask) and not may_be_infinite(dense)
    check_weights(np.array([0.0, -np.inf]), "w.npz", "m.c1", infinite_ok=True)
    with pytest.raises(InputError, match="holds NaN"):
        check_weights(np.array([0.0, np.nan]), "w.npz", "m.c1", infinite_ok=True)
    with pytest.raises(InputError, match="holds infinity") as caught:
        check_weights(np.array([0.0, np.inf]), "w.npz", "fc.kernel")
    assert caught.value.field == "fc.kernel"


def _vector_products() -> dict[str, tuple[Callable, list]]:
    """MatMul with a 1-D operand on either side, constant or computed, batched or not:
    (builder of the output, the model's inputs)."""
    return {
        "vector_times_constant": (lambda b: b.op("MatMul", ["x", b.weight((6, 4))]),
                                  [("x", [6])]),
        "matrix_times_constant_vector": (lambda b: b.op("MatMul", ["x", b.weight((6,))]),
                                         [("x", [3, 6])]),
        "constant_vector_times_matrix": (lambda b: b.op("MatMul", [b.weight((6,)), "x"]),
                                         [("x", [2, 6, 4])]),
        "vector_times_batched_matrix": (lambda b: b.op("MatMul", ["v", "x"]),
                                        [("v", [6]), ("x", [2, 6, 4])]),
        "batched_matrix_times_vector": (lambda b: b.op("MatMul", [
            b.op("Relu", ["x"]), "v"]), [("x", [2, 3, 6]), ("v", [6])]),
    }


@pytest.mark.parametrize("case", sorted(_vector_products()))
def test_matmul_with_a_1d_operand_as_numpy_reads_it(case: str, tmp_path: Path) -> None:
    """ONNX MatMul "behaves like numpy.matmul": a 1-D left operand is a row, a 1-D right
    one a column, the added axis removed after. Outputs equal onnxruntime's and MACs the
    graph's own count (x[6]·W[6,4]: 24)."""
    build, inputs = _vector_products()[case]
    b = GraphBuilder(seed=21)
    proto = b.model(inputs, [build(b)], 17)
    check_against_onnxruntime(proto, tmp_path)
    if case == "vector_times_constant":
        assert onnx_macs(proto) == 24


def test_a_dot_product_is_refused_naming_the_onnx_node(tmp_path: Path, capsys) -> None:
    """Two 1-D operands make a rank-0 scalar, which simaccel holds no tensor of: refused
    naming the ONNX file and node, not a model.json field."""
    b = GraphBuilder()
    path = tmp_path / "dot.onnx"
    onnx.save(b.model([("u", [6]), ("v", [6])], [b.op("MatMul", ["u", "v"], "dot")], 17),
              path)
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"simaccel: {path}: ") and "dot" in err and "1-D" in err
    assert "layers[" not in err


def test_a_shape_refusal_of_an_onnx_import_names_the_node(tmp_path: Path) -> None:
    """Every layer of an import knows the ONNX node it was made for, and a shape that does
    not fit names that node, never a ``layers[i]`` field of a model.json nobody wrote."""
    b = GraphBuilder(seed=2)
    y = b.op("MatMul", ["x", b.weight((6, 4))], "mm")
    path = tmp_path / "m.onnx"
    onnx.save(b.model([("x", [6])], [y], 17), path)
    model = simaccel.load_model(path)
    assert set(model.onnx_nodes) == {layer.name for layer in model.layers}
    assert set(model.onnx_nodes.values()) == {y}
    wrong = dataclasses.replace(model, inputs=(TensorSpec(name="x", shape=(5,)),))
    with pytest.raises(InputError) as caught:
        build_graph(wrong)
    assert caught.value.source == str(path) and caught.value.field == f"node {y}"


_FULL_CFG = _DATA / "example_ideal_8x8_os.cfg"  # every section SCALE-Sim 3.0.0's scale.cfg has


def _cfg(tmp_path: Path, old: str, new: str) -> Path:
    text = _FULL_CFG.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / _FULL_CFG.name  # the name is in the description
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    ("SparsitySupport : false", "SparsitySupport : true", "sparsity.SparsitySupport",
     "sparse compute"),
    ("ReadRequestBuffer", "MemoryBanks : 4\nReadRequestBuffer", "architecture_presets."
     "MemoryBanks", "banked DRAM"),
    ("UseRamulatorTrace: False", "UseRamulatorTrace: True", "run_presets.UseRamulatorTrace",
     "Ramulator"),
    ("IfmapCustomLayout: False", "IfmapCustomLayout: True", "layout.IfmapCustomLayout",
     "custom SRAM layouts"),
    ("FilterCustomLayout: False", "FilterCustomLayout: maybe", "layout.FilterCustomLayout",
     "expected true or false"),
    ("[run_presets]", "[foo]\nbar : 1\n\n[run_presets]", "foo", "unknown section"),
    ("Dataflow : os", "Dataflow : os\nSramRowSize : 8", "architecture_presets.SramRowSize",
     "unknown key"),
])
def test_a_cfg_key_that_would_change_the_result_is_refused(tmp_path: Path, old: str, new: str,
                                                            field: str, words: str,
                                                            capsys) -> None:
    """A .cfg asking for what simaccel does not model (sparse compute, DRAM banks, Ramulator,
    a custom layout) or holding a section or key it does not know is refused naming the
    file, section and key, exit 2, nothing on stdout."""
    path = _cfg(tmp_path, old, new)
    with pytest.raises(InputError) as caught:
        simaccel.load_hardware(path)
    assert (caught.value.source, caught.value.field) == (str(path), field)
    assert words in caught.value.message
    assert main(["simulate", str(_DATA / "setA_gemm_topology.csv"), "--hw", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"simaccel: {path}: {field}: ")


@pytest.mark.parametrize(("old", "new"), [
    ("SparsitySupport : false", "SparsitySupport : no"),
    ("ReadRequestBuffer", "MemoryBanks : 1\nReadRequestBuffer"),
    ("UseRamulatorTrace: False", "UseRamulatorTrace: false"),
    ("IfmapOffset:    0", "IfmapOffset:    123"),
    ("BlockSize : 8", "BlockSize : 4"),
    ("IfmapSRAMBankNum: 1", "IfmapSRAMBankNum: 16"),
    ("[run_presets]", "[network_presets]\nTopologyCsvLoc : \"x.csv\"\n\n[run_presets]"),
])
def test_a_cfg_key_that_changes_nothing_is_accepted(tmp_path: Path, old: str,
                                                    new: str) -> None:
    """Keys at the value that turns their feature off, and keys no value of which changes
    what simaccel reports, load to the same hardware as SCALE-Sim's sample config."""
    assert simaccel.load_hardware(_cfg(tmp_path, old, new)) == simaccel.load_hardware(_FULL_CFG)


def test_every_key_of_scalesims_sample_configs_is_read_or_accepted() -> None:
    """SCALE-Sim 3.0.0's configs/scale.cfg and google_ramulator.cfg hold these sections and
    keys (google's differ only in values): each has a rule in the table."""
    shipped = {
        "general": ["run_name"],
        "architecture_presets": [
            "ArrayHeight", "ArrayWidth", "IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB",
            "IfmapOffset", "FilterOffset", "OfmapOffset", "Bandwidth", "Dataflow",
            "MemoryBanks", "ReadRequestBuffer", "WriteRequestBuffer"],
        "layout": ["IfmapCustomLayout", "IfmapSRAMBankBandwidth", "IfmapSRAMBankNum",
                   "IfmapSRAMBankPort", "FilterCustomLayout", "FilterSRAMBankBandwidth",
                   "FilterSRAMBankNum", "FilterSRAMBankPort"],
        "sparsity": ["SparsitySupport", "SparseRep", "OptimizedMapping", "BlockSize",
                     "RandomNumberGeneratorSeed"],
        "run_presets": ["InterfaceBandwidth", "UseRamulatorTrace"],
    }
    for section, keys in shipped.items():
        assert {k.lower() for k in keys} <= set(KEYS[section]), section


_ORDER_CSV = ("Layer name, M, N, K,\nzeta, 4, 4, 4,\nalpha, 8, 8, 8,\nConv10, 2,2,2,\n"
              "conv9, 2,2,2,\n")


def test_topology_rows_report_in_file_order(tmp_path: Path) -> None:
    """SCALE-Sim runs and reports a topology's rows in file order; so do the table,
    report.json and layers.csv (not by name: Conv10, alpha, conv9, zeta)."""
    path = tmp_path / "order.csv"
    path.write_text(_ORDER_CSV, encoding="utf-8")
    rows = ["zeta", "alpha", "Conv10", "conv9"]
    assert build_graph(simaccel.load_model(path)).order == tuple(rows)
    out = tmp_path / "run"
    assert main(["simulate", str(path), "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [layer["name"] for layer in report["layers"]] == rows
    with (out / "layers.csv").open(encoding="utf-8", newline="") as f:
        assert [row["name"] for row in csv.DictReader(f)] == rows


def test_a_model_json_still_runs_by_its_graph_not_its_listing() -> None:
    """The same independent layers in a model.json run in natural name order whatever the
    listing (tests/test_order.py holds the rest); a listed order that reads ahead is
    refused."""
    def layer(name: str) -> dict:
        return {"name": name, "op": "dense", "inputs": ["x"], "units": 2}

    orders = set()
    for names in (["zeta", "alpha", "Conv10", "conv9"], ["conv9", "Conv10", "alpha", "zeta"]):
        model = parse_model({"format": "simaccel-model/1", "name": "m", "inputs": [
            {"name": "x", "shape": [1, 2]}], "layers": [layer(n) for n in names]})
        assert not model.sequential
        orders.add(build_graph(model).order)
    assert orders == {("Conv10", "alpha", "conv9", "zeta")}  # natural_key, case first
    ahead = dataclasses.replace(model, sequential=True, outputs=("a",), layers=(
        Dense(name="a", op="dense", inputs=("b",), units=2),
        Dense(name="b", op="dense", inputs=("x",), units=2)))
    with pytest.raises(InputError) as caught:
        build_graph(ahead)
    assert caught.value.field == "layers[0].inputs[0]"


@pytest.mark.parametrize("config", ["scalesim_default", "edge_4core"])
def test_topology_rows_run_one_after_another_on_any_chip(tmp_path: Path, config: str) -> None:
    """SCALE-Sim runs a topology's rows one after another; so must simaccel, on a multi-core
    chip too (a fresh tester found four ResNet rows starting at cycle 0 on `edge_4core`, a
    third of the latency, and `partition` showing 0-cycle layers). Rows read nothing of each
    other, so the chain is explicit (`lowering.chain`): each layer's window starts at or
    after the end of the one before it, and the windows add up to the run."""
    import simaccel

    path = tmp_path / "rows.csv"
    path.write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Strides,\n"
        "c1, 30, 30, 3, 3, 16, 32, 1,\nc2, 30, 30, 3, 3, 16, 32, 1,\n"
        "c3, 30, 30, 3, 3, 16, 32, 1,\nc4, 30, 30, 3, 3, 16, 32, 1,\n")
    report = simaccel.simulate(simaccel.load_model(path), simaccel.load_hardware(config),
                               check=False).to_dict()
    layers = report["layers"]
    assert [layer["name"] for layer in layers] == ["c1", "c2", "c3", "c4"]
    for before, after in zip(layers, layers[1:], strict=False):
        assert after["start_cycle"] >= before["end_cycle"]
    assert sum(layer["cycles"] for layer in layers) == report["total"]["cycles"]
