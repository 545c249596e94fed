"""Write the bad-input corpus under ``tests/bad_inputs/``: every case a folder of the files it
breaks, and ``cases.json``, the expectations run by ``tests/test_bad_input.py``.

Each case starts from a valid document in ``tests/bad_inputs/base/`` (a small MNIST CNN
model.json, SCALE-Sim's default hardware as TOML, a two-row SCALE-Sim topology, a scale.cfg,
a sweep spec, a dense model with its .npz weights, a small ONNX file) and breaks it with one
small edit. Its expectation: the exit code (2), the file the one-line message must start
with, the field it must name next (or none, for a file that cannot be read at all) and a
phrase the message must hold. Run ``python scripts/make_bad_inputs.py`` after changing a
case; the test suite never writes here.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "bad_inputs"

# --- valid base documents --------------------------------------------------------------------

#: layers: 0 conv1, 1 pool1, 2 conv2, 3 pool2, 4 flatten, 5 fc1, 6 fc2
BASE_MODEL: dict = {
    "format": "simaccel-model/1",
    "name": "mnist_cnn",
    "inputs": [{"name": "image", "shape": [1, 28, 28, 1], "dtype": "fp32"}],
    "layers": [
        {"name": "conv1", "op": "conv2d", "inputs": ["image"], "filters": 32, "kernel": [3, 3],
         "stride": [1, 1], "padding": "valid", "activation": "relu"},
        {"name": "pool1", "op": "maxpool2d", "inputs": ["conv1"], "pool": [2, 2],
         "stride": [2, 2]},
        {"name": "conv2", "op": "conv2d", "inputs": ["pool1"], "filters": 64, "kernel": [3, 3],
         "stride": [1, 1], "activation": "relu"},
        {"name": "pool2", "op": "maxpool2d", "inputs": ["conv2"], "pool": [2, 2],
         "stride": [2, 2]},
        {"name": "flatten", "op": "flatten", "inputs": ["pool2"]},
        {"name": "fc1", "op": "dense", "inputs": ["flatten"], "units": 64, "activation": "relu"},
        {"name": "fc2", "op": "dense", "inputs": ["fc1"], "units": 10, "activation": "softmax"},
    ],
    "outputs": ["fc2"],
}

#: a dense model with weights in w.npz
DENSE_MODEL: dict = {
    "format": "simaccel-model/1", "name": "dense",
    "inputs": [{"name": "x", "shape": [2, 4]}],
    "layers": [{"name": "fc", "op": "dense", "inputs": ["x"], "units": 3}],
    "weights": "w.npz",
}
DENSE_WEIGHTS = {"fc.kernel": np.linspace(-1, 1, 12).reshape(4, 3), "fc.bias": np.zeros(3)}

BASE_HW: dict = tomllib.loads((ROOT / "hw_configs" / "scalesim_default.toml").read_text())

TOPOLOGY_HEADER = ["Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                   "Channels", "Num Filter", "Strides"]
TOPOLOGY_COLUMNS = ["name", "ifmap_height", "ifmap_width", "filter_height", "filter_width",
                    "channels", "num_filter", "strides"]
#: data rows 1 and 2 of a conv-format topology
BASE_TOPOLOGY: list[list[str]] = [
    ["Conv1", "28", "28", "3", "3", "1", "32", "1"],
    ["Conv2", "26", "26", "3", "3", "32", "64", "1"],
]

#: SCALE-Sim's default configs/scale.cfg
BASE_CFG: dict = {
    "general": {"run_name": "scale_default"},
    "architecture_presets": {
        "ArrayHeight": "32", "ArrayWidth": "32", "IfmapSramSzkB": "64", "FilterSramSzkB": "64",
        "OfmapSramSzkB": "64", "IfmapOffset": "0", "FilterOffset": "10000000",
        "OfmapOffset": "20000000", "Dataflow": "os",
    },
}

BASE_SPEC: dict = {"name": "s", "base": "hw.toml", "workloads": ["model.json"], "mode": "grid",
                   "grid": {"array.rows+array.cols": [8, 16]}}


# --- writers ----------------------------------------------------------------------------------

def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) \
            + "}"
    return repr(value)


def to_toml(doc: dict) -> str:
    """TOML for a config or spec dict: top-level scalars, then one table per dict value."""
    lines = [f"{json.dumps(k) if not re.fullmatch(r'[A-Za-z0-9_-]+', k) else k} = "
             f"{_toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for key, table in doc.items():
        if isinstance(table, dict):
            lines += ["", f"[{key}]"] + [
                f"{json.dumps(k) if not re.fullmatch(r'[A-Za-z0-9_-]+', k) else k} = "
                f"{_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def to_topology(rows: list[list[str]], header: list[str] = TOPOLOGY_HEADER) -> str:
    return "".join(", ".join(row) + ",\n" for row in [header, *rows])


def to_cfg(doc: dict) -> str:
    return "".join(f"[{section}]\n" + "".join(f"{k} : {v}\n" for k, v in keys.items()) + "\n"
                   for section, keys in doc.items())


def npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


# --- small edits of a base document -----------------------------------------------------------

DROP = object()


def _steps(path: str) -> list[str | int]:
    """``layers[1].kernel`` -> ``["layers", 1, "kernel"]``."""
    return [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]


def edit(base: dict, path: str, value: object = DROP) -> dict:
    """A deep copy of ``base`` with the field at ``path`` set to ``value`` (or removed)."""
    doc = copy.deepcopy(base)
    *parents, last = _steps(path)
    node = doc
    for step in parents:
        node = node.setdefault(step, {}) if isinstance(node, dict) else node[step]
    if value is DROP:
        del node[last]
    else:
        node[last] = value
    return doc


def rename(base: dict, path: str, new_key: str) -> dict:
    *parents, last = _steps(path)
    node = base
    for step in parents:
        node = node[step]
    return edit(edit(base, path), ".".join(map(str, parents)) + f".{new_key}", node[last])


def plus_layers(*layers: dict, inputs: tuple[dict, ...] = ()) -> dict:
    doc = copy.deepcopy(BASE_MODEL)
    doc["layers"] += list(layers)
    doc["inputs"] += list(inputs)
    doc["outputs"] = ["fc2", doc["layers"][-1]["name"]]
    return doc


def cells(row: int, **values: str) -> list[list[str]]:
    rows = copy.deepcopy(BASE_TOPOLOGY)
    for column, value in values.items():
        rows[row - 1][TOPOLOGY_COLUMNS.index(column)] = value
    return rows


def relu(name: str, *inputs: str) -> dict:
    return {"name": name, "op": "relu", "inputs": list(inputs)}


# --- cases ------------------------------------------------------------------------------------

SIMULATE_MODEL = ["simulate", "model.json", "--hw", "hw.toml", "--out", "out"]


@dataclass
class Case:
    id: str
    files: dict[str, str | bytes]
    field: str | None  #: None for file-level errors (unreadable, not JSON, ...)
    keyword: str
    label: str
    argv: list[str] = field(default_factory=lambda: list(SIMULATE_MODEL))
    exit: int = 2


CASES: list[Case] = []


def add(case: Case) -> None:
    CASES.append(case)


def model(id: str, doc: object, field: str | None, keyword: str, name: str = "model.json"
          ) -> None:
    text = doc if isinstance(doc, str | bytes) else json.dumps(doc)
    argv = ["simulate", name, "--hw", "hw.toml", "--out", "out"]
    add(Case(id, {name: text}, field, keyword, name, argv))


def hardware(id: str, doc: dict | str | bytes, field: str | None, keyword: str) -> None:
    add(Case(id, {"hw.toml": doc if isinstance(doc, str | bytes) else to_toml(doc)}, field,
             keyword,
             "hw.toml"))


def cfg(id: str, doc: dict | str, field: str | None, keyword: str) -> None:
    add(Case(id, {"hw.cfg": doc if isinstance(doc, str) else to_cfg(doc)}, field, keyword,
             "hw.cfg", ["simulate", "model.json", "--hw", "hw.cfg", "--out", "out"]))


def topology(id: str, rows: list[list[str]] | str, field: str | None, keyword: str) -> None:
    add(Case(id, {"topology.csv": rows if isinstance(rows, str | bytes) else to_topology(rows)},
             field,
             keyword, "topology.csv", ["simulate", "topology.csv", "--hw", "hw.toml", "--out",
                                       "out"]))


def weights(id: str, content: dict | bytes, field: str | None, keyword: str,
            doc: dict | None = None) -> None:
    data = content if isinstance(content, bytes) else npz_bytes(content)
    add(Case(id, {"dense.json": json.dumps(doc or DENSE_MODEL), "w.npz": data}, field, keyword,
             "w.npz", ["simulate", "dense.json", "--hw", "hw.toml", "--out", "out"]))


def spec(id: str, doc: dict | str, field: str | None, keyword: str) -> None:
    add(Case(id, {"spec.toml": doc if isinstance(doc, str) else to_toml(doc)}, field, keyword,
             "spec.toml", ["sweep", "spec.toml", "--out", "results.csv", "--workers", "1",
                           "--quiet"]))


def onnx_case(id: str, content: bytes, field: str | None, keyword: str) -> None:
    add(Case(id, {"model.onnx": content}, field, keyword, "model.onnx",
             ["simulate", "model.onnx", "--hw", "hw.toml", "--out", "out"]))


def cli(id: str, argv: list[str], label: str, field: str | None, keyword: str) -> None:
    add(Case(id, {}, field, keyword, label, argv))


def model_cases() -> None:
    m = BASE_MODEL
    # fields: missing, wrong type, out of range
    model("missing_field", edit(m, "layers[0].filters"), "layers[0].filters", "missing")
    model("kernel_is_string", edit(m, "layers[2].kernel", "3x3"), "layers[2].kernel",
          "valid tuple")
    model("negative_kernel", edit(m, "layers[0].kernel", [-3, 3]), "layers[0].kernel[0]",
          "greater than 0")
    model("zero_stride", edit(m, "layers[1].stride", [0, 2]), "layers[1].stride[0]",
          "greater than 0")
    model("unknown_op", edit(m, "layers[1].op", "maxpool3d"), "layers[1].op",
          "unknown op 'maxpool3d'")
    model("missing_op", edit(m, "layers[1].op"), "layers[1].op", "missing")
    model("misspelt_field", rename(m, "layers[0].kernel", "kernal"), "layers[0].kernal",
          "did you mean 'kernel'")
    model("unknown_field", edit(m, "layers[4].colour", "red"), "layers[4].colour",
          "unknown field")
    model("unknown_top_level_field", edit(m, "author", "me"), "author", "unknown field")
    model("unknown_padding", edit(m, "layers[0].padding", "sam"), "layers[0].padding",
          "'same' or 'valid'")
    model("padding_three_numbers", edit(m, "layers[0].padding", [1, 1, 1]), "layers[0].padding",
          "got a list of 3")
    for id, pads, said in (("padding_2000", [2000, 0, 0, 0], "0 … 1024, not 2000"),
                           ("padding_half", [1.5, 0, 0, 0], "0 … 1024, not 1.5"),
                           ("padding_true", [True, 0, 0, 0], "0 … 1024, not True"),
                           ("padding_empty_list", [], "got a list of 0"),
                           ("padding_one_int_2000", 2000, "0 … 1024, not 2000")):
        model(id, edit(m, "layers[0].padding", pads), "layers[0].padding", said)
    avg = {"name": "avg", "op": "avgpool2d", "inputs": ["conv1"], "pool": [2, 2],
           "padding": 1, "count_include_pad": True}
    model("uncounted_over_padding", plus_layers({**avg, "uncounted": [5, 5]}),
          "layers[7].uncounted", "exceeds the bottom padding (1)")
    model("uncounted_with_same", plus_layers({**avg, "padding": "same", "uncounted": [1, 0]}),
          "layers[7].uncounted", "explicit sides")
    model("count_include_pad_one", plus_layers({**avg, "count_include_pad": 1}),
          "layers[7].count_include_pad", "valid boolean")
    model("layer_without_inputs", edit(m, "layers[0].inputs", []), "layers[0].inputs",
          "at least 1")
    model("input_dim_1e9", edit(m, "inputs[0].shape", [1, 10**9, 28, 1]), "inputs[0].shape[1]",
          "less than or equal")
    model("input_dim_zero", edit(m, "inputs[0].shape", [1, 0, 28, 1]), "inputs[0].shape[1]",
          "greater than 0")
    model("input_shape_empty", edit(m, "inputs[0].shape", []), "inputs[0].shape",
          "at least 1")
    model("input_unknown_dtype", edit(m, "inputs[0].dtype", "fp8"), "inputs[0].dtype", "")
    model("no_inputs", edit(m, "inputs", []), "inputs", "at least 1")
    model("no_layers", edit(m, "layers", []), "layers", "at least 1")
    model("units_1e8", edit(m, "layers[5].units", 10**8), "layers[5].units",
          "less than or equal")
    model("missing_weights_file", edit(m, "weights", "weights.npz"), "weights", "no such file")
    model("seed_negative", edit(m, "seed", -1), "seed", "greater than or equal to 0")
    model("seed_2_32", edit(m, "seed", 2**32), "seed", "less than")
    model("name_empty", edit(m, "name", ""), "name", "at least 1 character")
    model("name_newline", edit(m, "name", "mnist\ncnn"), "name", "control character")
    model("layer_name_nul", edit(m, "layers[6].name", "fc\u00002"), "layers[6].name",
          "control character")
    model("input_name_tab", edit(m, "inputs[0].name", "im\tage"), "inputs[0].name",
          "control character")
    model("output_name_newline", edit(m, "outputs", ["fc\n2"]), "outputs[0]",
          "control character")
    model("name_too_long", edit(m, "name", "n" * 100_000), "name", "at most 256 characters")
    model("layer_name_too_long", edit(m, "layers[3].name", "p" * 10_000), "layers[3].name",
          "at most 256 characters")
    model("input_name_too_long", edit(m, "layers[5].inputs", ["f" * 10_000]),
          "layers[5].inputs[0]", "at most 256 characters")
    model("activation_unknown", edit(m, "layers[0].activation", "swish"),
          "layers[0].activation", "")
    model("groups_zero", edit(m, "layers[2].groups", 0), "layers[2].groups", "greater than 0")
    model("dilation_zero", edit(m, "layers[2].dilation", [1, 0]), "layers[2].dilation[1]",
          "greater than 0")
    model("pool_over_1024", edit(m, "layers[1].pool", [2000, 2]), "layers[1].pool[0]",
          "less than or equal to 1024")
    model("padding_negative", edit(m, "layers[0].padding", [-1, 0, 0, 0]),
          "layers[0].padding", "0 … 1024, not -1")
    model("outputs_not_a_list", edit(m, "outputs", "fc2"), "outputs", "")
    model("description_not_text", edit(m, "description", 5), "description", "valid string")
    model("weights_not_text", edit(m, "weights", 5), "weights", "valid string")
    # strictness: no loose coercion, for every kind of field
    coercions = [("true", True), ("string_number", "32"), ("float", 32.0), ("null", None),
                 ("list", [32]), ("object", {"v": 32})]
    for where, path in [("filters", "layers[0].filters"), ("units", "layers[5].units"),
                        ("groups", "layers[2].groups"), ("seed", "seed")]:
        for label, value in coercions:
            model(f"{where}_{label}", edit(m, path, value), path, "")
    for label, value in [("true", True), ("string", "3"), ("float", 3.0), ("null", None)]:
        model(f"kernel_element_{label}", edit(m, "layers[0].kernel", [value, 3]),
              "layers[0].kernel[0]", "")
        model(f"stride_element_{label}", edit(m, "layers[1].stride", [2, value]),
              "layers[1].stride[1]", "")
        model(f"shape_element_{label}", edit(m, "inputs[0].shape", [1, 28, value, 1]),
              "inputs[0].shape[2]", "")
    for label, value in [("one", 1), ("string", "true"), ("zero", 0)]:
        model(f"bias_{label}", edit(m, "layers[5].bias", value), "layers[5].bias",
              "valid boolean")
    model("kernel_bool_pair", edit(m, "layers[0].kernel", True), "layers[0].kernel", "")
    model("layer_name_number", edit(m, "layers[4].name", 4), "layers[4].name", "valid string")
    model("inputs_number", edit(m, "layers[4].inputs", [3]), "layers[4].inputs[0]",
          "valid string")
    # non-finite and subnormal numbers
    mm = plus_layers({"name": "mm", "op": "matmul", "inputs": ["fc1", "fc1"],
                      "transpose_b": True})
    for label, value, keyword in [("zero", 0, "magnitude"), ("huge", 1e200, "magnitude"),
                                  ("tiny", 1e-300, "magnitude"), ("string", "0.5", ""),
                                  ("bool", True, "")]:
        model(f"matmul_scale_{label}", edit(mm, "layers[7].scale", value), "layers[7].scale",
              keyword)
    text = json.dumps(edit(mm, "layers[7].scale", 12345.5))
    for literal in ("NaN", "Infinity", "-Infinity"):
        model(f"matmul_scale_{literal.strip('-').lower()}{'_neg' if '-' in literal else ''}",
              text.replace("12345.5", literal), None, f"{literal} is not a JSON number")
    model("transpose_b_string", edit(mm, "layers[7].transpose_b", "yes"),
          "layers[7].transpose_b", "valid boolean")
    bn = plus_layers({"name": "bn", "op": "batchnorm", "inputs": ["fc1"]})
    for label, value in [("zero", 0), ("subnormal", 5e-324), ("one", 1), ("negative", -1e-5),
                         ("string", "1e-5")]:
        model(f"batchnorm_epsilon_{label}", edit(bn, "layers[7].epsilon", value),
              "layers[7].epsilon", "")
    ln = plus_layers({"name": "ln", "op": "layernorm", "inputs": ["fc1"]})
    model("layernorm_axis_string", edit(ln, "layers[7].axis", "-1"), "layers[7].axis",
          "valid integer")
    model("layernorm_axis_huge", edit(ln, "layers[7].axis", 2**70), "layers[7].axis", "")
    model("softmax_axis_float", plus_layers({"name": "sm", "op": "softmax", "inputs": ["fc1"],
                                             "axis": -1.0}), "layers[7].axis", "valid integer")
    model("reshape_shape_strings", plus_layers({"name": "r", "op": "reshape",
                                                "inputs": ["fc1"], "shape": ["8", "8"]}),
          "layers[7].shape[0]", "valid integer")
    model("reshape_two_minus_one", plus_layers({"name": "r", "op": "reshape", "inputs": ["fc1"],
                                                "shape": [-1, -1]}),
          "layers[7].shape", "at most one -1")
    model("transpose_perm_bool", plus_layers({"name": "t", "op": "transpose", "inputs": ["fc1"],
                                              "perm": [True, 0]}),
          "layers[7].perm[0]", "valid integer")
    # duplicate keys
    base_text = json.dumps(m)
    model("duplicate_top_level_key", base_text[:-1] + ', "name": "again"}', None,
          "duplicate key 'name'")
    model("duplicate_layer_key", base_text.replace('"filters": 32,', '"filters": 32, '
                                                   '"filters": 16,'), None,
          "duplicate key 'filters'")
    model("duplicate_input_key", base_text.replace('"dtype": "fp32"',
                                                   '"dtype": "fp32", "dtype": "fp16"'), None,
          "duplicate key 'dtype'")
    # wiring
    model("cycle", plus_layers(relu("a", "b"), relu("b", "a")), "layers[7].inputs", "cycle")
    model("self_loop", plus_layers(relu("a", "a")), "layers[7].inputs", "cycle")
    model("cycle_through_names_with_newlines",  # the names are refused before the wiring
          plus_layers(relu("a\nb", "c"), relu("c", "a\nb")), "layers[7].name",
          "control character")
    model("dangling_input", edit(m, "layers[5].inputs", ["flaten"]), "layers[5].inputs[0]",
          "no input or layer named 'flaten'")
    model("duplicate_layer_name", edit(m, "layers[3].name", "pool1"), "layers[3].name",
          "duplicate name 'pool1'")
    model("layer_named_like_input", edit(m, "layers[4].name", "image"), "layers[4].name",
          "duplicate name 'image'")
    model("duplicate_input_name", edit(m, "inputs", m["inputs"] * 2), "inputs[1].name",
          "duplicate name 'image'")
    model("unknown_output", edit(m, "outputs", ["fc3"]), "outputs[0]",
          "no input or layer named 'fc3'")
    # shapes
    model("add_shape_mismatch", plus_layers({"name": "sum", "op": "add",
                                             "inputs": ["conv1", "conv2"]}),
          "layers[7].inputs", "do not broadcast")
    model("matmul_k_mismatch", plus_layers({"name": "mm", "op": "matmul", "inputs": ["fc1", "w"]},
                                           inputs=({"name": "w", "shape": [32, 10]},)),
          "layers[7].inputs", "inner dimensions differ")
    model("concat_mismatch", plus_layers({"name": "cat", "op": "concat",
                                          "inputs": ["pool1", "conv2"]}),
          "layers[7].inputs", "concat axis")
    model("groups_not_dividing_channels", edit(m, "layers[2].groups", 5), "layers[2].groups",
          "does not divide the 32 input channels")
    model("kernel_larger_than_input", edit(m, "layers[0].kernel", [29, 3]), "layers[0].kernel",
          "larger than")
    model("conv_on_rank2_input", edit(m, "inputs[0].shape", [28, 28]), "layers[0].inputs",
          "rank-4")
    model("reshape_wrong_size", plus_layers({"name": "r", "op": "reshape", "inputs": ["fc1"],
                                             "shape": [7, 9]}), "layers[7].shape", "elements")
    model("input_over_2_34_elements", edit(m, "inputs[0].shape", [1 << 20, 1 << 20, 1, 1]),
          "inputs[0].shape", "2**34")
    # the file
    model("empty_model", "", None, "file is empty")
    model("whitespace_only", "  \n\t\n", None, "file is empty")
    model("not_json", '{"format": ', None, "not valid JSON")
    model("trailing_comma", json.dumps(m)[:-1] + ",}", None, "not valid JSON")
    model("json_top_level_list", [m], None, "expected a JSON object")
    model("json_top_level_string", '"model"', None, "expected a JSON object")
    model("wrong_format", edit(m, "format", "simaccel-model/2"), "format",
          "expected 'simaccel-model/1'")
    model("missing_format", edit(m, "format"), "format", "missing")
    model("json_integer_too_long", json.dumps(m)[:-1] + ', "seed": ' + "9" * 5000 + "}", None,
          "not valid JSON")
    model("json_nested_too_deeply", "[" * 100_000 + "]" * 100_000, None, "nested too deeply")
    model("not_utf8", b"\xff\xfe{\x00", None, "cannot read")
    model("binary_garbage", bytes(range(256)), None, "cannot read")
    model("txt_suffix", m, None, "unknown model file type", name="model.txt")
    add(Case("nonexistent_model", {}, None, "no such file", "no_such_model.json",
             ["simulate", "no_such_model.json", "--hw", "hw.toml", "--out", "out"]))


def hardware_cases() -> None:
    h = BASE_HW
    hardware("hw_missing_array", edit(h, "array"), "array", "missing")
    hardware("hw_missing_name", edit(h, "name"), "name", "missing")
    hardware("hw_missing_clock", edit(h, "clock_mhz"), "clock_mhz", "missing")
    hardware("hw_missing_rows", edit(h, "array.rows"), "array.rows", "missing")
    hardware("hw_missing_sram", edit(h, "sram"), "sram", "missing")
    hardware("hw_missing_dram", edit(h, "dram"), "dram", "missing")
    hardware("hw_missing_vector", edit(h, "vector"), "vector", "missing")
    hardware("hw_no_bandwidth", edit(h, "dram.bytes_per_cycle"), "dram", "exactly one of")
    hardware("hw_dataflow_xs", edit(h, "array.dataflow", "xs"), "array.dataflow",
             "'os', 'ws' or 'is'")
    hardware("hw_dataflow_upper", edit(h, "array.dataflow", "OS"), "array.dataflow",
             "'os', 'ws' or 'is'")
    hardware("hw_two_bandwidths", edit(h, "dram.bandwidth_gbps", 10.0), "dram",
             "exactly one of bandwidth_gbps and bytes_per_cycle")
    hardware("hw_sram_zero", edit(h, "sram.ifmap_kib", 0), "sram.ifmap_kib",
             "greater than or equal")
    hardware("hw_rows_1e6", edit(h, "array.rows", 10**6), "array.rows", "less than or equal")
    hardware("hw_clock_is_string", edit(h, "clock_mhz", "fast"), "clock_mhz", "valid number")
    hardware("hw_misspelt_field", rename(h, "array.dataflow", "dataflw"), "array.dataflw",
             "did you mean 'dataflow'")
    hardware("hw_unknown_table", edit(h, "cache", {"kib": 4}), "cache", "unknown field")
    hardware("hw_unknown_key_in_dram", edit(h, "dram.channels", 2), "dram.channels",
             "unknown field")
    hardware("hw_not_toml", "[array\nrows = 32\n", None, "not valid TOML")
    hardware("hw_duplicate_key", to_toml(h) + "\n[array]\nrows = 8\n", None, "not valid TOML")
    hardware("hw_empty", "", None, "file is empty")
    hardware("hw_not_utf8", b"name = \"\xff\"\n", None, "cannot read")
    hardware("hw_toml_integer_too_long", f"clock_mhz = {'9' * 5000}\n", None, "not valid TOML")
    hardware("hw_name_too_long", edit(h, "name", "n" * 10_000), "name", "at most 128")
    # strictness and bounds, every numeric field
    numeric = {"clock_mhz": 1000, "array.rows": 32, "array.cols": 32, "sram.ifmap_kib": 64,
               "sram.filter_kib": 64, "sram.ofmap_kib": 64, "dram.latency_ns": 0,
               "vector.lanes": 32}
    for path in numeric:
        for label, value in [("true", True), ("string", "32"), ("nan", float("nan")),
                             ("negative", -1), ("subnormal", 5e-324), ("huge", 1e300)]:
            if path == "dram.latency_ns" and label == "negative":
                value = -1.0
            hardware(f"hw_{path.replace('.', '_')}_{label}", edit(h, path, value), path, "")
    for path in ("array.rows", "array.cols", "vector.lanes"):
        hardware(f"hw_{path.replace('.', '_')}_float", edit(h, path, 32.0), path,
                 "valid integer")
        hardware(f"hw_{path.replace('.', '_')}_zero", edit(h, path, 0), path, "greater than 0")
    hardware("hw_clock_inf", edit(h, "clock_mhz", float("inf")), "clock_mhz", "finite")
    hardware("hw_clock_zero", edit(h, "clock_mhz", 0), "clock_mhz", "greater than or equal")
    hardware("hw_clock_tiny", edit(h, "clock_mhz", 1e-9), "clock_mhz", "greater than or equal")
    hardware("hw_double_buffered_one", edit(h, "sram.double_buffered", 1),
             "sram.double_buffered", "valid boolean")
    hardware("hw_double_buffered_string", edit(h, "sram.double_buffered", "yes"),
             "sram.double_buffered", "valid boolean")
    hardware("hw_sram_kib_subbyte", edit(h, "sram.ofmap_kib", 1e-6), "sram.ofmap_kib",
             "greater than or equal")
    hardware("hw_bytes_per_cycle_subnormal", edit(h, "dram.bytes_per_cycle", 5e-324),
             "dram.bytes_per_cycle", "")
    hardware("hw_bytes_per_cycle_nan", edit(h, "dram.bytes_per_cycle", float("nan")),
             "dram.bytes_per_cycle", "")
    hardware("hw_bytes_per_cycle_zero", edit(h, "dram.bytes_per_cycle", 0),
             "dram.bytes_per_cycle", "greater than or equal")
    hardware("hw_bytes_per_cycle_negative_inf", edit(h, "dram.bytes_per_cycle", float("-inf")),
             "dram.bytes_per_cycle", "")
    hardware("hw_bytes_per_cycle_absurd", edit(h, "dram.bytes_per_cycle", 1e15), "dram",
             "at most")
    hardware("hw_bytes_per_cycle_string", edit(h, "dram.bytes_per_cycle", "inf"),
             "dram.bytes_per_cycle", "")
    gbps = edit(edit(h, "dram.bytes_per_cycle"), "dram.bandwidth_gbps", 10.0)
    for label, value in [("inf", float("inf")), ("nan", float("nan")), ("zero", 0.0),
                         ("subnormal", 5e-324), ("huge", 1e12), ("string", "10")]:
        hardware(f"hw_bandwidth_gbps_{label}", edit(gbps, "dram.bandwidth_gbps", value),
                 "dram.bandwidth_gbps", "")
    # datatypes
    hardware("hw_dtype_unknown", edit(h, "dtypes", {"input": "int4"}), "dtypes.input", "")
    hardware("hw_dtype_mixed", edit(h, "dtypes", {"input": "int8", "weight": "fp16",
                                                 "accumulator": "int32"}), "dtypes",
             "integer types or both float types")
    hardware("hw_dtype_wrong_accumulator", edit(h, "dtypes", {"input": "fp16", "weight": "fp16",
                                                             "accumulator": "int32"}),
             "dtypes", "accumulate in fp32")
    hardware("hw_dtype_int32_input", edit(h, "dtypes", {"input": "int32"}), "dtypes.input", "")
    # energy tables
    for label, value, where, keyword in [
        ("zero_pj", [[8, 0]], "energy.sram_access_pj[0][1]", "greater than 0"),
        ("negative_pj", [[8, 10], [32, -1]], "energy.sram_access_pj[1][1]", "greater than 0"),
        ("nan_pj", [[8, float("nan")]], "energy.sram_access_pj[0][1]", ""),
        ("inf_pj", [[8, float("inf")]], "energy.sram_access_pj[0][1]", ""),
        ("zero_size", [[0, 10]], "energy.sram_access_pj[0][0]", "greater than or equal"),
        ("same_size", [[8, 10], [8, 12]], "energy.sram_access_pj", "given twice"),
        ("same_size_unsorted", [[1024, 100], [8, 10], [1024.0, 90]], "energy.sram_access_pj",
         "given twice"),
        ("empty", [], "energy.sram_access_pj", "at least 1"),
        ("three_numbers", [[8, 10, 1]], "energy.sram_access_pj[0]", ""),
        ("strings", [["8", "10"]], "energy.sram_access_pj[0][0]", ""),
        ("subnormal_pj", [[8, 5e-324]], "energy.sram_access_pj[0][1]", ""),
        ("almost_same_size", [[8, 10], [8.000000001, 100]], "energy.sram_access_pj",
         "pJ per byte for the 64 KiB"),
        ("extreme_slope", [[1, 1e-10], [2, 1e6]], "energy.sram_access_pj", "outside"),
    ]:
        hardware(f"hw_energy_sram_{label}", edit(h, "energy", {"sram_access_pj": value}), where,
                 keyword)
    for label, value, where in [
        ("mac_nan", {"mac_pj": {"int8": float("nan")}}, "energy.mac_pj.int8"),
        ("mac_negative", {"mac_pj": {"int8": -0.3}}, "energy.mac_pj.int8"),
        ("mac_unknown_type", {"mac_pj": {"int4": 0.1}}, "energy.mac_pj.int4"),
        ("mac_string", {"mac_pj": {"int8": "0.3"}}, "energy.mac_pj.int8"),
        ("dram_inf", {"dram_pj_per_byte": float("inf")}, "energy.dram_pj_per_byte"),
        ("dram_subnormal", {"dram_pj_per_byte": 5e-324}, "energy.dram_pj_per_byte"),
        ("vector_nan", {"vector_pj_per_op": {"int": float("nan")}}, "energy.vector_pj_per_op.int"),
        ("static_huge", {"static_mw": 1e30}, "energy.static_mw"),
        ("static_bool", {"static_mw": True}, "energy.static_mw"),
        ("preset_unknown", {"preset": "tsmc_3nm"}, "energy.preset"),
        ("unknown_key", {"sram_pj": 3}, "energy.sram_pj"),
    ]:
        hardware(f"hw_energy_{label}", edit(h, "energy", value), where, "")
    for label, value, where in [
        ("pe_zero", {"pe_mm2": {"int8": 0}}, "area.pe_mm2.int8"),
        ("sram_nan", {"sram_mm2_per_kib": float("nan")}, "area.sram_mm2_per_kib"),
        ("lane_string", {"vector_lane_mm2": "1"}, "area.vector_lane_mm2"),
        ("preset_unknown", {"preset": "x"}, "area.preset"),
    ]:
        hardware(f"hw_area_{label}", edit(h, "area", value), where, "")
    add(Case("hw_unknown_name", {}, None, "no file and no shipped config named 'tpu_v9'",
             "--hw", ["simulate", "model.json", "--hw", "tpu_v9", "--out", "out"]))
    add(Case("hw_missing_toml_file", {}, None, "no such file", "nope.toml",
             ["simulate", "model.json", "--hw", "nope.toml", "--out", "out"]))
    # a config that validates but cannot hold one fold: named by the user's file
    hardware("hw_buffer_too_small_for_a_fold",
             edit(edit(h, "sram.ofmap_kib", 1 / 1024), "array.dataflow", "ws"),
             "sram.ofmap_kib", "cannot hold")


def topology_cases() -> None:
    topology("topology_underscore_digits", cells(1, ifmap_height="2_8"), "row 1.ifmap_height",
             "expected a whole number, got '2_8'")
    topology("topology_arabic_indic_digits", cells(1, ifmap_width="٢٨"),
             "row 1.ifmap_width", "expected a whole number")
    topology("topology_non_numeric", cells(1, filter_height="three"), "row 1.filter_height",
             "expected a whole number, got 'three'")
    topology("topology_float", cells(1, strides="1.5"), "row 1.strides",
             "expected a whole number")
    topology("topology_too_few_columns", [BASE_TOPOLOGY[0], BASE_TOPOLOGY[1][:5]], "row 2",
             "expected 8 columns, got 5")
    topology("topology_extra_value", [BASE_TOPOLOGY[0], BASE_TOPOLOGY[1] + ["7"]], "row 2",
             "expected 8 columns, got 9")
    topology("topology_zero_channels", cells(2, channels="0"), "row 2.channels",
             "positive integer")
    topology("topology_negative_filters", cells(2, num_filter="-4"), "row 2.num_filter",
             "positive integer")
    topology("topology_huge_ifmap", cells(1, ifmap_height="9999999"), "row 1.ifmap_height",
             "positive integer")
    topology("topology_filter_over_1024", cells(1, ifmap_height="2000", filter_height="1500"),
             "row 1.kernel[0]", "less than or equal to 1024")
    topology("topology_depthwise_filters_over_2**20",
             cells(1, name="DP1", channels="2048", num_filter="1024"), "row 1.filters",
             "less than or equal to 1048576")
    topology("topology_empty_name", cells(1, name=""), "row 1.name", "at least 1 character")
    topology("topology_duplicate_name", cells(2, name="Conv1"), "row 2.name",
             "duplicate layer name 'Conv1'")
    topology("topology_filter_taller_than_ifmap", cells(1, filter_height="30"),
             "row 1.filter_height", "larger than the ifmap height")
    topology("topology_filter_wider_than_ifmap", cells(1, filter_width="30"),
             "row 1.filter_width", "larger than the ifmap width")
    topology("topology_bad_header", "Layer, Height, Width\nConv1, 28, 28,\n", "header",
             "not a SCALE-Sim topology")
    topology("topology_unknown_column", to_topology(
        [r + ["0.5"] for r in BASE_TOPOLOGY], TOPOLOGY_HEADER + ["Sparsity"]),
        "header.column 9", "'Sparsity' is not a column simaccel can read")
    topology("topology_column_twice", to_topology(
        [r + ["1"] for r in BASE_TOPOLOGY], TOPOLOGY_HEADER + ["Strides"]),
        "header.column 9", "given twice")
    v2 = TOPOLOGY_HEADER[:-1] + ["Stride height", "Stride width"]
    topology("topology_v2_missing_stride_width", to_topology(
        [r for r in BASE_TOPOLOGY], v2[:-1]), "header", "missing column")
    topology("topology_v2_and_strides", to_topology(
        [r + ["1", "1"] for r in BASE_TOPOLOGY], TOPOLOGY_HEADER + v2[-2:]), "header",
        "either Strides or")
    topology("topology_v2_stride_width_zero", to_topology(
        [r[:-1] + ["1", "0"] for r in BASE_TOPOLOGY], v2), "row 1.stride_width",
        "positive integer")
    topology("topology_gemm_non_numeric", "Layer name, M, N, K,\ng1, 4, four, 4,\n", "row 1.N",
             "expected a whole number")
    topology("topology_gemm_extra_value", "Layer name, M, N, K,\ng1, 4, 4, 4, 4,\n", "row 1",
             "expected 4 columns, got 5")
    topology("topology_gemm_missing_k", "Layer name, M, N,\ng1, 4, 4,\n", "header",
             "missing column")
    topology("topology_gemm_unknown_column", "Layer name, M, N, K, Batch,\ng1, 4, 4, 4, 2,\n",
             "header.column 5", "'Batch' is not a column")
    topology("topology_gemm_zero", "Layer name, M, N, K,\ng1, 0, 4, 4,\n", "row 1.M",
             "positive integer")
    topology("topology_header_only", to_topology([]), None, "no layers after the header")
    topology("topology_empty", "", None, "file is empty")
    topology("topology_not_utf8", b"\xff\xfe\x00\x01", None, "cannot read")
    topology("topology_long_name", cells(1, name="L" * 10_000), "row 1.name", "at most 256")


def cfg_cases() -> None:
    c = BASE_CFG
    a = "architecture_presets"
    cfg("cfg_missing_array_height", edit(c, f"{a}.ArrayHeight"), f"{a}.ArrayHeight", "missing")
    cfg("cfg_missing_dataflow", edit(c, f"{a}.Dataflow"), f"{a}.Dataflow", "missing")
    cfg("cfg_missing_ifmap_sram", edit(c, f"{a}.IfmapSramSzkB"), f"{a}.IfmapSramSzkB",
        "missing")
    cfg("cfg_array_height_nan", edit(c, f"{a}.ArrayHeight", "nan"), f"{a}.ArrayHeight",
        "expected a number, got 'nan'")
    cfg("cfg_array_height_inf", edit(c, f"{a}.ArrayHeight", "inf"), f"{a}.ArrayHeight",
        "expected a number, got 'inf'")
    cfg("cfg_underscore_digits", edit(c, f"{a}.ArrayHeight", "3_2"), f"{a}.ArrayHeight",
        "expected a number, got '3_2'")
    cfg("cfg_arabic_indic_digits", edit(c, f"{a}.IfmapSramSzkB", "٦٤"),
        f"{a}.IfmapSramSzkB", "expected a number")
    cfg("cfg_array_height_fraction", edit(c, f"{a}.ArrayHeight", "32.5"), f"{a}.ArrayHeight",
        "whole number")
    cfg("cfg_array_height_text", edit(c, f"{a}.ArrayHeight", "big"), f"{a}.ArrayHeight",
        "expected a number")
    cfg("cfg_array_height_zero", edit(c, f"{a}.ArrayHeight", "0"), f"{a}.ArrayHeight",
        "greater than 0")
    cfg("cfg_array_width_too_big", edit(c, f"{a}.ArrayWidth", "100000"), f"{a}.ArrayWidth",
        "less than or equal")
    cfg("cfg_array_width_negative", edit(c, f"{a}.ArrayWidth", "-8"), f"{a}.ArrayWidth", "")
    cfg("cfg_dataflow_xs", edit(c, f"{a}.Dataflow", "xs"), f"{a}.Dataflow",
        "'os', 'ws' or 'is'")
    for key in ("IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB"):
        cfg(f"cfg_{key}_zero", edit(c, f"{a}.{key}", "0"), f"{a}.{key}", "greater than or equal")
        cfg(f"cfg_{key}_nan", edit(c, f"{a}.{key}", "nan"), f"{a}.{key}",
            "expected a number, got 'nan'")
        cfg(f"cfg_{key}_subnormal", edit(c, f"{a}.{key}", "5e-324"), f"{a}.{key}", "")
        cfg(f"cfg_{key}_huge", edit(c, f"{a}.{key}", "1e30"), f"{a}.{key}", "less than")
    user = edit(c, "run_presets", {"InterfaceBandwidth": "USER"})
    cfg("cfg_user_bandwidth_zero", edit(user, f"{a}.Bandwidth", "0"), f"{a}.Bandwidth",
        "greater than or equal to 0.001")
    cfg("cfg_user_bandwidth_missing", user, f"{a}.Bandwidth", "missing")
    cfg("cfg_user_bandwidth_nan", edit(user, f"{a}.Bandwidth", "nan"), f"{a}.Bandwidth", "")
    cfg("cfg_user_bandwidth_subnormal", edit(user, f"{a}.Bandwidth", "5e-324"),
        f"{a}.Bandwidth", "")
    cfg("cfg_user_bandwidth_text", edit(user, f"{a}.Bandwidth", "fast"), f"{a}.Bandwidth",
        "expected a number")
    cfg("cfg_interface_bandwidth_unknown", edit(c, "run_presets", {"InterfaceBandwidth": "AUTO"}),
        "run_presets.InterfaceBandwidth", "expected CALC or USER")
    cfg("cfg_no_section_header", "ArrayHeight : 32\n" + to_cfg(c), None,
        "not a valid SCALE-Sim .cfg")
    cfg("cfg_missing_section", to_cfg({"general": {"run_name": "x"}}), a, "missing section")
    cfg("cfg_duplicate_option", to_cfg(c).replace("ArrayWidth : 32\n",
                                                  "ArrayWidth : 32\nArrayWidth : 16\n"), None,
        "not a valid SCALE-Sim .cfg")
    cfg("cfg_duplicate_section", to_cfg(c) + f"[{a}]\nArrayHeight : 8\n", None,
        "not a valid SCALE-Sim .cfg")
    cfg("cfg_empty", "", None, "file is empty")
    cfg("cfg_run_name_too_long", edit(c, "general.run_name", "r" * 10_000), "general.run_name",
        "at most 128")
    cfg("cfg_buffer_too_small_for_a_fold",
        edit(edit(c, f"{a}.OfmapSramSzkB", "0.0009765625"), f"{a}.Dataflow", "ws"),
        f"{a}.OfmapSramSzkB", "cannot hold")
    add(Case("cfg_missing_file", {}, None, "no such file", "nope.cfg",
             ["simulate", "model.json", "--hw", "nope.cfg", "--out", "out"]))


def weight_cases() -> None:
    w = DENSE_WEIGHTS
    weights("npz_empty_file", b"", None, "not a readable .npz")
    weights("npz_corrupt_zip", b"PK\x03\x04" + bytes(60), None, "not a readable .npz")
    weights("npz_text", b"fc.kernel = [1, 2, 3]\n", None, "not a .npy or .npz file")
    weights("npz_truncated", npz_bytes(w)[:200], None, "not a readable .npz")
    npy = io.BytesIO()
    np.save(npy, np.zeros(3))
    weights("npz_single_npy", npy.getvalue(), None, "not a readable .npz")
    weights("npz_no_arrays", {}, None, "holds no arrays")
    weights("npz_nan_kernel", dict(w, **{"fc.kernel": np.full((4, 3), np.nan)}), "fc.kernel",
            "NaN")
    weights("npz_inf_bias", dict(w, **{"fc.bias": np.array([0.0, np.inf, 0.0])}), "fc.bias",
            "infinity")
    weights("npz_neg_inf_kernel", dict(w, **{"fc.kernel": np.full((4, 3), -np.inf)}),
            "fc.kernel", "infinity")
    weights("npz_strings", dict(w, **{"fc.kernel": np.array([["a"] * 3] * 4)}), "fc.kernel",
            "real numbers")
    weights("npz_complex", dict(w, **{"fc.kernel": np.ones((4, 3), dtype=complex)}),
            "fc.kernel", "real numbers")
    objects = np.empty((4, 3), dtype=object)
    weights("npz_objects", npz_bytes(dict(w, **{"fc.kernel": objects})), None,
            "not a readable .npz")
    weights("npz_wrong_shape", dict(w, **{"fc.kernel": np.ones((3, 4))}), "fc.kernel",
            "does not match")
    weights("npz_missing_bias", {"fc.kernel": w["fc.kernel"]}, "fc.bias",
            "missing from the weights")


def spec_cases() -> None:
    s = BASE_SPEC
    spec("spec_not_toml", "grid = [\n", None, "not valid TOML")
    spec("spec_empty", "", "workloads", "missing")
    spec("spec_no_workloads", edit(s, "workloads", []), "workloads", "at least 1")
    spec("spec_unknown_mode", edit(s, "mode", "sobol"), "mode", "")
    spec("spec_unknown_key", edit(s, "repeat", 3), "repeat", "unknown field")
    spec("spec_grid_unknown_field", edit(s, "grid", {"array.height": [8]}),
         "grid.'array.height'", "is not a hardware config field")
    spec("spec_grid_table_not_field", edit(s, "grid", {"array": [8]}), "grid.'array'",
         "is a table")
    spec("spec_grid_no_values", edit(s, "grid", {"array.rows": []}), "grid.'array.rows'",
         "no values")
    spec("spec_grid_missing", edit(s, "grid"), "grid", "needs a [grid] table")
    spec("spec_list_without_points", edit(edit(s, "mode", "list"), "grid"), "points",
         "needs [[points]]")
    spec("spec_samples_zero", edit(edit(s, "mode", "random"), "samples", 0), "samples",
         "greater than 0")
    spec("spec_grid_not_a_list", edit(s, "grid", {"array.rows": 8}), "grid.array.rows", "")
    spec("spec_tied_unknown", edit(s, "grid", {"array.rows+array.colz": [8]}),
         "grid.'array.rows+array.colz'", "'array.colz' is not a hardware config field")
    spec("spec_workloads_not_list", edit(s, "workloads", "model.json"), "workloads", "")
    add(Case("spec_missing_file", {}, None, "no such file", "nope.toml",
             ["sweep", "nope.toml", "--out", "results.csv", "--quiet"]))
    add(Case("spec_out_suffix", {}, None, "must be a .csv or .parquet", "results.txt",
             ["sweep", "spec.toml", "--out", "results.txt", "--quiet"]))


def onnx_cases() -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def dense_model(kernel: np.ndarray, op: str = "MatMul", opset: int = 17) -> bytes:
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
        w = numpy_helper.from_array(kernel.astype(np.float32), "w")
        node = helper.make_node(op, ["x", "w"], ["y"], name="fc")
        graph = helper.make_graph([node], "g", [x], [y], [w])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]) \
            .SerializeToString()

    good = dense_model(np.ones((4, 3)))
    onnx_case("onnx_empty", b"", None, "")
    onnx_case("onnx_garbage", bytes(range(256)) * 4, None, "")
    onnx_case("onnx_truncated", good[: len(good) // 2], None, "")
    onnx_case("onnx_json_text", json.dumps(BASE_MODEL).encode(), None, "")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [])
    det = helper.make_model(helper.make_graph([helper.make_node("Det", ["x"], ["y"], name="d")],
                                              "g", [x], [y]),
                            opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    onnx_case("onnx_unsupported_op", det, "graph", "Det")
    onnx_case("onnx_nan_initializer", dense_model(np.full((4, 3), np.nan)), None, "NaN")
    onnx_case("onnx_inf_initializer", dense_model(np.full((4, 3), np.inf)), None, "infinity")
    assert onnx.load_from_string(good)


def cli_cases() -> None:
    cli("cli_plots_without_out", ["simulate", "model.json", "--hw", "hw.toml", "--plots"],
        "--plots", None, "needs --out")
    add(Case("cli_out_is_a_file", {"taken": "mine"}, None, "exists and is not a folder", "taken",
             ["simulate", "model.json", "--hw", "hw.toml", "--out", "taken"]))
    cli("cli_out_missing_parent", ["simulate", "model.json", "--out", "no/such/run"],
        "no/such/run", None, "does not exist")
    add(Case("cli_out_parent_is_a_file", {"taken": "mine"}, None, "is not a folder",
             "taken/run", ["simulate", "model.json", "--out", "taken/run"]))
    add(Case("cli_import_into_a_folder", {"into/keep": ""}, None, "is a folder", "into",
             ["import", "model.onnx", "-o", "into"]))
    cli("cli_import_missing_parent", ["import", "model.onnx", "-o", "no/such/m.json"],
        "no/such/m.json", None, "does not exist")
    cli("cli_sweep_out_missing_parent", ["sweep", "spec.toml", "--out", "no/such/r.csv"],
        "no/such/r.csv", None, "does not exist")
    cli("cli_trace_missing_parent", ["collective", "all_reduce", "--bytes", "4096", "--hw",
                                     "tpu_v4_like_x8", "--trace", "no/such/t.json"],
        "no/such/t.json", None, "does not exist")
    add(Case("cli_trace_is_a_folder", {"into/keep": ""}, None, "is a folder", "into",
             ["collective", "all_reduce", "--bytes", "4096", "--trace", "into"]))
    cli("cli_llm_out_missing_parent", ["llm", "llama2-7b", "--out", "no/such/run"],
        "no/such/run", None, "does not exist")
    for verb, option in (("simulate", "--out"), ("plot", "--out"), ("sweep", "--out"),
                         ("import", "--output"), ("prune", "--output"), ("llm", "--out"),
                         ("collective", "--trace"), ("lab", "--out")):
        first = {"simulate": ["model.json"], "plot": ["run"], "sweep": ["spec.toml"],
                 "import": ["model.onnx"], "prune": ["model.json", "--method", "magnitude",
                                                     "--sparsity", "0.5"],
                 "llm": ["llama2-7b"], "collective": ["all_reduce", "--bytes", "8"],
                 "lab": ["student", "model.json"]}[verb]
        cli(f"cli_{verb}_{option.strip('-')}_empty", [verb, *first, option, ""], option, None,
            "is empty")
    cli("cli_hw_empty", ["simulate", "model.json", "--hw", "", "--out", "out"], "--hw", None,
        "is empty")
    cli("cli_model_empty", ["simulate", "", "--out", "out"], "MODEL", None, "is empty")
    cli("cli_plot_run_empty", ["plot", ""], "RUN", None, "is empty")
    cli("cli_layers_empty", ["simulate", "model.json", "--out", "out", "--layers", ""],
        "--layers", None, "is empty")
    cli("cli_layers_past_the_last", ["simulate", "model.json", "--no-check", "--out", "out",
                                     "--plots", "--layers", "7:7"],
        "--layers", None, "past the last layer")
    cli("cli_program_layers_past_the_last", ["program", "model.json", "--layers", "99:100"],
        "--layers", None, "past the last layer")
    cli("cli_train_layers_past_the_last", [
        "simulate", "model.json", "--train", "--precision", "bf16", "--out", "out", "--plots",
        "--layers", "29:30"], "--layers", None, "past the last layer")
    cli("cli_layers_range", ["simulate", "model.json", "--out", "out", "--layers", "a:b"],
        "--layers", None, "expected A:B")
    cli("cli_workers_zero", ["sweep", "spec.toml", "--out", "results.csv", "--workers", "0"],
        "--workers", None, "at least 1")
    cli("cli_plot_missing_report", ["plot", "no_run"], "no_run", None,
        "no such file")
    add(Case("cli_plot_not_a_report", {"run/report.json": '{"schema": "other"}'}, "schema",
             "not a simaccel-report/1", "run/report.json", ["plot", "run"]))
    add(Case("cli_plot_infinity", {"run/report.json": '{"schema": Infinity}'}, None,
             "Infinity is not a JSON number", "run/report.json", ["plot", "run"]))
    add(Case("cli_plot_torn_trace", {
        "run/report.json": json.dumps({"schema": "simaccel-report/1", "layers": [],
                                       "total": {}}),
        "run/trace.json": '{"traceEvents": ['}, None, "not valid JSON", "run/trace.json",
        ["plot", "run"]))


def input_cases() -> None:
    """``simulate --input``: the base model's input ``image`` is [1, 28, 28, 1]."""
    shape = (1, 28, 28, 1)

    def given(id: str, array: np.ndarray, keyword: str) -> None:
        add(Case(id, {"x.npy": npy_bytes(array)}, "image", keyword, "x.npy",
                 ["simulate", "model.json", "--out", "out", "--input", "image=x.npy"]))

    given("input_complex", np.ones(shape, dtype=np.complex128), "not real numbers")
    given("input_nan", np.full(shape, np.nan), "holds NaN (--input image)")
    given("input_infinity", np.full(shape, -np.inf), "holds infinity")
    given("input_1e300", np.full(shape, 1e300), "at most 3.403e+38")
    given("input_subnormal", np.full(shape, 1e-310), "subnormal")
    given("input_text", np.full(shape, "1"), "not real numbers")
    zero = npy_bytes(np.zeros(shape))
    add(Case("input_twice", {"x.npy": zero}, "image", "given twice", "--input",
             ["simulate", "model.json", "--out", "out", "--input", "image=x.npy", "--input",
              "image=x.npy"]))
    add(Case("input_unknown_name", {"x.npy": zero}, "nope", "no input named 'nope'", "--input",
             ["simulate", "model.json", "--out", "out", "--input", "nope=x.npy"]))
    cli("input_empty_file_name", ["simulate", "model.json", "--out", "out", "--input",
                                  "image="], "--input", "image=", "file name is empty")
    add(Case("input_text_as_npz", {"x.npz": "image,1\n"}, None, "not a .npy or .npz file",
             "x.npz", ["simulate", "model.json", "--out", "out", "--input", "x.npz"]))


