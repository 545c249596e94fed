"""The Program (docs/architecture.md): what it contains, that the engine honours it, and that
the numerics execute it — a faulted Program fails the check."""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simaccel
from simaccel.frontends.hardware_toml import parse_hardware
from simaccel.mapping import compile_program
from simaccel.numerics import check, weights
from simaccel.pipeline import input_elements, prepare
from simaccel.program import Opcode, Program, Unit
from simaccel.schedule import build_schedule
from tests.helpers import model, shipped_hw_dict

ROOT = Path(__file__).resolve().parent.parent


@cache
def _compiled(workload: str, hw_name: str):
    prepared = prepare(simaccel.load_model(ROOT / "workloads" / f"{workload}.json"))
    hw = simaccel.load_hardware(hw_name)
    schedule = build_schedule(prepared.kernels, hw, exact=True)
    program, _ = compile_program(schedule, input_elements(prepared.graph),
                                 prepared.graph.model.outputs)
    return prepared, schedule, program


def _checks(prepared, schedule, program: Program):
    graph = prepared.graph
    params = weights.model_params(graph, graph.model.weights)
    return check.run(graph, schedule, program, params, weights.input_tensors(graph)).checks


# --- numerics execute the Program -------------------------------------------------------------

def _kernel_with_tiles(program: Program) -> int:
    """A GEMM kernel with several loads and K split or several output blocks."""
    counts: dict[int, int] = {}
    for ins in program.instructions:
        if ins.op is Opcode.MATMUL:
            counts[ins.kernel] = counts.get(ins.kernel, 0) + 1
    return max(counts, key=lambda k: (counts[k], -k))


