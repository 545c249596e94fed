"""ONNX ops for the array and its sliding windows: Conv, Gemm, MatMul, Einsum (matrix
products) and MaxPool/AveragePool, with attribute defaults as the ONNX spec states them
(strides 1, dilations, auto_pad SAME_UPPER/SAME_LOWER, ceil_mode)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simaccel.errors import InputError
from simaccel.frontends.onnx_const_matmul import batched_by_constant
from simaccel.frontends.onnx_graph import (
    attrs,
)
from simaccel.frontends.onnx_matmul1d import promote_vectors
from simaccel.frontends.onnx_patterns import (
    trailing_bias,
    trailing_scale,
)
from simaccel.frontends.onnx_tensors import (
    TO_NCHW,
    Importer,
    Tensor,
    compose,
    refuse,
)
from simaccel.frontends.onnx_vector import pointwise
from simaccel.model import (
    Conv2d,
    Dense,
    MatMul,
    Pool2d,
    Reshape,
)


def _same_pads(in_hw, k, strides, dilations, lower: bool) -> list[int]:
    """ONNX auto_pad SAME_UPPER / SAME_LOWER as explicit [top, left, bottom, right]: output
    ceil(in / stride); the odd extra pad at the end (UPPER) or the beginning (LOWER)."""
    heads, tails = [], []
    for size, kk, s, d in zip(in_hw, k, strides, dilations, strict=True):
        total = max((-(-size // s) - 1) * s + d * (kk - 1) + 1 - size, 0)
        small, big = total // 2, total - total // 2
        heads.append(big if lower else small)
        tails.append(small if lower else big)
    return heads + tails


def _window_pads(im: Importer, node, x: Tensor, k, strides, dilations) -> list[int]:
    """A conv's or pool's [top, left, bottom, right] pads from ``pads`` or ``auto_pad``."""
    a = attrs(node)
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        return _same_pads(x.shape[2:], k, strides, dilations, auto == "SAME_LOWER")
    if auto == "VALID":
        return [0] * (2 * len(k))
    return list(a.get("pads", [0] * (2 * len(k))))


def conv(im: Importer, node) -> None:
    w = im.const(node.input[1])
    bias = im.const(node.input[2]) if len(node.input) > 2 else None
    x = im.get(node.input[0], node)
    if len(x.shape) == 3 and w is not None and w.ndim == 3:
        return _conv1d(im, node, x, w, bias)
    conv_layer(im, node, x, w, bias, node.output[0])


NLC = (0, 2, 1)  # a 1-D feature map [N, C, L] held as [N, L, C]


def _as_2d(im: Importer, x: Tensor, hint: str) -> str:
    """A 1-D feature map [N, C, L] as an NHWC [N, 1, L, C] simaccel tensor (a free reshape
    of the [N, L, C] layout 1-D maps are held in)."""
    n, c, length = x.shape
    p = compose(x.perm, NLC)
    held = x.name if p is None else im.permuted(x, p, hint)
    return im.add(Reshape, f"{hint}/as_2d", [held], op="reshape", shape=(n, 1, length, c))


def _from_2d(im: Importer, name: str, out: str, shape: tuple[int, ...], hint: str) -> None:
    """An NHWC [N, 1, L, C] result as the 1-D map ``out`` [N, C, L], held [N, L, C]."""
    n, c, length = shape
    flat = im.add(Reshape, f"{hint}/as_1d", [name], op="reshape", shape=(n, length, c))
    im.tensors[out] = Tensor(flat, shape, NLC)


def _conv1d(im: Importer, node, x: Tensor, w: np.ndarray, bias: np.ndarray | None) -> None:
    """Conv1d as a conv of height 1 on the map held [N, L, C]."""
    a = attrs(node)
    k, stride = int(w.shape[2]), int(a.get("strides", [1])[0])
    dilation = int(a.get("dilations", [1])[0])
    pads = _window_pads(im, node, x, (k,), (stride,), (dilation,))
    groups = int(a.get("group", 1))
    if groups < 1 or x.shape[1] != w.shape[1] * groups or w.shape[0] % groups:
        raise InputError(im.source, f"node {node.name or node.op_type}", f"group {groups} "
                         f"does not fit {x.shape[1]} input channels and weights "
                         f"{list(w.shape)}")
    hint = node.name or node.output[0]
    name = im.add(Conv2d, hint, [_as_2d(im, x, hint)], op="conv2d", filters=int(w.shape[0]),
                  kernel=(1, k), stride=(1, stride), dilation=(1, dilation),
                  padding=(0, 0, pads[0], pads[1]), groups=groups, bias=bias is not None)
    im.weights[f"{name}.kernel"] = w.transpose(2, 1, 0)[None]
    if bias is not None:
        im.weights[f"{name}.bias"] = bias
    _from_2d(im, name, node.output[0], im.shape(node.output[0], node), hint)


def conv_layer(im: Importer, node, x: Tensor, w: np.ndarray | None,
                bias: np.ndarray | None, out: str) -> None:
    """A Conv node's layer reading ``x`` with weights ``w`` (OIHW), writing ONNX ``out``."""
    a = attrs(node)
    if w is None or len(w.shape) != 4 or len(x.shape) != 4:
        raise refuse(im, node, "only 1-D and 2-D convolutions with constant weights are "
                     "supported")
    k = (int(w.shape[2]), int(w.shape[3]))
    strides = tuple(a.get("strides", [1, 1]))
    dilations = tuple(a.get("dilations", [1, 1]))
    pads = _window_pads(im, node, x, k, strides, dilations)
    extra = im.extra_pads.get(id(node), (0, 0, 0, 0))
    padding = (pads[0] + extra[0], pads[2] + extra[1], pads[1] + extra[2], pads[3] + extra[3])
    groups = int(a.get("group", 1))
    if groups < 1 or x.shape[1] != w.shape[1] * groups or w.shape[0] % groups:
        raise InputError(im.source, f"node {node.name or node.op_type}", f"group {groups} "
                         f"does not fit {x.shape[1]} input channels and weights "
                         f"{list(w.shape)}")
    x = im.nhwc(x, node.name)
    name = im.add(Conv2d, node.name or out, [x.name], op="conv2d",
                  filters=int(w.shape[0]), kernel=k, stride=strides, dilation=dilations,
                  padding=padding, groups=groups, bias=bias is not None)
    im.weights[f"{name}.kernel"] = w.transpose(2, 3, 1, 0)
    if bias is not None:
        im.weights[f"{name}.bias"] = bias
    im.tensors[out] = Tensor(name, im.shape(node.output[0], node), TO_NCHW)