def build() -> list[Case]:
    CASES.clear()
    for group in (model_cases, hardware_cases, topology_cases, cfg_cases, weight_cases,
                  spec_cases, onnx_cases, cli_cases, input_cases):
        group()
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    return CASES


def write(cases: list[Case]) -> None:
    base = OUT / "base"
    cases_dir = OUT / "cases"
    shutil.rmtree(cases_dir, ignore_errors=True)
    base.mkdir(parents=True, exist_ok=True)
    (base / "model.json").write_text(json.dumps(BASE_MODEL, indent=1) + "\n")
    (base / "hw.toml").write_text(to_toml(BASE_HW))
    (base / "hw.cfg").write_text(to_cfg(BASE_CFG))
    (base / "topology.csv").write_text(to_topology(BASE_TOPOLOGY))
    (base / "spec.toml").write_text(to_toml(BASE_SPEC))
    (base / "dense.json").write_text(json.dumps(DENSE_MODEL, indent=1) + "\n")
    (base / "w.npz").write_bytes(npz_bytes(DENSE_WEIGHTS))
    table = []
    for case in cases:
        folder = cases_dir / case.id
        folder.mkdir(parents=True)
        for name, content in case.files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", errors="surrogateescape")
        table.append({"id": case.id, "argv": case.argv, "exit": case.exit, "label": case.label,
                      "field": case.field, "keyword": case.keyword})
    (OUT / "cases.json").write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n",
                                    encoding="utf-8")


Writer = Callable[[list[Case]], None]

if __name__ == "__main__":
    built = build()
    write(built)
    print(f"wrote {len(built)} cases to {OUT.relative_to(ROOT)}")
