"""Property tests of the model.json and hardware loaders.

(a) Random valid conv/pool/dense chains load, and every windowed layer's inferred shape
    matches the sliding-window formula written out independently here.
(b) Random JSON-like garbage, and random mutations of a valid model document, either load or
    raise `InputError` naming the source: never any other exception.
(c) The same for random mutations of a valid hardware table.
"""

from __future__ import annotations

import copy
import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simaccel.errors import InputError
from simaccel.frontends.hardware_toml import parse_hardware
from simaccel.frontends.model_json import parse_model
from simaccel.graph import build_graph
from simaccel.hardware import Hardware
from simaccel.model import OPS
from tests.helpers import shipped_hw_dict


def examples(n: int) -> settings:
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- (a) valid chains -------------------------------------------------------------------------


def expected_window(size: int, k: int, s: int, d: int, pads: tuple[int, int] | None) -> int:
    """Output length of a sliding window; ``pads=None`` means ``same`` padding."""
    if pads is None:
        return math.ceil(size / s)
    return math.floor((size + pads[0] + pads[1] - d * (k - 1) - 1) / s) + 1


@st.composite
def padding_for(draw: st.DrawFn) -> tuple[object, tuple[int, int, int, int] | None]:
    """A padding value as written in model.json, and the (top, bottom, left, right) it means
    (None for ``same``)."""
    kind = draw(st.sampled_from(["same", "valid", "int", "pair", "four"]))
    small = st.integers(0, 3)
    if kind == "same":
        return "same", None
    if kind == "valid":
        return "valid", (0, 0, 0, 0)
    if kind == "int":
        p = draw(small)
        return p, (p, p, p, p)
    if kind == "pair":
        ph, pw = draw(small), draw(small)
        return [ph, pw], (ph, ph, pw, pw)
    four = (draw(small), draw(small), draw(small), draw(small))
    return list(four), four