def gemm(im: Importer, node) -> None:
    """α·A'·B' + β·C: by a constant B a dense layer (α in its weights, β·C its bias when C is
    a vector); by an activation B a matmul (α its scale) and C added elementwise."""
    a = attrs(node)
    x = im.get(node.input[0], node)
    if a.get("transA", 0):  # a pending transpose
        x = Tensor(x.name, x.shape[::-1], compose(x.perm, (1, 0)), x.via)
    x = im.nchw(x, node.name)
    b = im.const(node.input[1])
    c = im.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    has_c = len(node.input) > 2 and bool(node.input[2])
    shape = im.shape(node.output[0], node)
    beta = float(a.get("beta", 1.0))
    vector_c = c is not None and c.size == shape[1] and (c.ndim < 2 or c.shape[0] == 1)
    out = f"{node.output[0]}/product" if has_c and not (b is not None and vector_c) else \
        node.output[0]
    hint = node.name or node.output[0]
    if b is not None:
        w = (b.T if a.get("transB", 0) else b) * a.get("alpha", 1.0)
        bias = c.reshape(-1) * beta if vector_c and b is not None else None
        name = im.add(Dense, hint, [x.name], op="dense", units=int(w.shape[1]),
                      bias=bias is not None)
        im.weights[f"{name}.kernel"] = w
        if bias is not None:
            im.weights[f"{name}.bias"] = np.broadcast_to(bias, (w.shape[1],))
    else:
        y = im.get(node.input[1], node)
        if a.get("transB", 0):
            y = Tensor(y.name, y.shape[::-1], compose(y.perm, (1, 0)), y.via)
        y = im.nchw(y, node.name)
        name = im.add(MatMul, hint, [x.name, y.name], op="matmul",
                      scale=float(a.get("alpha", 1.0)))
    im.tensors[out] = Tensor(name, shape)
    if out != node.output[0]:  # C added (β folded into a constant C)
        operand = node.input[2] if c is None else c * beta
        if c is None and beta != 1.0:
            raise refuse(im, node, "Gemm with β ≠ 1 and a computed C is not supported")
        pointwise(im, node, "Add", [out, operand], f"{hint}/plus_c")