def _fault(program: Program, kind: str) -> tuple[Program, int]:
    kernel = _kernel_with_tiles(program)
    mine = [i for i in program.instructions if i.kernel == kernel]
    loads = [i for i in mine if i.op is Opcode.LOAD]
    matmuls = [i for i in mine if i.op is Opcode.MATMUL]
    stores = [i for i in mine if i.op in (Opcode.STORE, Opcode.MOVE)]
    rest = list(program.instructions)
    if kind == "drop load":
        rest.remove(loads[len(loads) // 2])
    elif kind == "drop matmul":
        rest.remove(matmuls[-1])
    elif kind == "drop store":  # the last row block never reaches the output
        rest.remove(stores[-1])
    elif kind == "duplicate matmul":
        rest.insert(rest.index(matmuls[-1]), matmuls[-1])
    elif kind == "duplicate store":
        rest.insert(rest.index(stores[0]), stores[0])
    elif kind == "misaddress load":  # the same size of block, one row further on
        load = next(i for i in loads if i.block.rows[0] > 0)
        block = replace(load.block, rows=(load.block.rows[0] - 1, load.block.rows[1] - 1))
        rest[rest.index(load)] = replace(load, block=block)
    return replace(program, instructions=tuple(rest)), kernel


FAULTS = ("drop load", "drop matmul", "drop store", "duplicate matmul", "duplicate store",
          "misaddress load")


@pytest.mark.parametrize("kind", FAULTS)
def test_a_faulted_program_fails_the_numerics_check(kind: str) -> None:
    """mnist_cnn on the 8×8 teaching array: the unfaulted Program passes every check
    bit-exactly; one dropped, duplicated or misaddressed instruction fails its kernel."""
    prepared, schedule, program = _compiled("mnist_cnn", "teaching_8x8")
    assert all(c.status == "pass" for c in _checks(prepared, schedule, program))
    faulted, kernel = _fault(program, kind)
    assert _checks(prepared, schedule, faulted)[kernel].status == "fail"


def test_matmuls_read_what_the_loads_brought() -> None:
    """Every matmul reads regions loaded earlier in the same kernel (or a resident tensor),
    and every output block is stored once."""
    _, _, program = _compiled("resnet18", "gemmini")
    seen: dict[int, int] = {}
    for ins in program.instructions:
        if ins.op is Opcode.LOAD:
            seen[ins.index] = ins.kernel
        if ins.op is Opcode.MATMUL:
            assert all(r < 0 or seen[r] == ins.kernel for r in ins.reads)
            assert all(d < ins.index for d in ins.deps)


# --- residency and prefetch -------------------------------------------------------------------

def test_resnet50_on_tpu_v1_moves_little_more_than_compulsory_traffic() -> None:
    """Activations stay in the 24 MiB Unified Buffer: DRAM traffic ≤ 1.1 × (weights and
    biases once, the input once, the logits once)."""
    prepared = prepare(simaccel.load_model(ROOT / "workloads" / "resnet50.json"))
    hw = simaccel.load_hardware("tpu_v1")
    report = simaccel.simulate(simaccel.load_model(ROOT / "workloads" / "resnet50.json"), hw,
                               check=False)
    gemms = [k for k in prepared.kernels if k.kind == "gemm"]
    weight_bytes = sum(k.filter_elements + 4 * k.bias_elements for k in gemms)
    io = sum(math.prod(t.shape) for t in prepared.graph.model.inputs) + sum(
        math.prod(prepared.graph.shapes[name]) for name in prepared.graph.model.outputs)
    total = report.to_dict()["total"]
    moved = total["dram_read_bytes"] + total["dram_write_bytes"]
    assert weight_bytes + io <= moved <= 1.1 * (weight_bytes + io)
    layers = report.to_dict()["layers"]
    assert all(row["memory"]["spilled_bytes"] == 0 for row in layers)
    assert sum(bool(row["memory"]["resident"]) for row in layers) >= len(layers) - 1


def test_split_buffers_send_activations_through_dram() -> None:
    """SCALE-Sim's split ifmap/filter/ofmap buffers keep nothing between layers: every
    intermediate activation is spilled, as SCALE-Sim assumes."""
    report = simaccel.simulate(simaccel.load_model(ROOT / "workloads" / "mnist_cnn.json"),
                               simaccel.load_hardware("scalesim_default"), check=False)
    rows = report.to_dict()["layers"]
    assert all(not row["memory"]["resident"] for row in rows)
    assert rows[0]["memory"]["spilled_bytes"] == rows[0]["dram_write_bytes"] > 0


def test_next_kernels_weights_load_before_this_kernel_ends() -> None:
    """Weight loads wait for nothing but space: on ResNet-18/gemmini most kernels' first
    weight load starts before the kernel before them has stored its last output."""
    report = simaccel.simulate(simaccel.load_model(ROOT / "workloads" / "resnet18.json"),
                               simaccel.load_hardware("gemmini"), check=False)
    _, _, program = _compiled("resnet18", "gemmini")
    trace = report.results.trace
    weight_loads: dict = {}
    for ins in program.instructions:
        if ins.unit is Unit.DMA_WEIGHTS and ins.kernel >= 0:
            weight_loads.setdefault(ins.kernel, ins)
    first_read = {}
    for e in trace:
        if e.unit == "dram_read" and e.layer in weight_loads and e.layer not in first_read \
                and e.tile == weight_loads[e.layer].tile:
            first_read[e.layer] = e.start
    compute_end = {}
    for e in trace:
        if e.unit in ("array", "vector"):
            compute_end[e.layer] = max(compute_end.get(e.layer, 0), e.end)
    early = [k for k in first_read if k > 0 and k - 1 in compute_end
             and first_read[k] < compute_end[k - 1]]
    assert len(early) >= 0.8 * len(first_read)


# --- overlap and cores ------------------------------------------------------------------------

def _branches() -> simaccel.model.Model:
    return model([
        {"name": "a", "op": "conv2d", "inputs": ["x"], "filters": 64, "kernel": [3, 3],
         "padding": "same"},
        {"name": "b", "op": "conv2d", "inputs": ["x"], "filters": 64, "kernel": [3, 3],
         "padding": "same"},
        {"name": "sum", "op": "add", "inputs": ["a", "b"]},
    ], inputs=[{"name": "x", "shape": [1, 32, 32, 32]}])


def _cores_hw(cores: int):
    doc = shipped_hw_dict("teaching_8x8")
    return parse_hardware({**doc, "chip": {"cores": cores}}, "<test>")


def test_two_independent_branches_on_two_cores_take_the_max_not_the_sum() -> None:
    one = simaccel.simulate(_branches(), _cores_hw(1), check=False)
    two = simaccel.simulate(_branches(), _cores_hw(2), check=True)
    rows = {r["name"]: r for r in one.to_dict()["layers"]}
    branch = max(rows["a"]["compute_cycles"], rows["b"]["compute_cycles"])
    both = rows["a"]["compute_cycles"] + rows["b"]["compute_cycles"]
    cycles_two = two.to_dict()["total"]["cycles"]
    assert branch <= cycles_two < 0.6 * one.to_dict()["total"]["cycles"]
    assert one.to_dict()["total"]["cycles"] >= both
    program = simaccel.compile(_branches(), _cores_hw(2))
    assert set(program.kernel_cores[:2]) == {0, 1}
    assert two.to_dict()["layers"][2]["check"]["status"] == "pass"


# --- the listing and the CLI ------------------------------------------------------------------

def test_program_listing_names_units_dependencies_and_bytes() -> None:
    program = simaccel.compile(simaccel.load_model(ROOT / "workloads" / "mnist_cnn.json"),
                               simaccel.load_hardware("tpu_v1"))
    text = program.listing(0, 2)
    assert "; kernel 0 conv1 (conv2d)" in text and "; kernel 2" not in text
    assert "c0.array   matmul" in text and "c0.dma_w   load" in text
    assert "← #" in text and "takes" in text
    by_index = {i.index: i for i in program.instructions}
    assert {by_index[i].op for i in program.queue(0, Unit.ARRAY)} == {Opcode.MATMUL}
    assert {by_index[i].op for i in program.queue(0, Unit.DMA_WEIGHTS)} == {Opcode.LOAD}


def test_cli_program_prints_the_listing(capsys) -> None:
    from simaccel.cli import main

    assert main(["program", str(ROOT / "workloads" / "mnist_cnn.json"), "--hw", "gemmini",
                 "--layers", "0:0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("; model inputs") and "; kernel 1" not in out


# --- array and vector details -----------------------------------------------------------------

def test_overlapped_weight_preload_hides_the_next_folds_shift() -> None:
    """A 64 × 32 · 32 × 16 dense layer on an 8×8 WS array: 4 × 2 = 8 folds of M = 64 rows
    streamed. Serial: 8 × (64 + 8 + 8 + 8 − 2) − 1 = 687 cycles. Overlapped, every fold
    after the first hides its R = 8-cycle shift behind the previous stream: 687 − 7 × 8."""
    layer = [{"name": "fc", "op": "dense", "inputs": ["x"], "units": 16}]
    net = model(layer, inputs=[{"name": "x", "shape": [64, 32]}])
    doc = shipped_hw_dict("teaching_8x8")
    doc = {**doc, "array": {**doc["array"], "dataflow": "ws"},
           "sram": {"ifmap_kib": 64, "filter_kib": 64, "ofmap_kib": 64},
           "dram": {"bytes_per_cycle": float("inf"), "latency_ns": 0}}
    serial = parse_hardware(doc, "<t>")
    overlapped = parse_hardware({**doc, "array": {**doc["array"],
                                                  "weight_preload": "overlapped"}}, "<t>")
    cycles = [simaccel.simulate(net, hw, check=False).to_dict()["layers"][0]["compute_cycles"]
              for hw in (serial, overlapped)]
    assert cycles == [687, 687 - 7 * 8]


def test_the_vector_unit_runs_at_its_own_lane_count() -> None:
    """A ReLU of 8·8·4 = 256 elements (1 op each) on a unit of 3 lanes, beside an 8-column
    array: ⌈256 / 3⌉ = 86 cycles (one tile), not 256 / 8."""
    net = model([{"name": "r", "op": "relu", "inputs": ["x"]}])
    doc = shipped_hw_dict("teaching_8x8")
    hw = parse_hardware({**doc, "vector": {"lanes": 3},
                         "sram": {"ifmap_kib": 64, "filter_kib": 64, "ofmap_kib": 64}}, "<t>")
    row = simaccel.simulate(net, hw, check=False).to_dict()["layers"][0]
    assert row["tiles"] == 1 and row["compute_cycles"] == 86


def test_each_operand_fills_its_own_buffer() -> None:
    """A 4 × 300 · 300 × 8 dense layer loads 1,200 input bytes into the ifmap buffer and
    2,400 weight bytes (+ 32 bias bytes) into the filter buffer: never the other way."""
    net = model([{"name": "fc", "op": "dense", "inputs": ["x"], "units": 8}],
                inputs=[{"name": "x", "shape": [4, 300]}])
    hw = simaccel.load_hardware("scalesim_default")
    traffic = simaccel.simulate(net, hw, check=False).results.layers[0].traffic
    assert traffic.ifmap_write_bytes == 1200
    assert traffic.filter_write_bytes == 2400 + 8 * 4


def test_the_trace_has_a_track_per_core_unit_and_names_input_loads() -> None:
    report = simaccel.simulate(_branches(), _cores_hw(2), check=False)
    trace = report.trace_events()
    names = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert "systolic array" in names and "systolic array (core 1)" in names
    resident = simaccel.simulate(simaccel.load_model(ROOT / "workloads" / "mnist_cnn.json"),
                                 simaccel.load_hardware("tpu_v1"), check=False)
    first = min((e for e in resident.trace_events()["traceEvents"] if e["ph"] == "X"),
                key=lambda e: e["ts"])
    assert first["args"]["layer"] == "model input" and first["args"]["bytes"] == 28 * 28


@pytest.mark.parametrize(("edit", "field", "phrase"), [
    (('holds = ["filter"]', 'holds = ["ifmap"]'), "memories", "exactly one memory"),
    (("stream_kib = 4096", "stream_kib = 40960"), "memories[0]", "exceeds kib"),
    (("resident = true", "resident = 1"), "memories[0].resident", "boolean"),
    (("[sram]\ndouble_buffered = true", "[sram]\ndouble_buffered = true\nifmap_kib = 3"),
     "sram.ifmap_kib", "not both"),
])
def test_a_bad_memory_description_is_one_line_naming_the_field(tmp_path, capsys, edit, field,
                                                               phrase) -> None:
    from simaccel.cli import main

    text = (ROOT / "hw_configs" / "tpu_v1.toml").read_text()
    assert edit[0] in text
    path = tmp_path / "chip.toml"
    path.write_text(text.replace(edit[0], edit[1]))
    assert main(["simulate", str(ROOT / "workloads" / "mnist_cnn.json"), "--hw", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert f"chip.toml: {field}" in captured.err and phrase in captured.err


# --- found by trying it as a newcomer ---------------------------------------------------------

def test_block_shares_are_never_negative_and_add_up() -> None:
    """A 2-byte operand cut into blocks of a 3 × 4 grid: no block gets −1 bytes (the
    rounding of a 2-D inclusion–exclusion once gave a 1×7 array −1-byte loads and a negative
    delay), and the blocks of any grid add up to the operand."""
    from simaccel.schedule import _share

    for total, rows, cols in ((2, 3, 4), (7, 5, 3), (1000, 7, 9)):
        shares = [_share(total, r, r + 1, rows, c, c + 1, cols)
                  for r in range(rows) for c in range(cols)]
        assert min(shares) >= 0 and sum(shares) == total


def test_more_cores_never_make_a_chain_slower() -> None:
    """mnist_cnn is a chain: spreading it over cores only adds DRAM round trips, so the
    mapping keeps the one-core plan; the report counts every core's PEs and area."""
    net = simaccel.load_model(ROOT / "workloads" / "mnist_cnn.json")
    one, three = (simaccel.simulate(net, _cores_hw(n), check=False).to_dict() for n in (1, 3))
    assert three["total"]["cycles"] <= one["total"]["cycles"]
    # BERT's independent q/k/v projections spread over cores cost DRAM round trips that
    # make the spread plan slower on tpu_v1; the one-core plan must win
    bert = simaccel.load_model(ROOT / "workloads" / "bert_base_encoder.json")
    doc = shipped_hw_dict("tpu_v1")
    cycles = [simaccel.simulate(bert, parse_hardware({**doc, "chip": {"cores": n}}, "<t>"),
                                check=False).to_dict()["total"]["cycles"] for n in (1, 2)]
    assert cycles[1] <= cycles[0]
    assert three["hardware"]["derived"]["pes"] == 3 * one["hardware"]["derived"]["pes"]
    assert three["hardware"]["area_mm2"]["total"] == pytest.approx(
        3 * one["hardware"]["area_mm2"]["total"])
    assert three["total"]["mapping_efficiency"] == one["total"]["mapping_efficiency"]
    assert three["total"]["utilization"] <= 1 / 3 + 1e-12


def test_buffer_sizes_of_a_shared_memory_cannot_disagree() -> None:
    with pytest.raises(simaccel.InputError, match="sram.ifmap_kib and sram.filter_kib"):
        simaccel.vary(simaccel.load_hardware("gemmini"),
                      {"sram.ifmap_kib": 32, "sram.filter_kib": 128})


def test_a_too_small_streaming_share_is_named_as_the_user_wrote_it(tmp_path, capsys) -> None:
    """A share of half a byte holds nothing: refused, naming the field as written (a share of
    2 bytes runs: a pooling or a reduction streams its input through it)."""
    from simaccel.cli import main

    text = (ROOT / "hw_configs" / "gemmini.toml").read_text().replace(
        "stream_kib = 128", "stream_kib = 0.0005")
    (tmp_path / "g.toml").write_text(text)
    assert main(["simulate", str(ROOT / "workloads" / "mnist_cnn.json"), "--hw",
                 str(tmp_path / "g.toml"), "--no-check"]) == 2
    assert "g.toml: memories[0].stream_kib:" in capsys.readouterr().err


def test_an_empty_layer_range_is_refused(capsys) -> None:
    from simaccel.cli import main

    assert main(["program", str(ROOT / "workloads" / "mnist_cnn.json"), "--layers", "5:2"]) == 2
    assert "--layers" in capsys.readouterr().err


# --- any memory hierarchy, any number of cores ------------------------------------------------

@st.composite
def _chips(draw: st.DrawFn):
    """A small branching CNN and a chip: split buffers or a resident memory (shared or not),
    1–3 cores, serial or overlapped preload, any dataflow, small to large memories."""
    side = draw(st.sampled_from([2, 4, 8]))
    resident = draw(st.booleans())
    kib = draw(st.sampled_from([0.5, 2, 16, 256]))
    shared = draw(st.booleans())
    doc = {"name": "chip", "clock_mhz": 1000,
           "array": {"rows": side, "cols": draw(st.sampled_from([side, 2 * side])),
                     "dataflow": draw(st.sampled_from(["os", "ws", "is"])),
                     "weight_preload": draw(st.sampled_from(["serial", "overlapped"]))},
           "sram": {"double_buffered": draw(st.booleans())},
           "chip": {"cores": draw(st.integers(1, 3))},
           "dram": {"bytes_per_cycle": draw(st.sampled_from([1, 8, float("inf")])),
                    "latency_ns": draw(st.sampled_from([0, 50]))},
           "vector": {"lanes": draw(st.sampled_from([1, 3, 8]))}}
    first = {"name": "buffer", "kib": kib * (4 if resident else 1), "resident": resident,
             "holds": ["ifmap", "filter"] if shared else ["ifmap"]}
    if resident:
        first["stream_kib"] = kib
    doc["memories"] = [first, {"name": "acc", "kib": kib, "holds": ["ofmap"]}] + (
        [] if shared else [{"name": "weights", "kib": kib, "holds": ["filter"]}])
    width = draw(st.integers(1, 6))
    layers = [
        {"name": "a", "op": "conv2d", "inputs": ["x"], "filters": width, "kernel": 3,
         "padding": "same", "activation": "relu"},
        {"name": "b", "op": "conv2d", "inputs": ["x"], "filters": width, "kernel": 1},
        {"name": "s", "op": "add", "inputs": ["a", "b"]},
        {"name": "p", "op": "maxpool2d", "inputs": ["s"], "pool": 2},
        {"name": "f", "op": "flatten", "inputs": ["p"]},
        {"name": "d", "op": "dense", "inputs": ["f"], "units": draw(st.integers(1, 9))},
    ]
    size = draw(st.integers(4, 8))
    return model(layers, inputs=[{"name": "x", "shape": [1, size, size, 3]}]), doc


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_chips())
def test_any_memory_hierarchy_runs_checks_and_keeps_the_invariants(case) -> None:
    """No deadlock or internal error; every kernel's numerics pass bit-exactly; cycles cover
    the MACs on the chip's PEs and the DRAM bytes at its bandwidth; utilization ≤ 1; DRAM
    traffic covers the weights, the input and the output once."""
    net, doc = case
    hw = parse_hardware(doc, "<chip>")
    try:
        report = simaccel.simulate(net, hw, check=True).to_dict()
    except simaccel.InputError as exc:  # a memory that holds nothing is a valid answer
        assert "cannot hold" in exc.message or "too small" in exc.message
        return
    total = report["total"]
    pes = report["hardware"]["derived"]["pes"]
    assert all(row["check"]["status"] == "pass" for row in report["layers"])
    assert total["cycles"] >= total["macs"] / pes
    dram = total["dram_read_bytes"] + total["dram_write_bytes"]
    bandwidth = doc["dram"]["bytes_per_cycle"]
    assert total["cycles"] >= dram / bandwidth
    for row in report["layers"]:
        assert row["cycles"] >= row["compute_cycles"] >= 0 and row["stall_cycles"] >= 0
        assert row["utilization"] <= 1
    weights = sum(k.filter_elements for k in prepare(net).kernels if k.kind == "gemm")
    assert total["dram_read_bytes"] >= weights + net.inputs[0].shape[1] ** 2 * 3
