"""ONNX standard-domain ops that run on the vector unit, one registry entry per op: its kind
(``eltwise``, ``reduce`` or ``move``), its cost in vector operations per output element and
its meaning in float64 numpy (the numerics reference). The ONNX frontend translates every op
listed here into an `OnnxOp` layer; lowering reads the cost, the numerics the function.

Operands arrive in ONNX order as float64 arrays (integer and boolean tensors as their values:
token ids, masks, shape vectors); an absent optional operand is None. Data movement costs
one operation per element: its time is the bytes it reads and writes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from simaccel import ops_onnx_move as mv
from simaccel import ops_onnx_sample as smp
from simaccel import ops_onnx_select as sel
from simaccel.ops_onnx_move import as_int

Fn = Callable[[list[Any], dict[str, Any]], np.ndarray]


@dataclass(frozen=True)
class OpDef:
    """One ONNX op: ``kind`` (``eltwise``/``reduce``/``move``), vector ops per output
    element (for reductions: per element read) and the numpy function. ``gathers``: it
    reads from its first operand only the elements it outputs (an embedding lookup reads
    its rows, not the table)."""

    kind: str
    cost: int
    fn: Fn
    gathers: bool = False


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, to 1.2e-7 (Numerical Recipes' erfc Chebyshev fit)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    return np.sign(x) * (1.0 - t * np.exp(poly))


def _unary(f: Callable[..., np.ndarray], cost: int = 1) -> OpDef:
    return OpDef("eltwise", cost, lambda v, a: f(v[0]))


def _binary(f: Callable[..., np.ndarray], cost: int = 1) -> OpDef:
    return OpDef("eltwise", cost, lambda v, a: f(v[0], v[1]))


def _variadic(f: Callable[..., np.ndarray]) -> OpDef:
    def run(v: list, a: dict) -> np.ndarray:
        out = v[0]
        for x in v[1:]:
            out = f(out, x)
        return out
    return OpDef("eltwise", 1, run)


def _mean(v: list, a: dict) -> np.ndarray:
    return sum(np.broadcast_arrays(*v)) / len(v)


def _div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.divide(x, y)


def _clip(v: list, a: dict) -> np.ndarray:
    lo = v[1] if len(v) > 1 and v[1] is not None and np.size(v[1]) else a.get("min", -np.inf)
    hi = v[2] if len(v) > 2 and v[2] is not None and np.size(v[2]) else a.get("max", np.inf)
    return np.minimum(np.maximum(v[0], lo), hi)


def _gelu(v: list, a: dict) -> np.ndarray:
    x = v[0]
    if a.get("approximate", "none") == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _cast(v: list, a: dict) -> np.ndarray:
    to = int(a.get("to", 1))
    x = v[0]
    if to == 9:  # BOOL
        return (x != 0).astype(np.float64)
    if to in (2, 3, 4, 5, 6, 7, 12, 13):  # integer types truncate toward zero
        return np.trunc(x)
    if to == 10:  # FLOAT16
        return x.astype(np.float16).astype(np.float64)
    if to == 1:  # FLOAT
        return x.astype(np.float32).astype(np.float64)
    return x


def _where(v: list, a: dict) -> np.ndarray:
    return np.where(v[0] != 0, v[1], v[2])


def _bool(f: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    return lambda *x: f(*x).astype(np.float64)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


_QRANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767),
           "uint16": (0, 65535), "int32": (-(2**31), 2**31 - 1)}


def _quantize(v: list, a: dict) -> np.ndarray:
    """QuantizeLinear: saturate(round(x / scale) + zero point), ties to even; scale and zero
    point arrive broadcastable (the frontend lays a per-axis one along its axis)."""
    zp = v[2] if len(v) > 2 and v[2] is not None and np.size(v[2]) else 0.0
    lo, hi = _QRANGE[a.get("zero_point_type", "uint8")]
    return np.clip(np.rint(v[0] / v[1]) + zp, lo, hi)


def _dequantize(v: list, a: dict) -> np.ndarray:
    zp = v[2] if len(v) > 2 and v[2] is not None and np.size(v[2]) else 0.0
    return (v[0] - zp) * v[1]


ELTWISE: dict[str, OpDef] = {
    "QuantizeLinear": OpDef("eltwise", 2, _quantize),
    "DequantizeLinear": OpDef("eltwise", 2, _dequantize),
    "Add": _variadic(np.add), "Sub": _binary(np.subtract), "Mul": _variadic(np.multiply),
    "Div": _binary(_div), "Pow": _binary(np.power, 4), "Max": _variadic(np.maximum),
    "Min": _variadic(np.minimum), "Sum": _variadic(np.add), "Mean": OpDef("eltwise", 1, _mean),
    "Mod": OpDef("eltwise", 2, lambda v, a: np.fmod(v[0], v[1]) if a.get("fmod", 0)
                 else np.mod(v[0], v[1])),
    "Neg": _unary(np.negative), "Abs": _unary(np.abs), "Reciprocal": _unary(lambda x: 1.0 / x),
    "Sqrt": _unary(np.sqrt, 4), "Exp": _unary(np.exp, 4), "Log": _unary(np.log, 4),
    "Erf": _unary(erf, 4), "Tanh": _unary(np.tanh, 4),
    "Sigmoid": _unary(lambda x: 1.0 / (1.0 + np.exp(-x)), 4),
    "Relu": _unary(lambda x: np.maximum(x, 0.0)),
    "LeakyRelu": OpDef("eltwise", 2, lambda v, a: np.where(v[0] >= 0, v[0],
                                                          v[0] * a.get("alpha", 0.01))),
    "PRelu": OpDef("eltwise", 2, lambda v, a: np.where(v[0] >= 0, v[0], v[0] * v[1])),
    "Elu": OpDef("eltwise", 4, lambda v, a: np.where(v[0] > 0, v[0], a.get("alpha", 1.0) * (
        np.exp(np.minimum(v[0], 0)) - 1))),
    "Selu": OpDef("eltwise", 4, lambda v, a: a.get("gamma", 1.0507009873554805) * np.where(
        v[0] > 0, v[0], a.get("alpha", 1.6732632423543772) * (np.exp(np.minimum(v[0], 0)) - 1))),
    "Celu": OpDef("eltwise", 4, lambda v, a: np.maximum(0, v[0]) + np.minimum(
        0, a.get("alpha", 1.0) * (np.exp(v[0] / a.get("alpha", 1.0)) - 1))),
    "Softplus": _unary(_softplus, 4), "Softsign": _unary(lambda x: x / (1 + np.abs(x)), 2),
    "HardSigmoid": OpDef("eltwise", 2, lambda v, a: np.clip(
        a.get("alpha", 0.2) * v[0] + a.get("beta", 0.5), 0.0, 1.0)),
    "HardSwish": _unary(lambda x: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0), 3),
    "Mish": _unary(lambda x: x * np.tanh(_softplus(x)), 8),
    "Gelu": OpDef("eltwise", 8, _gelu),
    "ThresholdedRelu": OpDef("eltwise", 1, lambda v, a: np.where(
        v[0] > a.get("alpha", 1.0), v[0], 0.0)),
    "Sin": _unary(np.sin, 4), "Cos": _unary(np.cos, 4), "Tan": _unary(np.tan, 4),
    "Atan": _unary(np.arctan, 4), "Asin": _unary(np.arcsin, 4), "Acos": _unary(np.arccos, 4),
    "Sinh": _unary(np.sinh, 4), "Cosh": _unary(np.cosh, 4),
    "Floor": _unary(np.floor), "Ceil": _unary(np.ceil), "Round": _unary(np.rint),
    "Sign": _unary(np.sign), "Clip": OpDef("eltwise", 2, _clip),
    "Where": OpDef("eltwise", 1, _where),
    "Equal": _binary(_bool(np.equal)), "Less": _binary(_bool(np.less)),
    "LessOrEqual": _binary(_bool(np.less_equal)), "Greater": _binary(_bool(np.greater)),
    "GreaterOrEqual": _binary(_bool(np.greater_equal)),
    "Not": _unary(lambda x: (x == 0).astype(np.float64)),
    "And": _binary(_bool(lambda x, y: (x != 0) & (y != 0))),
    "Or": _binary(_bool(lambda x, y: (x != 0) | (y != 0))),
    "Xor": _binary(_bool(lambda x, y: (x != 0) ^ (y != 0))),
    "IsNaN": _unary(_bool(np.isnan)), "IsInf": _unary(_bool(np.isinf)),
    "Cast": OpDef("eltwise", 1, _cast), "CastLike": OpDef("eltwise", 1, lambda v, a: v[0]),
}


# -- reductions -----------------------------------------------------------------------------

def _axes(v: list, a: dict, rank: int) -> tuple[int, ...] | None:
    """Reduction axes from the attribute (opset < 18) or the second operand; None: all."""
    axes = a.get("axes")
    if axes is None and len(v) > 1 and v[1] is not None and np.size(v[1]):
        axes = as_int(v[1]).reshape(-1).tolist()
    if axes is None or len(axes) == 0:
        return None
    return tuple(int(x) % rank for x in axes)


def _reduce(f: Callable[..., np.ndarray]) -> OpDef:
    def run(v: list, a: dict) -> np.ndarray:
        x = v[0]
        axes = _axes(v, a, x.ndim)
        if axes is None and a.get("noop_with_empty_axes", 0):
            return x
        return f(x, axis=axes, keepdims=bool(a.get("keepdims", 1)))
    return OpDef("reduce", 1, run)


def _arg(f: Callable[..., np.ndarray]) -> OpDef:
    def run(v: list, a: dict) -> np.ndarray:
        x, axis = v[0], int(a.get("axis", 0)) % v[0].ndim
        if a.get("select_last_index", 0):
            flipped = np.flip(x, axis)
            out = x.shape[axis] - 1 - f(flipped, axis=axis)
        else:
            out = f(x, axis=axis)
        out = out.astype(np.float64)
        return np.expand_dims(out, axis) if a.get("keepdims", 1) else out
    return OpDef("reduce", 1, run)


def _logsoftmax(v: list, a: dict) -> np.ndarray:
    axis = int(a.get("axis", -1))
    x = v[0] - v[0].max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def _norm_axes(x: np.ndarray, first: int) -> tuple[int, ...]:
    return tuple(range(first % x.ndim, x.ndim))


def _layernorm(v: list, a: dict) -> np.ndarray:
    x = v[0]
    axes = _norm_axes(x, int(a.get("axis", -1)))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + a.get("epsilon", 1e-5)) * v[1]
    return y + v[2] if len(v) > 2 and v[2] is not None and np.size(v[2]) else y


def _instancenorm(v: list, a: dict) -> np.ndarray:
    x = v[0]
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean) / np.sqrt(var + a.get("epsilon", 1e-5)) * v[1].reshape(shape) \
        + v[2].reshape(shape)


def _groupnorm(v: list, a: dict) -> np.ndarray:
    x = v[0]
    g = int(a["num_groups"])
    grouped = x.reshape(x.shape[0], g, -1)
    mean = grouped.mean(axis=2, keepdims=True)
    var = grouped.var(axis=2, keepdims=True)
    y = ((grouped - mean) / np.sqrt(var + a.get("epsilon", 1e-5))).reshape(x.shape)
    c = x.shape[1]
    shape = (1, -1) + (1,) * (x.ndim - 2)
    scale, bias = v[1], v[2]
    if scale.size != c:  # opset 18-20: per group
        scale, bias = np.repeat(scale, c // g), np.repeat(bias, c // g)
    return y * scale.reshape(shape) + bias.reshape(shape)


def _lpnorm(v: list, a: dict) -> np.ndarray:
    axis, p = int(a.get("axis", -1)), int(a.get("p", 2))
    norm = np.linalg.norm(v[0], ord=p, axis=axis, keepdims=True) if p == 2 else np.abs(
        v[0]).sum(axis=axis, keepdims=True)
    return v[0] / norm


def _mvn(v: list, a: dict) -> np.ndarray:
    axes = tuple(a.get("axes", (0, 2, 3)))
    x = v[0]
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + 1e-9)


REDUCE: dict[str, OpDef] = {
    "ReduceMean": _reduce(np.mean), "ReduceSum": _reduce(np.sum), "ReduceMax": _reduce(np.max),
    "ReduceMin": _reduce(np.min), "ReduceProd": _reduce(np.prod),
    "ReduceL1": _reduce(lambda x, axis, keepdims: np.abs(x).sum(axis=axis, keepdims=keepdims)),
    "ReduceL2": _reduce(lambda x, axis, keepdims: np.sqrt((x * x).sum(axis=axis,
                                                                      keepdims=keepdims))),
    "ReduceSumSquare": _reduce(lambda x, axis, keepdims: (x * x).sum(axis=axis,
                                                                     keepdims=keepdims)),
    "ReduceLogSum": _reduce(lambda x, axis, keepdims: np.log(x.sum(axis=axis,
                                                                   keepdims=keepdims))),
    "ReduceLogSumExp": _reduce(lambda x, axis, keepdims: np.log(np.exp(x).sum(
        axis=axis, keepdims=keepdims))),
    "ArgMax": _arg(np.argmax), "ArgMin": _arg(np.argmin),
    "LogSoftmax": OpDef("reduce", 5, _logsoftmax),
    "LayerNormalization": OpDef("reduce", 8, _layernorm),
    "InstanceNormalization": OpDef("reduce", 8, _instancenorm),
    "GroupNormalization": OpDef("reduce", 8, _groupnorm),
    "LpNormalization": OpDef("reduce", 4, _lpnorm),
    "MeanVarianceNormalization": OpDef("reduce", 8, _mvn),
    # a compare per element read, as ArgMax, and the index carried with it
    "TopK": OpDef("reduce", 2, sel.topk),
}


# -- data movement --------------------------------------------------------------------------

MOVE: dict[str, OpDef] = {
    "Slice": OpDef("move", 1, mv.slice_, gathers=True),
    "Gather": OpDef("move", 1, mv.gather, gathers=True),
    "GatherElements": OpDef("move", 1, mv.gather_elements, gathers=True),
    "GatherND": OpDef("move", 1, mv.gather_nd, gathers=True), "Pad": OpDef("move", 1, mv.pad),
    "Expand": OpDef("move", 1, mv.expand), "Tile": OpDef("move", 1, mv.tile),
    "Resize": OpDef("move", 2, mv.resize), "DepthToSpace": OpDef("move", 1, mv.depth_to_space),
    "SpaceToDepth": OpDef("move", 1, mv.space_to_depth), "Trilu": OpDef("move", 1, mv.trilu),
    "CumSum": OpDef("move", 1, mv.cumsum), "ScatterND": OpDef("move", 1, mv.scatter_nd),
    "ScatterElements": OpDef("move", 1, mv.scatter_elements),
    # four taps, each weighted and added: as Resize's linear mode, per tap
    "GridSample": OpDef("move", 4, smp.grid_sample),
    "OneHot": OpDef("move", 1, mv.one_hot),
    "Transpose": OpDef("move", 1, lambda v, a: np.transpose(v[0], a.get("perm"))),
    "Identity": OpDef("move", 1, lambda v, a: v[0]),
    "Concat": OpDef("move", 1, lambda v, a: np.concatenate(v, axis=int(a["axis"]))),
}

#: Internal ops the frontend builds from ONNX ones (not in the ONNX standard).
INTERNAL: dict[str, OpDef] = {"ConvTransposeOverlapAdd": OpDef("reduce", 1, mv.overlap_add)}

#: Every op, by ONNX name.
OPS: dict[str, OpDef] = {**ELTWISE, **REDUCE, **MOVE, **INTERNAL}


def run(onnx_op: str, operands: list[Any], attributes: dict[str, Any]) -> np.ndarray:
    """``onnx_op`` applied to ``operands`` (ONNX order) in float64, with IEEE results where
    they are infinite or undefined (1/0 is inf, as in onnxruntime; no warning printed)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(OPS[onnx_op].fn(operands, attributes), dtype=np.float64)


def elements_read(onnx_op: str, operands, output_elements: int) -> int:
    """Elements the op reads, from ``operands`` ((position, shape) pairs, activations and
    constants): all of them, except that a gathering op reads only its output's worth of
    its data (the first operand)."""
    gathers = OPS[onnx_op].gathers
    return sum(min(output_elements, math.prod(shape)) if gathers and pos == 0 else
               math.prod(shape) for pos, shape in operands)


def ops_per_element(onnx_op: str, input_elements: int, output_elements: int) -> int:
    """Vector operations per output element: a reduction does its cost per element read."""
    op = OPS[onnx_op]
    if op.kind == "reduce":
        return max(1, math.ceil(op.cost * input_elements / max(output_elements, 1)))
    return op.cost