def matmul(im: Importer, node) -> None:
    if promote_vectors(im, node, matmul):  # a 1-D operand, as numpy.matmul reads it
        return None
    left = im.const(node.input[0])
    if left is not None:
        return _constant_times(im, node, left)
    x = im.nchw(im.get(node.input[0], node), node.name)
    w = im.const(node.input[1])
    out = node.output[0]
    if w is not None and w.ndim == 2:
        bias, out = trailing_bias(im, node, w.shape[1])
        name = im.add(Dense, node.name or out, [x.name], op="dense", units=int(w.shape[1]),
                      bias=bias is not None)
        im.weights[f"{name}.kernel"] = w
        if bias is not None:
            im.weights[f"{name}.bias"] = bias
    elif w is not None:
        return batched_by_constant(im, node, x, w)
    else:
        y = im.get(node.input[1], node)
        swapped = None if y.perm is None else compose(y.perm, _swap_last(len(y.shape)))
        transpose_b = y.perm is not None and swapped is None  # Bᵀ: read B transposed
        y = Tensor(y.name, y.shape) if transpose_b else im.nchw(y, node.name)
        scale, out = trailing_scale(im, node)
        name = im.add(MatMul, node.name or out, [x.name, y.name], op="matmul", scale=scale,
                      transpose_b=transpose_b)
    im.tensors[out] = Tensor(name, im.shape(out, node))


def _constant_times(im: Importer, node, a: np.ndarray) -> None:
    """A · X with a constant 2-D A: (Xᵀ · Aᵀ)ᵀ, a dense layer on X's last two axes swapped
    (pending permutations: a transpose only where the element order needs one)."""
    x = im.get(node.input[1], node)
    if a.ndim != 2 or len(x.shape) < 2:
        raise refuse(im, node, "MatMul of a constant of rank > 2 by an activation is not "
                     "supported")
    swap = _swap_last(len(x.shape))
    xt = im.nchw(Tensor(x.name, tuple(x.shape[p] for p in swap), compose(x.perm, swap),
                        x.via), node.name)
    name = im.add(Dense, node.name or node.output[0], [xt.name], op="dense",
                  units=int(a.shape[0]), bias=False)
    im.weights[f"{name}.kernel"] = a.T
    shape = im.shape(node.output[0], node)
    im.tensors[node.output[0]] = Tensor(name, shape, swap)


def einsum(im: Importer, node) -> None:
    """A two-operand Einsum that is a (batched) matrix product, whatever its index order:
    operands permuted and reshaped to [batch, M, K] · [batch, K, N] (or a dense layer by a
    constant), then reshaped and permuted to the output's order."""
    eq = attrs(node)["equation"]
    eq = (eq.decode() if isinstance(eq, bytes) else eq).replace(" ", "")
    if "..." in eq:
        eq = _spell_ellipsis(im, node, eq)
    terms, _, out = eq.partition("->")
    terms = terms.split(",")
    if "." in eq or not out and "->" not in eq or len(terms) != 2 or any(
            len(set(t)) != len(t) for t in (*terms, out)):
        raise refuse(im, node, f"Einsum {eq!r} is not a matrix product")
    a, b = terms
    if set(out) - set(a + b) or (set(a) ^ set(b)) - set(out):
        raise refuse(im, node, f"Einsum {eq!r} is not a matrix product")
    first, second = node.input[0], node.input[1]
    if im.const(first) is not None:  # the product is the same with the operands swapped
        (a, first), (b, second) = (b, second), (a, first)
    x = im.get(first, node)
    size = dict(zip(a, x.shape, strict=True))
    batch = [c for c in out if c in a and c in b]
    rows = [c for c in out if c in a and c not in b]
    cols = [c for c in out if c in b and c not in a]
    inner = [c for c in a if c in b and c not in out]
    w = im.const(second)
    if w is not None:
        size.update(zip(b, w.shape, strict=True))
    else:
        size.update(zip(b, im.get(second, node).shape, strict=True))
    dims = lambda letters: [size[c] for c in letters]  # noqa: E731
    m, k, n = (int(np.prod(dims(g))) for g in (rows, inner, cols))
    xa = _arrange(im, x, a, batch + rows + inner, [*dims(batch), m, k], node)
    hint = node.name or node.output[0]
    if w is not None:
        if batch:
            raise refuse(im, node, "Einsum by a constant with batch indices is not supported")
        kernel = w.transpose([b.index(c) for c in inner + cols]).reshape(k, n)
        name = im.add(Dense, hint, [xa], op="dense", units=n, bias=False)
        im.weights[f"{name}.kernel"] = kernel
    else:
        y = im.get(second, node)
        yb = _arrange(im, y, b, batch + inner + cols, [*dims(batch), k, n], node)
        name = im.add(MatMul, hint, [xa, yb], op="matmul")
    grouped = batch + rows + cols
    shape = tuple(dims(grouped))
    name = im.add(Reshape, f"{name}/unflatten", [name], op="reshape", shape=shape)
    perm = tuple(grouped.index(c) for c in out)
    im.tensors[node.output[0]] = Tensor(name, tuple(dims(out)), compose(None, perm),
                                        node.name)


