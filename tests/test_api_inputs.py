"""The public API's promise (docs/teaching.md, "What students may use"): bad input raises
`simaccel.InputError` naming the public function called (its ``source``) and the parameter
or config field (its ``field``), checked in signature order and without the CLI's wording;
and a model may be given as a file path, a hardware config as a shipped name or path, with
the same result as the loaded objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simaccel
from simaccel import quant, teaching
from simaccel.domain import DType

ROOT = Path(__file__).resolve().parent.parent
DIGITS = str(ROOT / "workloads" / "digits_cnn.json")
CHIP = "teaching_8x8"      # a shipped config: 8×8 array of int8 MACs
MODEL = simaccel.load_model(DIGITS)
HW = simaccel.load_hardware(CHIP)
INT8 = simaccel.load_hardware("tpu_v1")   # int8 operands: they do not train
GEMM = teaching.gemm_model(4, 8, 3)
FRAME = pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 1.0]})

BAD = [  # (function, where, field, args, kwargs)
    (simaccel.simulate, "simaccel.simulate", "model", (42, HW), {}),
    (simaccel.simulate, "simaccel.simulate", "model", (None, None), {}),  # signature order
    (simaccel.simulate, "simaccel.simulate", "hw", (MODEL, None), {}),
    (simaccel.simulate, "simaccel.simulate", "hw", (MODEL, "tpu_v9"), {}),
    (simaccel.simulate, "simaccel.simulate", "hw", (MODEL, ""), {}),
    (simaccel.simulate, "simaccel.simulate", "check", (MODEL, HW), {"check": "yes"}),
    (simaccel.simulate, "simaccel.simulate", "exact", (MODEL, HW), {"exact": 1}),
    (simaccel.simulate, "simaccel.simulate", "progress", (MODEL, HW), {"progress": 5}),
    (simaccel.compile, "simaccel.compile", "model", (b"x", HW), {}),
    (simaccel.compile, "simaccel.compile", "hw", (MODEL, 3), {}),
    (simaccel.compile, "simaccel.compile", "exact", (MODEL, HW), {"exact": "no"}),
    (simaccel.vary, "simaccel.vary", "hw", (None, {}), {}),
    (simaccel.vary, "simaccel.vary", "array.rowz", (HW, {"array.rowz": 4}), {}),
    (simaccel.vary, "simaccel.vary", "array.rows", (HW, {"array.rows": 0}), {}),
    (simaccel.vary, "simaccel.vary", "changes", (HW, [("array.rows", 4)]), {}),
    (simaccel.vary, "simaccel.vary", "changes", (HW, {"array.rows.x": 4}), {}),
    (simaccel.simulate_step, "simaccel.simulate_step", "model", (None, HW), {}),
    (simaccel.simulate_step, "simaccel.simulate_step", "hw", (MODEL, None), {}),
    (simaccel.simulate_step, "simaccel.simulate_step", "optimizer", (MODEL, HW, "adamw"), {}),
    (simaccel.simulate_step, "simaccel.simulate_step", "batch", (MODEL, HW), {"batch": -1}),
    (simaccel.simulate_step, "simaccel.simulate_step", "batch", (MODEL, HW), {"batch": 0}),
    (simaccel.simulate_step, "simaccel.simulate_step", "batch", (MODEL, HW), {"batch": 1.5}),
    (simaccel.simulate_step, "simaccel.simulate_step", "batch", (MODEL, HW),
     {"batch": 65537}),
    (simaccel.simulate_step, "simaccel.simulate_step", "recompute", (MODEL, HW),
     {"recompute": "yes"}),
    (simaccel.simulate_step, "simaccel.simulate_step", "trace", (MODEL, HW), {"trace": 1}),
    (simaccel.simulate_step, "simaccel.simulate_step", "precision", (MODEL, HW),
     {"precision": "fp64"}),
    (simaccel.simulate_step, "simaccel.simulate_step", "precision", (MODEL, INT8), {}),
    (simaccel.load_model, "simaccel.load_model", "path", (None,), {}),
    (simaccel.load_model, "simaccel.load_model", "path", (5,), {}),
    (simaccel.load_model, "simaccel.load_model", "path", (b"x",), {}),
    (simaccel.load_model, "simaccel.load_model", "dims", (DIGITS,), {"dims": "bogus"}),
    (simaccel.load_model, "simaccel.load_model", "dims", (DIGITS,), {"dims": {1: 2}}),
    (simaccel.load_model, "simaccel.load_model", "allow_unknown", (DIGITS,),
     {"allow_unknown": "yes"}),
    (simaccel.pareto_front, "simaccel.pareto_front", "frame", (None, ["a"]), {}),
    (simaccel.pareto_front, "simaccel.pareto_front", "objectives", (FRAME, ["zz"]), {}),
    (simaccel.pareto_front, "simaccel.pareto_front", "objectives", (FRAME, "a"), {}),
    (simaccel.pareto_front, "simaccel.pareto_front", "objectives", (FRAME, []), {}),
    (simaccel.estimate_area, "simaccel.estimate_area", "hw", ("tpu_v9",), {}),
    (simaccel.collective, "simaccel.collective", "hw", ("all_reduce", 4096, None), {}),
    (simaccel.llm_footprint, "simaccel.llm_footprint", "config", (None, HW), {}),
    (simaccel.simulate_llm, "simaccel.simulate_llm", "config", ("llama9", HW), {}),
    (simaccel.load_llm, "simaccel.load_llm", "config", ("llama9",), {}),
    (simaccel.training_step, "simaccel.training_step", "model", (None, "tpu_v1"), {}),
    (simaccel.training_step, "simaccel.training_step", "precision", (MODEL, "tpu_v1"), {}),
    (simaccel.training_step, "simaccel.training_step", "recompute", (MODEL, HW),
     {"recompute": "yes", "precision": "bf16"}),
    (simaccel.train, "simaccel.train", "hw", (MODEL, None), {}),
    (simaccel.train, "simaccel.train", "data", (MODEL, HW), {"data": "mnist"}),
    (simaccel.train, "simaccel.train", "reference", (MODEL, HW),
     {"reference": 1, "precision": "bf16"}),
    (simaccel.with_precision, "simaccel.with_precision", "hw", (None, None), {}),
    (simaccel.with_batch, "simaccel.with_batch", "batch", (MODEL, 65537), {}),
    (simaccel.data_parallel_scaling, "simaccel.data_parallel_scaling", "model",
     (None, HW, [1]), {}),
    (quant.scale_for, "simaccel.quant.scale_for", "dtype", (1.0, DType.FP32), {}),
    (quant.quantize, "simaccel.quant.quantize", "dtype", (np.ones(2), 1.0, "x"), {}),
    (quant.round_to, "simaccel.quant.round_to", "dtype", (np.ones(2), DType.INT8), {}),
    (quant.to_accelerator, "simaccel.quant.to_accelerator", "dtype", (np.ones(2), None), {}),
    (teaching.first_layer, "simaccel.teaching.first_layer", "model", (3.5, HW), {}),
    (teaching.tile_plan, "simaccel.teaching.tile_plan", "hw", (GEMM, None), {}),
    (teaching.memory_traffic, "simaccel.teaching.memory_traffic", "model", (None, HW), {}),
    (teaching.cycles_with_plan, "simaccel.teaching.cycles_with_plan", "tm",
     (GEMM, HW, 0, 8, 3), {}),
    (teaching.cycles_with_plan, "simaccel.teaching.cycles_with_plan", "order",
     (GEMM, HW, 4, 8, 3), {"order": "kmn"}),
    (teaching.cycles_with_plan, "simaccel.teaching.cycles_with_plan", "model",
     (MODEL, HW, 4, 8, 3), {}),
    (teaching.tile_budget, "simaccel.teaching.tile_budget", "hw", (None,), {}),
    (teaching.with_resident, "simaccel.teaching.with_resident", "hw", (None, 8), {}),
    (teaching.with_resident, "simaccel.teaching.with_resident", "kib", (HW, -1), {}),
    (teaching.with_resident, "simaccel.teaching.with_resident", "kib", (HW, True), {}),
]


@pytest.mark.parametrize(("function", "where", "field", "args", "kwargs"), BAD,
                         ids=[f"{w.rsplit('.', 1)[-1]}-{f}-{i}"
                              for i, (_, w, f, _, _) in enumerate(BAD)])
def test_bad_input_names_the_function_and_the_parameter(function, where, field, args,
                                                        kwargs) -> None:
    with pytest.raises(simaccel.InputError) as caught:
        function(*args, **kwargs)
    error = caught.value
    assert (error.source, error.field) == (where, field), str(error)
    assert "--" not in str(error)  # no CLI flag in an API message


def test_refusals_keep_the_reason() -> None:
    with pytest.raises(simaccel.InputError, match=r"greater than 0 \(got 0\)"):
        simaccel.vary(HW, {"array.rows": 0})
    with pytest.raises(simaccel.InputError, match="unknown field"):
        simaccel.vary(HW, {"array.rowz": 4})
    with pytest.raises(simaccel.InputError, match="no shipped config named 'tpu_v9'"):
        simaccel.simulate(MODEL, "tpu_v9")
    with pytest.raises(simaccel.InputError, match=r"precision='bf16'"):
        simaccel.training_step(MODEL, "tpu_v1")
    with pytest.raises(simaccel.InputError, match=r"1\.\.65536"):
        simaccel.with_batch(MODEL, 65537)
    with pytest.raises(simaccel.InputError, match=r"known model file types: \.json") as bad:
        simaccel.load_model("nope")
    assert bad.value.source == "nope"  # a file's problem names the file


def test_simulate_and_compile_take_a_path_and_a_shipped_name() -> None:
    by_name = simaccel.simulate(DIGITS, CHIP, check=False).to_dict()["total"]
    # the digits CNN's MACs by hand: conv1 64·9·16, conv2 16·144·32, fc1 128·64, fc2 64·10
    assert by_name["macs"] == 9216 + 73728 + 8192 + 640
    assert by_name == simaccel.simulate(MODEL, HW, check=False).to_dict()["total"]
    assert simaccel.compile(DIGITS, CHIP).listing(0, 5) == simaccel.compile(MODEL, HW).listing(
        0, 5)


def test_vary_and_the_teaching_helpers_take_a_shipped_name() -> None:
    smaller = simaccel.vary(CHIP, {"array.rows": 4})
    assert (smaller.array.rows, smaller.array.cols) == (4, 8)
    assert smaller == simaccel.vary(HW, {"array.rows": 4})
    assert teaching.tile_budget(CHIP) == teaching.tile_budget(HW)
    assert teaching.tile_plan(DIGITS, CHIP) == teaching.tile_plan(MODEL, HW)
    assert teaching.first_layer(DIGITS, CHIP) == teaching.first_layer(MODEL, HW)
    assert teaching.first_layer(DIGITS, CHIP)["macs"] == 9216  # conv1: 64 pixels × 9 × 16


def test_simulate_step_takes_a_path_and_a_shipped_name() -> None:
    by_name = simaccel.simulate_step(DIGITS, CHIP, "adam", batch=2, precision="bf16").to_dict()
    assert by_name["training"]["batch"] == 2
    assert by_name["training"]["optimizer"] == "adam"
    by_object = simaccel.simulate_step(MODEL, HW, "adam", batch=2, precision="bf16")
    assert by_name["total"] == by_object.to_dict()["total"]


def test_pareto_front_takes_a_tuple_of_columns() -> None:
    frame = pd.DataFrame({"name": ["p", "q", "r"], "a": [1.0, 2.0, 3.0], "b": [3.0, 1.0, 3.0]})
    assert list(simaccel.pareto_front(frame, ("a", "b"))["name"]) == ["p", "q"]  # r: beaten


@pytest.mark.parametrize(("function", "args", "field"), [
    ("scale_for", ("bogus", "int8"), "max_abs"),
    ("scale_for", (float("nan"), "int8"), "max_abs"),
    ("scale_for", (-1.0, "int8"), "max_abs"),
    ("quantize", (np.ones((2, 2)), [], "int8"), "scale"),
    ("quantize", (np.ones(3), 0.0, "int8"), "scale"),
    ("quantize", (np.ones(3), -0.5, "int8"), "scale"),
    ("sqnr_db", ("bogus", np.ones(4)), "reference"),
    ("sqnr_db", (np.ones(3), np.ones(4)), "approx"),
])
def test_quant_refuses_values_that_are_not_numbers_or_scales(function, args, field) -> None:
    """Found by a tester: these raised numpy's TypeError/ValueError/IndexError, or returned
    a scale of 1.0 for a NaN or negative magnitude and divided by a zero scale."""
    from simaccel import quant

    with pytest.raises(simaccel.InputError) as refused:
        getattr(quant, function)(*args)
    assert (refused.value.source, refused.value.field) == (f"simaccel.quant.{function}", field)
    assert quant.quantize(1.5, 0.1, quant.DType.INT8) == 15.0  # a scalar is fine


def test_an_empty_path_or_a_folder_is_not_read_as_a_file(tmp_path) -> None:
    """Found by a tester: ``design_points("")`` read "." and said "cannot read: [Errno 21]
    Is a directory"; every reader now says the path is a folder."""
    for path in ("", str(tmp_path)):
        with pytest.raises(simaccel.InputError, match="is a folder, not a file"):
            simaccel.design_points(path)
