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
    (simaccel.vary, "simaccel.vary", "memories", (HW, {"memories": 5}), {}),
    (simaccel.vary, "simaccel.vary", "memories[0].name", (HW, {"memories": [{}]}), {}),
    (simaccel.vary, "simaccel.vary", "memories.0.kib", (HW, {"memories.0.kib": 5}), {}),
    (simaccel.vary, "simaccel.vary", "memories[0].holds[0]", (INT8, {"memories": [
        {"name": "m", "kib": 64, "holds": ["weights"]}]}), {}),
    (simaccel.pareto_front, "simaccel.pareto_front", "frame", (None, ["a"]), {}),
    (simaccel.pareto_front, "simaccel.pareto_front", "objectives",
     (pd.DataFrame({"a": ["x", "y"]}), ["a"]), {}),
    (simaccel.pareto_front, "simaccel.pareto_front", "objectives",
     (pd.DataFrame({"a": [True, False]}), ["a"]), {}),
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
    (quant.scale_for, "simaccel.quant.scale_for", "max_abs", ("1", "int8"), {}),
    (quant.scale_for, "simaccel.quant.scale_for", "max_abs", (True, "int8"), {}),
    (quant.quantize, "simaccel.quant.quantize", "x", (np.ones(2) * 1j, 1.0, "int8"), {}),
    (quant.quantize, "simaccel.quant.quantize", "x", (["1", "2"], 1.0, "int8"), {}),
    (quant.to_accelerator, "simaccel.quant.to_accelerator", "dtype", (np.ones(2), "int9"),
     {}),
    (simaccel.grading.grade, "simaccel.grading.grade", "key", ("nope", 1), {}),
    (simaccel.grading.grade, "simaccel.grading.grade", "key", ("01", 1), {}),
    (simaccel.grading.grade, "simaccel.grading.grade", "key", ("01.99", 1), {}),
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


@pytest.fixture(scope="module")
def report() -> simaccel.Report:
    return simaccel.simulate(GEMM, HW, check=False)


@pytest.mark.parametrize(("args", "field"), [
    (("a",), "first"), ((None,), "first"), ((True,), "first"), ((-1,), "first"),
    ((0, 1.5), "last"), ((1, 0), "last"), ((0, 99), "last"), ((99,), "first"),
])
def test_listing_refuses_what_is_not_a_kernel_index(args, field) -> None:
    """Found by a tester: ``listing("a")`` and ``listing(None)`` raised TypeError."""
    program = simaccel.compile(GEMM, HW)
    with pytest.raises(simaccel.InputError) as refused:
        program.listing(*args)
    assert (refused.value.source, refused.value.field) == ("Program.listing", field)
    assert program.listing(0, 1) == program.listing()  # the GEMM model: one kernel


@pytest.mark.parametrize(("out", "also", "field"), [
    (None, None, "out_dir"), ("", None, "out_dir"), (5, None, "out_dir"),
    ("taken", None, "out_dir"), ("run", 5, "also"),
])
def test_report_write_refuses_a_bad_folder_or_also(out, also, field, report, tmp_path,
                                                    monkeypatch) -> None:
    """Found by a tester: FileExistsError for a file, TypeError for None or ``also=5``."""
    monkeypatch.chdir(tmp_path)
    Path("taken").write_text("mine")
    with pytest.raises(simaccel.InputError) as refused:
        report.write(out, also=also)
    assert (refused.value.source, refused.value.field) == ("Report.write", field)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_report_write_leaves_nothing_when_also_fails(report, tmp_path) -> None:
    """An ``also`` that raises: the folders ``write`` made are gone, one given is empty."""
    def broken(folder: Path) -> list[Path]:
        (folder / "half.png").write_text("x")
        raise RuntimeError("plot failed")

    with pytest.raises(RuntimeError, match="plot failed"):
        report.write(tmp_path / "new" / "run", also=broken)
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError, match="plot failed"):
        report.write(tmp_path / "kept", also=broken)
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]
    assert list((tmp_path / "kept").iterdir()) == []
    assert [p.name for p in report.write(tmp_path / "new")] == [
        "layers.csv", "report.json", "trace.json"]


def test_quant_takes_a_dtype_or_its_name_everywhere() -> None:
    """Found by a tester: ``to_accelerator(x, "int8")`` was refused while `scale_for` and
    `quantize` took "int8"."""
    x = np.array([-2.0, 0.5, 1.0])
    by_name = quant.to_accelerator(x, "int8")
    # scale 2/127: −2 → −127, 0.5 → 31.75 → 32, 1 → 63.5 → 64 (ties to even)
    assert np.array_equal(by_name.values, [-127.0, 32.0, 64.0]) and by_name.dtype is DType.INT8
    assert by_name.scale == pytest.approx(2 / 127)
    assert np.array_equal(quant.round_to(np.array([1 + 2**-9]), "bf16"), [1.0])  # 8 bits


def test_sqnr_never_scores_garbage_as_perfect() -> None:
    """A NaN reference: a number against it is −inf (they disagree), NaN against NaN is
    left out, and a reference with no finite value at all measures nothing: NaN."""
    assert quant.sqnr_db([np.nan], [1.0]) == float("-inf")
    assert np.isnan(quant.sqnr_db([np.nan], [np.nan]))
    assert quant.sqnr_db([np.nan, 1.0], [np.nan, 1.0]) == float("inf")  # exact where finite
    assert quant.sqnr_db([3.0, 4.0], [3.0, 3.0]) == pytest.approx(10 * np.log10(25.0))


@pytest.mark.parametrize(("value", "said"), [
    (1e300, r"at most 3\.403e\+38"), (-1e39, r"at most 3\.403e\+38"), (1e-310, "subnormal"),
    (np.nan, "holds NaN"), (np.inf, "holds infinity"),
])
def test_simulate_refuses_inputs_outside_fp32_or_subnormal(value, said) -> None:
    """Found by a tester: 1e300 gave raw RuntimeWarnings and a null SQNR, 1e-310 a
    RuntimeWarning and then blamed the accumulator."""
    inputs = {"a": np.full((4, 8), value)}
    with pytest.raises(simaccel.InputError, match=said) as refused:
        simaccel.simulate(GEMM, HW, inputs=inputs)
    assert (refused.value.source, refused.value.field) == ("simulate(inputs=...)", "'a'")
    largest = {"a": np.full((4, 8), float(np.finfo(np.float32).max))}
    assert simaccel.simulate(GEMM, HW, check=False, inputs=largest).to_dict()["total"]["macs"] \
        == 4 * 8 * 3
