"""A corpus of malformed inputs run through ``simaccel simulate``.

Every case starts from a valid document (a small MNIST CNN model.json, SCALE-Sim's default
hardware as TOML, a two-row SCALE-Sim topology CSV and a scale.cfg) and breaks it with one
small edit. The CLI must then print exactly one line to stderr, ``simaccel: FILE: FIELD:
message``, print nothing to stdout, write no report, and exit with code 2.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from simaccel.cli import main
from tests.helpers import shipped_hw_dict

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

BASE_HW: dict = shipped_hw_dict("scalesim_default")

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


# --- writers ----------------------------------------------------------------------------------

def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def to_toml(doc: dict) -> str:
    """Enough TOML for a hardware dict: top-level scalars, then one table per dict value."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for key, table in doc.items():
        if isinstance(table, dict):
            lines += ["", f"[{key}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def to_topology(rows: list[list[str]]) -> str:
    return "".join(", ".join(row) + ",\n" for row in [TOPOLOGY_HEADER, *rows])


def to_cfg(doc: dict) -> str:
    return "".join(f"[{section}]\n" + "".join(f"{k} : {v}\n" for k, v in keys.items()) + "\n"
                   for section, keys in doc.items())


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
        node = node[step]
    if value is DROP:
        del node[last]
    else:
        node[last] = value
    return doc


def rename(base: dict, path: str, new_key: str) -> dict:
    """A deep copy of ``base`` with the key at ``path`` renamed, keeping its value."""
    *parents, last = _steps(path)
    node = base
    for step in parents:
        node = node[step]
    return edit(edit(base, path), ".".join(map(str, parents)) + f".{new_key}", node[last])


def plus_layers(*layers: dict, inputs: tuple[dict, ...] = ()) -> dict:
    """The base model with ``layers`` appended (as layers[7], [8], ...) and extra inputs."""
    doc = copy.deepcopy(BASE_MODEL)
    doc["layers"] += list(layers)
    doc["inputs"] += list(inputs)
    doc["outputs"] = ["fc2", doc["layers"][-1]["name"]]
    return doc


def cells(row: int, **values: str) -> list[list[str]]:
    """The base topology with some cells of data row ``row`` (1-based, as in messages) set,
    by column: ``cells(1, filter_height="three")``."""
    rows = copy.deepcopy(BASE_TOPOLOGY)
    for column, value in values.items():
        rows[row - 1][TOPOLOGY_COLUMNS.index(column)] = value
    return rows


# --- cases ------------------------------------------------------------------------------------

#: builds the case's files in a directory; returns the model and --hw arguments and the
#: label (file path or ``--hw``) the message must start with
Build = Callable[[Path], tuple[str, str, str]]


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def model(doc: object, suffix: str = ".json") -> Build:
    text = doc if isinstance(doc, str) else json.dumps(doc)

    def build(tmp: Path) -> tuple[str, str, str]:
        path = _write(tmp / f"model{suffix}", text)
        return path, _write(tmp / "hw.toml", to_toml(BASE_HW)), path
    return build


def hardware(doc: dict | str, suffix: str = ".toml") -> Build:
    text = doc if isinstance(doc, str) else to_toml(doc) if suffix == ".toml" else to_cfg(doc)

    def build(tmp: Path) -> tuple[str, str, str]:
        path = _write(tmp / f"hw{suffix}", text)
        return _write(tmp / "model.json", json.dumps(BASE_MODEL)), path, path
    return build


def topology(rows: list[list[str]] | str) -> Build:
    text = rows if isinstance(rows, str) else to_topology(rows)

    def build(tmp: Path) -> tuple[str, str, str]:
        path = _write(tmp / "topology.csv", text)
        return path, _write(tmp / "hw.toml", to_toml(BASE_HW)), path
    return build


def missing_model(tmp: Path) -> tuple[str, str, str]:
    path = str(tmp / "no_such_model.json")
    return path, _write(tmp / "hw.toml", to_toml(BASE_HW)), path


def shipped_name(name: str) -> Build:
    def build(tmp: Path) -> tuple[str, str, str]:
        return _write(tmp / "model.json", json.dumps(BASE_MODEL)), name, "--hw"
    return build


@dataclass(frozen=True)
class Case:
    id: str
    build: Build
    field: str | None  #: None for file-level errors (unreadable, not JSON, ...)
    keyword: str


def relu(name: str, *inputs: str) -> dict:
    return {"name": name, "op": "relu", "inputs": list(inputs)}


CASES = [
    # model.json: fields
    Case("missing_field", model(edit(BASE_MODEL, "layers[0].filters")),
         "layers[0].filters", "missing"),
    Case("kernel_is_string", model(edit(BASE_MODEL, "layers[2].kernel", "3x3")),
         "layers[2].kernel", "valid tuple"),
    Case("negative_kernel", model(edit(BASE_MODEL, "layers[0].kernel", [-3, 3])),
         "layers[0].kernel[0]", "greater than 0"),
    Case("zero_stride", model(edit(BASE_MODEL, "layers[1].stride", [0, 2])),
         "layers[1].stride[0]", "greater than 0"),
    Case("unknown_op", model(edit(BASE_MODEL, "layers[1].op", "maxpool3d")),
         "layers[1].op", "unknown op 'maxpool3d'"),
    Case("misspelt_field", model(rename(BASE_MODEL, "layers[0].kernel", "kernal")),
         "layers[0].kernal", "did you mean 'kernel'"),
    Case("unknown_padding", model(edit(BASE_MODEL, "layers[0].padding", "sam")),
         "layers[0].padding", "'same' or 'valid'"),
    Case("layer_without_inputs", model(edit(BASE_MODEL, "layers[0].inputs", [])),
         "layers[0].inputs", "at least 1"),
    Case("input_dim_1e9", model(edit(BASE_MODEL, "inputs[0].shape", [1, 10**9, 28, 1])),
         "inputs[0].shape[1]", "less than or equal"),
    Case("units_1e8", model(edit(BASE_MODEL, "layers[5].units", 10**8)),
         "layers[5].units", "less than or equal"),
    Case("missing_weights_file", model(edit(BASE_MODEL, "weights", "weights.npz")),
         "weights", "no such file"),
    # model.json: wiring
    Case("cycle", model(plus_layers(relu("a", "b"), relu("b", "a"))),
         "layers[7].inputs", "cycle"),
    Case("cycle_through_names_with_newlines",
         model(plus_layers(relu("a\nb", "c"), relu("c", "a\nb"))),
         "layers[7].inputs", "cycle"),
    Case("dangling_input", model(edit(BASE_MODEL, "layers[5].inputs", ["flaten"])),
         "layers[5].inputs[0]", "no input or layer named 'flaten'"),
    Case("duplicate_layer_name", model(edit(BASE_MODEL, "layers[3].name", "pool1")),
         "layers[3].name", "duplicate name 'pool1'"),
    Case("unknown_output", model(edit(BASE_MODEL, "outputs", ["fc3"])),
         "outputs[0]", "no input or layer named 'fc3'"),
    # model.json: shapes
    Case("add_shape_mismatch",
         model(plus_layers({"name": "sum", "op": "add", "inputs": ["conv1", "conv2"]})),
         "layers[7].inputs", "do not broadcast"),
    Case("matmul_k_mismatch",
         model(plus_layers({"name": "mm", "op": "matmul", "inputs": ["fc1", "w"]},
                           inputs=({"name": "w", "shape": [32, 10]},))),
         "layers[7].inputs", "inner dimensions differ"),
    Case("concat_mismatch",
         model(plus_layers({"name": "cat", "op": "concat", "inputs": ["pool1", "conv2"]})),
         "layers[7].inputs", "concat axis"),
    Case("groups_not_dividing_channels", model(edit(BASE_MODEL, "layers[2].groups", 5)),
         "layers[2].groups", "does not divide the 32 input channels"),
    Case("kernel_larger_than_input", model(edit(BASE_MODEL, "layers[0].kernel", [29, 3])),
         "layers[0].kernel", "larger than"),
    Case("conv_on_rank2_input", model(edit(BASE_MODEL, "inputs[0].shape", [28, 28])),
         "layers[0].inputs", "rank-4"),
    # model.json: the file
    Case("empty_model", model(""), None, "file is empty"),
    Case("not_json", model('{"format": '), None, "not valid JSON"),
    Case("json_top_level_list", model([BASE_MODEL]), None, "expected a JSON object"),
    Case("wrong_format", model(edit(BASE_MODEL, "format", "simaccel-model/2")),
         "format", "expected 'simaccel-model/1'"),
    Case("json_integer_too_long", model(json.dumps(BASE_MODEL)[:-1] + ', "seed": ' + "9" * 5000
                                        + "}"), None, "not valid JSON"),
    Case("json_nested_too_deeply", model("[" * 100_000 + "]" * 100_000), None,
         "nested too deeply"),
    Case("nonexistent_model", missing_model, None, "no such file"),
    Case("txt_suffix", model(BASE_MODEL, suffix=".txt"), None, "unknown model file type"),
    # hardware TOML
    Case("hw_missing_array", hardware(edit(BASE_HW, "array")), "array", "missing"),
    Case("hw_dataflow_xs", hardware(edit(BASE_HW, "array.dataflow", "xs")),
         "array.dataflow", "'os', 'ws' or 'is'"),
    Case("hw_two_bandwidths", hardware(edit(BASE_HW, "dram.bandwidth_gbps", 10.0)),
         "dram", "exactly one of bandwidth_gbps and bytes_per_cycle"),
    Case("hw_sram_zero", hardware(edit(BASE_HW, "sram.ifmap_kib", 0)),
         "sram.ifmap_kib", "greater than or equal to 0.0009765625"),
    Case("hw_rows_1e6", hardware(edit(BASE_HW, "array.rows", 10**6)),
         "array.rows", "less than or equal"),
    Case("hw_clock_is_string", hardware(edit(BASE_HW, "clock_mhz", "fast")),
         "clock_mhz", "valid number"),
    Case("hw_misspelt_field", hardware(rename(BASE_HW, "array.dataflow", "dataflw")),
         "array.dataflw", "did you mean 'dataflow'"),
    Case("hw_not_toml", hardware("[array\nrows = 32\n"), None, "not valid TOML"),
    Case("hw_empty", hardware(""), None, "file is empty"),
    Case("hw_toml_integer_too_long", hardware(f"clock_mhz = {'9' * 5000}\n"), None,
         "not valid TOML"),
    Case("hw_unknown_name", shipped_name("tpu_v9"), None,
         "no file and no shipped config named 'tpu_v9'"),
    # SCALE-Sim topology CSV
    Case("topology_non_numeric", topology(cells(1, filter_height="three")),
         "row 1.filter_height", "expected a whole number, got 'three'"),
    Case("topology_too_few_columns", topology([BASE_TOPOLOGY[0], BASE_TOPOLOGY[1][:5]]),
         "row 2", "expected 8 columns, got 5"),
    Case("topology_zero_channels", topology(cells(2, channels="0")),
         "row 2.channels", "positive integer"),
    Case("topology_filter_over_1024", topology(cells(1, ifmap_height="2000",
                                                     filter_height="1500")),
         "row 1.kernel[0]", "less than or equal to 1024"),
    Case("topology_depthwise_filters_over_2**20",
         topology(cells(1, name="DP1", channels="2048", num_filter="1024")),
         "row 1.filters", "less than or equal to 1048576"),
    Case("topology_empty_name", topology(cells(1, name="")), "row 1.name", "at least 1 character"),
    Case("topology_bad_header", topology("Layer, Height, Width\nConv1, 28, 28,\n"),
         "header", "not a SCALE-Sim topology"),
    # SCALE-Sim .cfg
    Case("cfg_missing_array_height",
         hardware(edit(BASE_CFG, "architecture_presets.ArrayHeight"), suffix=".cfg"),
         "architecture_presets.ArrayHeight", "missing"),
    Case("cfg_array_height_nan",
         hardware(edit(BASE_CFG, "architecture_presets.ArrayHeight", "nan"), suffix=".cfg"),
         "architecture_presets.ArrayHeight", "whole number"),
    Case("cfg_array_width_too_big",
         hardware(edit(BASE_CFG, "architecture_presets.ArrayWidth", "100000"), suffix=".cfg"),
         "architecture_presets.ArrayWidth", "less than or equal"),
    Case("cfg_dataflow_xs",
         hardware(edit(BASE_CFG, "architecture_presets.Dataflow", "xs"), suffix=".cfg"),
         "architecture_presets.Dataflow", "'os', 'ws' or 'is'"),
    Case("cfg_user_bandwidth_zero",
         hardware(edit(edit(BASE_CFG, "run_presets", {"InterfaceBandwidth": "USER"}),
                       "architecture_presets.Bandwidth", "0"), suffix=".cfg"),
         "architecture_presets.Bandwidth", "greater than or equal to 0.001"),
    Case("cfg_no_section_header", hardware("ArrayHeight : 32\n" + to_cfg(BASE_CFG),
                                           suffix=".cfg"),
         None, "not a valid SCALE-Sim .cfg"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_with_one_line(case: Case, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    model_arg, hw_arg, label = case.build(tmp_path)
    out = tmp_path / "out"

    code = main(["simulate", model_arg, "--hw", hw_arg, "--out", str(out)])

    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert code == 2, captured.err
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and captured.err.endswith("\n"), captured.err
    (line,) = lines
    assert line.startswith("simaccel: "), line
    where = f"{label}: {case.field}: " if case.field else f"{label}: "
    assert line.startswith("simaccel: " + where), line
    assert case.keyword in line, line
    assert not (out / "report.json").exists()
    assert not (out / "layers.csv").exists()


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 24


@pytest.mark.parametrize("build", [
    model(BASE_MODEL),
    topology(BASE_TOPOLOGY),
    hardware(BASE_CFG, suffix=".cfg"),
    # configparser must not interpolate: a '%' in a value is just a character
    hardware(edit(BASE_CFG, "general.run_name", "scale_100%"), suffix=".cfg"),
], ids=["model_json+toml", "topology_csv+toml", "model_json+cfg", "cfg_percent_sign"])
def test_base_documents_are_valid(build: Build, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The corpus's failures come from the edits, not from the base documents."""
    model_arg, hw_arg, _ = build(tmp_path)
    out = tmp_path / "out"
    assert main(["simulate", model_arg, "--hw", hw_arg, "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""
    assert (out / "report.json").is_file()
    assert (out / "layers.csv").is_file()