@st.composite
def window_params(draw: st.DrawFn, h: int, w: int, dilated: bool, stride: bool = True
                  ) -> tuple[dict, tuple[int, int]]:
    """Padding, kernel, stride and dilation that fit an ``h`` x ``w`` input, and the output
    size by `expected_window`. Without ``stride`` it is left out and is the window size."""
    padding, pads = draw(padding_for())
    pt, pb, pl, pr = pads if pads is not None else (0, 0, 0, 0)
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilated else (1, 1)
    if pads is None:  # same: any window fits
        k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    else:  # the dilated window must fit the padded input
        k = (draw(st.integers(1, min(5, (h + pt + pb - 1) // d[0] + 1))),
             draw(st.integers(1, min(5, (w + pl + pr - 1) // d[1] + 1))))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if stride else k
    params = {"k": list(k), "padding": padding} | ({"stride": list(s)} if stride else {})
    if dilated:
        params["dilation"] = list(d)
    out = (expected_window(h, k[0], s[0], d[0], None if pads is None else (pt, pb)),
           expected_window(w, k[1], s[1], d[1], None if pads is None else (pl, pr)))
    return params, out


@st.composite
def chains(draw: st.DrawFn) -> tuple[dict, dict[str, tuple[int, ...]]]:
    """A valid model.json document of conv/pool layers, maybe ending in flatten + dense, and
    the shape every layer must infer."""
    h, w, c = draw(st.integers(1, 40)), draw(st.integers(1, 40)), draw(st.integers(1, 12))
    doc = {"format": "simaccel-model/1", "name": "chain",
           "inputs": [{"name": "x", "shape": [1, h, w, c]}], "layers": []}
    expected: dict[str, tuple[int, ...]] = {}
    previous = "x"
    for i in range(draw(st.integers(1, 4))):
        name = f"l{i}"
        if draw(st.booleans()):
            groups = draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
            filters = groups * draw(st.integers(1, 4))
            params, (h, w) = draw(window_params(h, w, dilated=True))
            layer = {"name": name, "op": "conv2d", "inputs": [previous], "filters": filters,
                     "kernel": params.pop("k"), "groups": groups, **params}
            c = filters
        else:
            params, (h, w) = draw(window_params(h, w, dilated=False, stride=draw(st.booleans())))
            layer = {"name": name, "op": draw(st.sampled_from(["maxpool2d", "avgpool2d"])),
                     "inputs": [previous], "pool": params.pop("k"), **params}
        doc["layers"].append(layer)
        expected[name] = (1, h, w, c)
        previous = name
    if draw(st.booleans()):
        units = draw(st.integers(1, 64))
        doc["layers"] += [{"name": "flat", "op": "flatten", "inputs": [previous]},
                          {"name": "fc", "op": "dense", "inputs": ["flat"], "units": units}]
        expected |= {"flat": (1, h * w * c), "fc": (1, units)}
    return doc, expected


@examples(300)
@given(chains())
def test_valid_chains_load_with_the_window_formula(chain: tuple[dict, dict]) -> None:
    doc, expected = chain
    model = parse_model(json.loads(json.dumps(doc)), source="<chain>")
    graph = build_graph(model)
    assert dict(graph.shapes) == {"x": tuple(doc["inputs"][0]["shape"]), **expected}
    assert model.outputs == (doc["layers"][-1]["name"],)


def test_window_formula_examples() -> None:
    """The independent formula itself, on cases worked by hand."""
    assert expected_window(28, 3, 1, 1, (0, 0)) == 26
    assert expected_window(28, 2, 2, 1, (0, 0)) == 14
    assert expected_window(7, 3, 2, 1, (1, 1)) == 4
    assert expected_window(10, 3, 1, 2, (0, 0)) == 6
    assert expected_window(7, 3, 2, 1, None) == 4
    assert expected_window(1, 5, 3, 3, None) == 1


# --- (b) model garbage ------------------------------------------------------------------------

MODEL_KEYS = ["format", "name", "inputs", "layers", "outputs", "shape", "dtype", "op", "filters",
              "kernel", "stride", "padding", "dilation", "groups", "units", "pool", "axis",
              "perm", "transpose_b", "epsilon", "weights", "seed", "activation", "bias"]
WORDS = [*OPS, "simaccel-model/1", "same", "valid", "fp32", "int8", "relu", "x", "c1", "a", ""]

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
           | st.text(max_size=6) | st.sampled_from(WORDS) | st.integers(-3, 40))
keys = st.sampled_from(MODEL_KEYS) | st.text(max_size=6)
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25)

#: A valid model using every op, so that mutations reach every layer type's checks.
ZOO: dict = {
    "format": "simaccel-model/1",
    "name": "zoo",
    "inputs": [{"name": "image", "shape": [1, 16, 16, 4]},
               {"name": "tokens", "shape": [2, 8, 32], "dtype": "bf16"},
               {"name": "w", "shape": [32, 16]}],
    "layers": [
        {"name": "c1", "op": "conv2d", "inputs": ["image"], "filters": 8, "kernel": 3,
         "stride": 1, "padding": "same", "groups": 2, "activation": "relu6"},
        {"name": "bn", "op": "batchnorm", "inputs": ["c1"], "epsilon": 0.001},
        {"name": "r", "op": "relu", "inputs": ["bn"]},
        {"name": "p1", "op": "maxpool2d", "inputs": ["r"], "pool": 2, "stride": 2},
        {"name": "p2", "op": "avgpool2d", "inputs": ["r"], "pool": [2, 2], "padding": [0, 0]},
        {"name": "sum", "op": "add", "inputs": ["p1", "p2"]},
        {"name": "cat", "op": "concat", "inputs": ["p1", "sum"], "axis": -1},
        {"name": "gap", "op": "global_avgpool", "inputs": ["cat"]},
        {"name": "flat", "op": "flatten", "inputs": ["p1"]},
        {"name": "fc", "op": "dense", "inputs": ["flat"], "units": 16, "bias": False},
        {"name": "sum2", "op": "add", "inputs": ["gap", "fc"]},
        {"name": "sm", "op": "softmax", "inputs": ["sum2"], "axis": 1},
        {"name": "ln", "op": "layernorm", "inputs": ["tokens"]},
        {"name": "mm", "op": "matmul", "inputs": ["ln", "w"]},
        {"name": "rs", "op": "reshape", "inputs": ["mm"], "shape": [2, -1]},
        {"name": "tp", "op": "transpose", "inputs": ["mm"], "perm": [0, 2, 1]},
        {"name": "ge", "op": "gelu", "inputs": ["tp"]},
        {"name": "att", "op": "matmul", "inputs": ["tokens", "tokens"], "transpose_b": True,
         "scale": 0.125},
        {"name": "sg", "op": "sigmoid", "inputs": ["att"]},
        {"name": "th", "op": "tanh", "inputs": ["sg"]},
    ],
}


#: values that keep a mutated document plausible, so that mutations get past the schema to
#: the wiring and shape checks: layer and input names, small sizes and lists of them
ZOO_NAMES = [t["name"] for t in ZOO["inputs"] + ZOO["layers"]]
plausible = (st.sampled_from(ZOO_NAMES) | st.integers(-2, 64)
             | st.lists(st.sampled_from(ZOO_NAMES) | st.integers(-1, 64), min_size=1, max_size=4))


def _slots(node: object, path: tuple = ()) -> list[tuple]:
    """Paths to every value inside ``node`` (dict keys and list indices)."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, value in items:
        out.append(path + (key,))
        out += _slots(value, path + (key,))
    return out


@st.composite
def mutations(draw: st.DrawFn, base: dict, values: st.SearchStrategy) -> dict:
    """``base`` with one to three random edits: drop a key or list item, replace a value, or
    add a key."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(doc)
        if not slots:
            break
        *parent_path, key = draw(st.sampled_from(slots))
        parent = doc
        for step in parent_path:
            parent = parent[step]
        action = draw(st.sampled_from(["drop", "replace", "add"]))
        if action == "drop":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(values)
        elif isinstance(parent, dict):
            parent[draw(keys)] = draw(values)
        else:
            parent.insert(key, draw(values))
    return doc


def _parse_and_build(data: object, source: str) -> None:
    try:
        build_graph(parse_model(data, source=source))
    except InputError as exc:
        assert str(exc).startswith(source), str(exc)


def test_zoo_is_valid() -> None:
    graph = build_graph(parse_model(copy.deepcopy(ZOO), source="<zoo>"))
    assert graph.shapes["cat"] == (1, 8, 8, 16)
    assert graph.shapes["att"] == (2, 8, 8)


@examples(300)
@given(json_like)
def test_garbage_models_raise_only_input_error(data: object) -> None:
    _parse_and_build(data, "<garbage>")


@examples(300)
@given(st.fixed_dictionaries({"format": st.just("simaccel-model/1")},
                             optional={k: json_like for k in MODEL_KEYS if k != "format"}))
def test_garbage_with_the_right_format_raises_only_input_error(data: dict) -> None:
    _parse_and_build(data, "<garbage>")


@examples(500)
@given(mutations(ZOO, plausible | json_like))
def test_mutated_models_raise_only_input_error(doc: dict) -> None:
    _parse_and_build(doc, "model.json")


# --- (c) hardware -----------------------------------------------------------------------------

BASE_HW: dict = shipped_hw_dict("scalesim_default")
HW_WORDS = ["os", "ws", "is", "int8", "int16", "int32", "bf16", "fp16", "fp32", "inf", "nan"]
toml_scalars = (st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6)
                | st.sampled_from(HW_WORDS) | st.integers(-2, 20000)
                | st.sampled_from([0.0, 1e-9, 1e6, 1e7, float("inf"), float("nan")]))
toml_like = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12)


def test_base_hw_is_valid() -> None:
    assert isinstance(parse_hardware(copy.deepcopy(BASE_HW), "<hw>"), Hardware)


@examples(400)
@given(mutations(BASE_HW, toml_like))
def test_mutated_hardware_raises_only_input_error(data: dict) -> None:
    try:
        hw = parse_hardware(data, "hw.toml")
    except InputError as exc:
        assert str(exc).startswith("hw.toml"), str(exc)
    else:
        assert hw.array.pes > 0
        assert hw.dram_bytes_per_cycle > 0
        assert hw.dram_latency_cycles >= 0
