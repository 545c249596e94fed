"""The network as the user described it: named inputs and a list of layers (one per op).

Layer specs are frozen pydantic models, one class per op, so that every frontend (model.json,
ONNX, SCALE-Sim topology) builds the same validated objects and every later stage reads typed,
normalised attributes (``kernel`` is always a pair, ``padding`` a keyword or four integers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from simaccel.bounds import Bool, Int, Real, Str
from simaccel.domain import DType

MODEL_FORMAT = "simaccel-model/1"

#: Largest value accepted for any one dimension, channel count or unit count.
MAX_DIM = 1 << 20
#: Largest window (kernel, pool), stride, dilation or padding accepted.
MAX_WINDOW = 1024

#: Smallest and largest magnitude of a matmul ``scale``.
SCALE_RANGE = (1e-12, 1e12)

Pos = Annotated[Int, Field(gt=0, le=MAX_DIM)]
Window = Annotated[Int, Field(gt=0, le=MAX_WINDOW)]
Pad = Annotated[Int, Field(ge=0, le=MAX_WINDOW)]
Axis = Annotated[Int, Field(ge=-8, le=7)]
Epsilon = Annotated[Real, Field(gt=0, lt=1)]


def _printable(name: str) -> str:
    """A name holds no control character (newline, tab, NUL, DEL: ASCII 0–31 and 127),
    which would break the one-line messages, tables and CSV rows it is printed in."""
    bad = _CONTROL.search(name)
    if bad is not None:
        raise ValueError(f"a name may not hold a control character ({bad.group()!r})")
    return name


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


Name = Annotated[Str, Field(min_length=1, max_length=256), AfterValidator(_printable)]

ACTIVATIONS = ("relu", "relu6", "sigmoid", "tanh", "gelu", "gelu_tanh", "softmax")
Activation = Literal["relu", "relu6", "sigmoid", "tanh", "gelu", "gelu_tanh", "softmax"]
Padding = Literal["same", "valid"] | tuple[Pad, Pad, Pad, Pad]


def natural_key(name: str) -> tuple:
    """Sort key of a name with its digit runs compared as numbers: ``conv2 < conv10``."""
    return tuple((0, len(part.lstrip("0")), part.lstrip("0")) if part[0] in "0123456789"
                 else (1, 0, part) for part in re.split(r"([0-9]+)", name) if part) + (
        (2, 0, name),)


def _pair(value: object) -> object:
    """Accept ``3`` as ``(3, 3)``; leave anything else for the type check."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    return value


def _padding(value: object) -> object:
    """Accept ``[ph, pw]`` as ``(ph, ph, pw, pw)`` and an int as four equal sides; a list
    (or int) is refused saying what is wrong with it: the sides are 4 (or 2, or 1)
    integers 0 … `MAX_WINDOW`."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple):
        return value  # a keyword ('same', 'valid') or anything else: the type check says
    if len(value) not in (1, 2, 4):
        raise ValueError(f"expected 'same', 'valid' or [top, bottom, left, right] (also "
                         f"[h, w] or one integer), got a list of {len(value)}")
    for side in value:
        if isinstance(side, bool) or not isinstance(side, int):
            raise ValueError(f"the sides are integers 0 … {MAX_WINDOW}, not {side!r}")
        if not 0 <= side <= MAX_WINDOW:
            raise ValueError(f"the sides are integers 0 … {MAX_WINDOW}, not {side}")
    if len(value) == 1:
        return tuple(value) * 4
    if len(value) == 2:
        return (value[0], value[0], value[1], value[1])
    return tuple(value)


class _Layer(BaseModel):
    """Fields every layer has. A layer class builds its validator when first used
    (``defer_build``), so a run pays only for the ops its model has (`LAYER_CLASSES`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, defer_build=True)

    name: Name
    inputs: tuple[Name, ...] = Field(min_length=1)


class _Windowed(_Layer):
    stride: tuple[Window, Window] | None = None
    padding: Padding = "valid"

    _pair_stride = field_validator("stride", mode="before")(_pair)
    _pad = field_validator("padding", mode="before")(_padding)


class Conv2d(_Windowed):
    op: Literal["conv2d"]
    stride: tuple[Window, Window] = (1, 1)
    filters: Pos
    kernel: tuple[Window, Window]
    dilation: tuple[Window, Window] = (1, 1)
    groups: Pos = 1
    bias: Bool = True
    activation: Activation | None = None

    _pair_kernel = field_validator("kernel", "dilation", mode="before")(_pair)


