"""An imported ONNX model against onnxruntime: the same inputs through onnxruntime and
through simaccel's fp32 execution of the tiled schedule, and the largest difference per
output. onnxruntime is an optional extra (``pip install 'simaccel[compare]'``), imported
only here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simaccel.domain import DType
from simaccel.errors import InputError
from simaccel.hardware import Hardware
from simaccel.model import Model


@dataclass(frozen=True)
class OutputDiff:
    """One model output: its ONNX name and shape, the largest |simaccel − onnxruntime| and
    the largest |onnxruntime| (for a relative reading)."""

    name: str
    shape: tuple[int, ...]
    max_abs_diff: float
    max_abs_reference: float

    @property
    def relative(self) -> float:
        return self.max_abs_diff / self.max_abs_reference if self.max_abs_reference else \
            self.max_abs_diff


def _largest_difference(got: np.ndarray, want: np.ndarray) -> float:
    """The largest |got − want|: values that are equal (the same infinity) or both NaN agree;
    any other NaN or infinity on either side is an infinite difference, never a NaN that
    would compare as agreement."""
    if got.shape != want.shape:
        return float("inf")
    with np.errstate(invalid="ignore", over="ignore"):
        agree = (got == want) | (np.isnan(got) & np.isnan(want))
        delta = np.where(agree, 0.0, np.abs(got - want))
    return float(np.nan_to_num(delta, nan=np.inf).max(initial=0.0))


def fp32(hw: Hardware) -> Hardware:
    """``hw`` with fp32 operands and accumulators (what onnxruntime computes in)."""
    dtypes = hw.dtypes.model_copy(update={"input": DType.FP32, "weight": DType.FP32,
                                          "accumulator": DType.FP32})
    return hw.model_copy(update={"dtypes": dtypes})


def onnx_feeds(path: Path, given: Mapping[str, np.ndarray], dims: Mapping[str, int],
               seed: int = 0) -> dict[str, np.ndarray]:
    """An input per ONNX graph input, in ONNX layout and dtype: ``given`` by name, else
    random (standard normal; 0 and 1 for integer inputs), symbolic dimensions from ``dims``
    (default 1)."""
    import onnx
    from onnx import helper

    proto = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in proto.graph.initializer}
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in proto.graph.input:
        if inp.name in inits:
            continue
        t = inp.type.tensor_type
        dtype = helper.tensor_dtype_to_np_dtype(t.elem_type)
        shape = tuple(d.dim_value if d.WhichOneof("value") == "dim_value" else dims.get(
            d.dim_param, 1) for d in t.shape.dim)
        if inp.name in given:
            value = np.asarray(given[inp.name])
            if value.shape != shape:
                raise InputError(f"--input {inp.name}", "", f"shape {list(value.shape)}, the "
                                 f"model's input is {list(shape)}")
            feeds[inp.name] = value.astype(dtype)
        elif np.issubdtype(dtype, np.integer) or dtype == np.bool_:
            feeds[inp.name] = rng.integers(0, 2, shape).astype(dtype)
        else:
            feeds[inp.name] = rng.standard_normal(shape).astype(dtype)
    unknown = sorted(set(given) - set(feeds))
    if unknown:
        raise InputError(f"--input {unknown[0]}", "", "the model has no input of that name "
                         f"(it has: {', '.join(feeds)})")
    return feeds


def simaccel_inputs(model: Model, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """ONNX-layout inputs as the imported model takes them (NCHW images become NHWC)."""
    out = {}
    for onnx_name, name, axes in model.onnx_inputs:
        value = np.asarray(feeds[onnx_name], dtype=np.float64)
        out[name] = value.transpose(axes) if axes is not None else value
    return out


def onnx_outputs(model: Model, outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """simaccel's outputs in ONNX layout, by ONNX output name."""
    return {onnx_name: outputs[name].transpose(axes) if axes is not None else outputs[name]
            for onnx_name, name, axes in model.onnx_outputs}


def run_onnxruntime(path: Path, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError(str(path), "", "compare needs onnxruntime: pip install "
                         "'simaccel[compare]'") from None
    options = ort.SessionOptions()
    options.log_severity_level = _ORT_LOG_FATAL  # its reason is raised, never logged raw
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(None, dict(feeds)), strict=True))
    except _ort_errors(ort) as exc:
        raise InputError(str(path), "", "onnxruntime cannot run this model: "
                         + _ort_reason(str(exc))) from None


_ORT_LOG_FATAL = 4
"""onnxruntime's ``log_severity_level`` for fatal only (0 verbose ... 4 fatal; its
``SessionOptions`` documentation)."""


def _ort_errors(ort: object) -> tuple[type[Exception], ...]:
    """The exception types onnxruntime raises for a model or input it cannot run (its
    ``onnxruntime_pybind11_state`` status classes, one per ONNX Runtime status code)."""
    state = ort.capi.onnxruntime_pybind11_state  # type: ignore[attr-defined]
    names = ("Fail", "InvalidArgument", "NoSuchFile", "NoModel", "EngineError",
             "RuntimeException", "InvalidProtobuf", "ModelLoaded", "NotImplemented",
             "InvalidGraph", "EPFail", "NotFound", "ModelRequiresCompilation")
    return tuple(getattr(state, n) for n in names if hasattr(state, n))


def _ort_reason(text: str) -> str:
    """onnxruntime's message without its status prefix: ``[ONNXRuntimeError] : 2 :
    INVALID_ARGUMENT : Non-zero status code returned while running Conv node. Name:'y'
    Status Message: Dilation not supported ...`` becomes ``Conv node 'y': Dilation not
    supported ...``."""
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text.strip())
    node = re.match(r"Non-zero status code returned while running (\w+) node\. "
                    r"Name:'([^']*)' Status Message: (.*)", text, re.S)
    return f"{node[1]} node '{node[2]}': {node[3]}" if node else text


def compare(path: Path, model: Model, hw: Hardware, given: Mapping[str, np.ndarray],
            dims: Mapping[str, int]) -> tuple[list[OutputDiff], object]:
    """Each output's largest difference between onnxruntime and simaccel's fp32 run of
    ``model`` (imported from ``path``) on ``hw``; and simaccel's report."""
    from simaccel.pipeline import simulate

    feeds = onnx_feeds(path, given, dims)
    theirs = run_onnxruntime(path, feeds)
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite outputs are reported
        report = simulate(model, fp32(hw), check=True, inputs=simaccel_inputs(model, feeds))
    ours = onnx_outputs(model, report.numerics.outputs)
    rows = []
    for name, want in theirs.items():
        if name not in ours:  # a constant output, folded at import
            continue
        got = ours[name]
        want = np.asarray(want, dtype=np.float64)
        rows.append(OutputDiff(name, tuple(want.shape), _largest_difference(got, want),
                               float(np.abs(want[np.isfinite(want)]).max(initial=0.0))))
    return rows, report