def _spell_ellipsis(im: Importer, node, eq: str) -> str:
    """``eq`` with each ``...`` written out as letters it does not use, right-aligned as
    broadcasting aligns the operands' leading axes."""
    terms, arrow, out = eq.partition("->")
    ranks = [len(im.shape(n, node)) if n not in im.consts else im.consts[n].ndim
             for n in node.input]
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in eq]
    parts, widest = [], 0
    for term, rank in zip(terms.split(","), ranks, strict=True):
        width = rank - len(term.replace("...", ""))
        widest = max(widest, width)
        parts.append(term.replace("...", "".join(spare[-width:]) if width else ""))
    if not arrow:
        raise refuse(im, node, f"Einsum {eq!r} without an output is not supported")
    out = out.replace("...", "".join(spare[-widest:]) if widest else "")
    return ",".join(parts) + "->" + out


def _arrange(im: Importer, t: Tensor, letters: str, order: list[str], shape: list[int],
             node) -> str:
    """``t`` (indexed by ``letters``) permuted to ``order`` and reshaped to ``shape``."""
    perm = tuple(letters.index(c) for c in order)
    moved = Tensor(t.name, tuple(t.shape[p] for p in perm), compose(t.perm, perm), t.via)
    held = im.nchw(moved, node.name)
    if tuple(shape) == held.shape:
        return held.name
    return im.add(Reshape, f"{node.name or node.output[0]}/{letters}", [held.name],
                  op="reshape", shape=tuple(shape))


def _swap_last(rank: int) -> tuple[int, ...]:
    return (*range(rank - 2), rank - 1, rank - 2)


def pool(op: str) -> Callable:
    def handle(im: Importer, node) -> None:
        a = attrs(node)
        if len(node.output) > 1 and node.output[1]:
            raise refuse(im, node, "MaxPool's indices output is not supported")
        x = im.get(node.input[0], node)
        if len(x.shape) not in (3, 4):
            raise refuse(im, node, "only 1-D and 2-D pooling is supported")
        one_d = len(x.shape) == 3
        rank = len(x.shape) - 2
        k = tuple(a["kernel_shape"])
        strides = tuple(a.get("strides", [1] * rank))
        dilations = tuple(a.get("dilations", [1] * rank))
        pads = _window_pads(im, node, x, k, strides, dilations)
        given = list(pads)
        if a.get("ceil_mode", 0):
            pads = _ceil_pads(x.shape[2:], k, strides, dilations, pads)
        overhang = [p - q for p, q in zip(pads[rank:], given[rank:], strict=True)]
        include = bool(a.get("count_include_pad", 0)) and op == "avgpool2d"
        hint = node.name or node.output[0]
        if one_d:  # height 1
            k, strides, dilations = (1, *k), (1, *strides), (1, *dilations)
            pads, overhang = [0, pads[0], 0, pads[1]], [0, *overhang]
            source = _as_2d(im, x, hint)
        else:
            source = im.nhwc(x, node.name).name
        name = im.add(Pool2d, hint, [source], op=op, pool=k, stride=strides,
                      dilation=dilations, count_include_pad=include,
                      uncounted=tuple(overhang) if include else (0, 0),
                      padding=(pads[0], pads[2], pads[1], pads[3]))
        if one_d:
            return _from_2d(im, name, node.output[0], im.shape(node.output[0], node), hint)
        im.tensors[node.output[0]] = Tensor(name, im.shape(node.output[0], node), TO_NCHW)
        return None
    return handle


def _ceil_pads(in_hw, k, strides, dilations, pads: list[int]) -> list[int]:
    """Pads with extra rows/columns at the end so that floor division gives ONNX's
    ceil_mode output size (a last window must start inside the input or its left pad)."""
    out, rank = list(pads), len(in_hw)
    for axis, (size, kk, s, d) in enumerate(zip(in_hw, k, strides, dilations, strict=True)):
        span = d * (kk - 1) + 1
        total = size + pads[axis] + pads[axis + rank]
        n = -(-(total - span) // s) + 1
        if (n - 1) * s >= size + pads[axis]:
            n -= 1
        out[axis + rank] += max((n - 1) * s + span - total, 0)
    return out