class Dense(_Layer):
    op: Literal["dense"]
    units: Pos
    bias: Bool = True
    activation: Activation | None = None


class MatMul(_Layer):
    op: Literal["matmul"]
    transpose_b: Bool = False
    scale: Real = 1.0
    activation: Activation | None = None

    @field_validator("scale")
    @classmethod
    def _scale_in_range(cls, value: float) -> float:
        low, high = SCALE_RANGE
        if not low <= abs(value) <= high:
            raise ValueError(f"magnitude must be between {low:g} and {high:g}")
        return value


class Pool2d(_Windowed):
    """Max or average pooling; ``stride`` defaults to the pool size. ``count_include_pad``
    averages over the whole window, padding included (ONNX's attribute of that name), except
    the ``uncounted`` last rows and columns of the padding (ONNX's ceil_mode overhang)."""

    op: Literal["maxpool2d", "avgpool2d"]
    pool: tuple[Window, Window]
    dilation: tuple[Window, Window] = (1, 1)
    count_include_pad: Bool = False
    uncounted: tuple[Pad, Pad] = (0, 0)

    _pair_pool = field_validator("pool", "dilation", mode="before")(_pair)

    @field_validator("uncounted")
    @classmethod
    def _uncounted_within_padding(cls, uncounted: tuple[int, int],
                                  info: ValidationInfo) -> tuple[int, int]:
        """The uncounted rows and columns are part of the bottom and right padding, given as
        explicit sides (ONNX's importer always gives them)."""
        if "padding" not in info.data:  # the padding itself was refused
            return uncounted
        padding = info.data["padding"]
        if not isinstance(padding, tuple) and any(uncounted):
            raise ValueError(f"needs the padding as explicit sides, not {padding!r}")
        bottom, right = (padding[1], padding[3]) if isinstance(padding, tuple) else (0, 0)
        for count, side, name in ((uncounted[0], bottom, "bottom"),
                                  (uncounted[1], right, "right")):
            if count > side:
                raise ValueError(f"exceeds the {name} padding ({side}): the uncounted rows "
                                 "and columns are part of the padding")
        return uncounted


class GlobalAvgPool(_Layer):
    op: Literal["global_avgpool"]


class Add(_Layer):
    """Elementwise sum (``add``) or product (``mul``) of 2+ broadcastable inputs."""

    op: Literal["add", "mul"]


class Concat(_Layer):
    op: Literal["concat"]
    axis: Axis = -1


class Flatten(_Layer):
    op: Literal["flatten"]


class Reshape(_Layer):
    op: Literal["reshape"]
    shape: tuple[Annotated[Int, Field(ge=-1, le=MAX_DIM)], ...] = Field(min_length=1,
                                                                        max_length=8)


class Transpose(_Layer):
    op: Literal["transpose"]
    perm: tuple[Annotated[Int, Field(ge=0, le=7)], ...] = Field(min_length=1, max_length=8)


class BatchNorm(_Layer):
    op: Literal["batchnorm"]
    epsilon: Epsilon = 1e-5


class Elementwise(_Layer):
    """A pointwise activation as a layer of its own."""

    op: Literal["relu", "relu6", "sigmoid", "tanh", "gelu", "gelu_tanh"]


class Softmax(_Layer):
    op: Literal["softmax"]
    axis: Axis = -1


class LayerNorm(_Layer):
    op: Literal["layernorm"]
    axis: Axis = -1
    epsilon: Epsilon = 1e-5


class Opaque(_Layer):
    """An op simaccel does not model (kept from an ONNX import with --allow-unknown): costed
    by the bytes it reads and writes (one vector op per output element of ``shape``);
    numerics are skipped. ``implies_macs``: the op's type does multiply-accumulates
    (LSTM, Einsum, ...) that the report cannot count."""

    op: Literal["opaque"]
    onnx_op: Annotated[Str, Field(max_length=256)]
    shape: tuple[Pos, ...] = Field(min_length=1, max_length=8)
    implies_macs: bool = False


AttrValue = int | float | str | tuple[int, ...] | tuple[float, ...]


class OnnxOp(_Layer):
    """An op of ONNX's standard domain computed by its ONNX meaning on the vector unit:
    ``eltwise`` (any unary, binary or variadic elementwise op, numpy broadcasting),
    ``reduce`` (ReduceMean, ReduceSum, ..., ArgMax) or ``move`` (data movement: Slice,
    Gather, Pad, Expand, Tile, Resize, ...: costed by the bytes it reads and writes).

    ``inputs`` are the activation operands; ``consts`` the positions among the ONNX operands
    of the constant ones, with their shapes (weights ``"<name>.c<position>"``; an empty one
    stands for an absent optional operand); ``shape``
    is the output shape. Operands and output are in the layout the frontend chose (ONNX's
    element order, or a permutation of it for elementwise ops and axis-mapped ones)."""

    op: Literal["eltwise", "reduce", "move"]
    onnx_op: Annotated[str, Field(min_length=1, max_length=64)]
    attributes: dict[str, AttrValue] = Field(default_factory=dict)
    consts: tuple[tuple[Annotated[int, Field(ge=0, le=16)], tuple[int, ...]], ...] = ()
    shape: tuple[Pos, ...] = Field(max_length=8)

    def operand_list(self, activations: list, constants: dict) -> list:
        """The ONNX operands in order: ``constants`` (by position) where ``consts`` says,
        ``activations`` (in order) elsewhere; an empty constant stands for an absent
        optional input."""
        at = dict(self.consts)
        out, it = [], iter(activations)
        for pos in range(len(self.inputs) + len(self.consts)):
            out.append(constants[pos] if pos in at else next(it))
        return out


LayerSpec = Annotated[
    Conv2d
    | Dense
    | MatMul
    | Pool2d
    | GlobalAvgPool
    | Add
    | Concat
    | Flatten
    | Reshape
    | Transpose
    | BatchNorm
    | Elementwise
    | Softmax
    | LayerNorm
    | Opaque
    | OnnxOp,
    Field(discriminator="op"),
]

#: The layer class of each op name (what the ``op`` discriminator of `LayerSpec` selects).
LAYER_CLASSES: dict[str, type[_Layer]] = {
    op: cls for cls in get_args(get_args(LayerSpec)[0])
    for op in get_args(cls.model_fields["op"].annotation)}

#: Every op name a layer may carry, in the order the docs list them.
OPS: tuple[str, ...] = (
    "conv2d", "dense", "matmul", "maxpool2d", "avgpool2d", "global_avgpool", "add", "mul",
    "concat",
    "flatten", "reshape", "transpose", "batchnorm", "relu", "relu6", "sigmoid", "tanh", "gelu",
    "gelu_tanh", "softmax", "layernorm", "opaque", "eltwise", "reduce", "move",
)  # fmt: skip


class TensorSpec(BaseModel):
    """A named model input: shape with the batch first (NHWC for images)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    shape: tuple[Pos, ...] = Field(min_length=1, max_length=8)
    dtype: DType = DType.FP32


@dataclass(frozen=True)
class Model:
    """A validated network description.

    ``source`` names where it came from (a path, for messages only); ``weights_path`` is an
    .npz of weights resolved next to the model file, or None for weights drawn from ``seed``.
    """

    name: str
    inputs: tuple[TensorSpec, ...]
    layers: tuple[LayerSpec, ...]
    outputs: tuple[str, ...]
    source: str = "<memory>"
    description: str = ""
    weights_path: str | None = None
    seed: int = 0
    #: arrays of the .npz at ``weights_path`` by key (``"<layer>.<name>"``), read by the
    #: frontend; None when weights are drawn from ``seed``
    weights: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    #: ONNX imports: per model input (ONNX name, simaccel name, axes): the simaccel input is
    #: the ONNX array transposed by ``axes`` (None: as it is)
    onnx_inputs: tuple[tuple[str, str, tuple[int, ...] | None], ...] = ()
    #: ONNX imports: per model output (ONNX name, simaccel name, axes): the ONNX output is
    #: the simaccel output transposed by ``axes`` (None: as it is)
    onnx_outputs: tuple[tuple[str, str, tuple[int, ...] | None], ...] = ()
    #: ONNX imports: symbolic dimensions and the values they were given
    dims: Mapping[str, int] = field(default_factory=dict, compare=False)
    #: ONNX imports: per layer, the name of the ONNX node it was made for (a refusal names
    #: the node, never a model.json field the user did not write)
    onnx_nodes: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: the layers run one after another in the order ``layers`` lists them, as the tool
    #: that wrote the file runs them (a SCALE-Sim topology's rows, in file order); False:
    #: the order follows from the graph alone, never from the listing (model.json)
    sequential: bool = False

    def layer_index(self, name: str) -> int:
        """Position of the layer called ``name`` in ``layers``."""
        for i, layer in enumerate(self.layers):
            if layer.name == name:
                return i
        raise KeyError(name)
