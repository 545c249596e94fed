"""Patterns exporters emit, recognised as one simaccel layer (an optimisation: without a
match the plain ops still run): GELU x·½·(1 + erf(x/√2)) in any order; ReduceMean, Sub,
Pow, ReduceMean, Add, Sqrt, Div (, Mul, Add) as LayerNormalization; a bias Add or a scale
Mul/Div after a MatMul; zero padding before a Conv folded into its padding."""

from __future__ import annotations

import math

import numpy as np

from simaccel.frontends.onnx_graph import (
    attrs,
)
from simaccel.frontends.onnx_tensors import (
    Importer,
    Tensor,
    single_consumer,
)
from simaccel.model import (
    BatchNorm,
    Elementwise,
    LayerNorm,
)


def _const_near(im: Importer, name: str, value: float) -> bool:
    return name in im.consts and im.consts[name].size == 1 and abs(
        float(im.consts[name].reshape(())) - value) < 1e-3 * max(1.0, abs(value))


def _other(node, name: str) -> str:
    rest = [n for n in node.input if n != name]
    return rest[0] if rest else ""


def trailing_bias(im: Importer, node, units: int):
    """A constant Add right after (a bias): fold it in, and skip that node."""
    add = single_consumer(im, node.output[0], "Add")
    if add is not None:
        other = [n for n in add.input if n != node.output[0]]
        if len(other) == 1 and other[0] in im.consts and im.consts[other[0]].size == units \
                and im.consts[other[0]].ndim <= 1:
            im.skip.add(id(add))
            return im.consts[other[0]].reshape(units), add.output[0]
    return None, node.output[0]


def trailing_scale(im: Importer, node):
    """A Mul or Div by a constant scalar right after a MatMul: its ``scale``."""
    for op_type in ("Mul", "Div"):
        user = single_consumer(im, node.output[0], op_type)
        if user is None:
            continue
        other = [n for n in user.input if n != node.output[0]]
        if len(other) == 1 and other[0] in im.consts and im.consts[other[0]].size == 1 \
                and user.input[0] == node.output[0]:
            value = float(im.consts[other[0]].reshape(()))
            im.skip.add(id(user))
            return (value if op_type == "Mul" else 1.0 / value), user.output[0]
    return 1.0, node.output[0]


def find_gelu(im: Importer, node) -> None:
    """GELU, registered as one layer emitted at the pattern's last node: x · ½ · (1 +
    erf(x/√2)) (x/√2 a Div or a Mul) at an Erf, x · ½ · (1 + tanh(√(2/π)·(x + 0.044715·x³)))
    at a Tanh; the products in any association and order."""
    if node.op_type == "Erf":
        found = _erf_argument(im, node)
        op = "gelu"
    else:
        found = _tanh_argument(im, node)
        op = "gelu_tanh"
    if found is None:
        return
    x, inner = found
    add = single_consumer(im, node.output[0], "Add")
    if add is None or not _const_near(im, _other(add, node.output[0]), 1.0):
        return
    tail = _times_half_x(im, add.output[0], x)
    if tail is None:
        return
    nodes, last = [*inner, node, add, *tail[0]], tail[1]

    def emit() -> None:
        t = im.get(x, last)
        name = im.add(Elementwise, last.name or last.output[0], [t.name], op=op)
        im.tensors[last.output[0]] = Tensor(name, t.shape, t.perm)

    im.skip.update(id(n) for n in nodes if n is not last)
    im.patterns[id(last)] = emit


def _erf_argument(im: Importer, erf):
    """(x, [the Div or Mul]) when the Erf reads x/√2."""
    pre = im.producers.get(erf.input[0])
    if pre is None or not im.single_use(erf.input[0]):
        return None
    by_div = pre.op_type == "Div" and _const_near(im, pre.input[1], 2**0.5)
    if by_div or pre.op_type == "Mul" and _const_near(im, pre.input[1], 2**-0.5):
        return pre.input[0], [pre]
    if pre.op_type == "Mul" and _const_near(im, pre.input[0], 2**-0.5):
        return pre.input[1], [pre]
    return None


def _by_const(im: Importer, node, value: float) -> str | None:
    """The other operand of a Mul by the constant ``value``."""
    if node is None or node.op_type != "Mul":
        return None
    for i in (0, 1):
        if _const_near(im, node.input[i], value):
            return node.input[1 - i]
    return None


def _tanh_argument(im: Importer, tanh):
    """(x, the nodes) when the Tanh reads √(2/π)·(x + 0.044715·x³), x³ a Pow or x·x·x."""
    scale = im.producers.get(tanh.input[0])
    inner = _by_const(im, scale, (2 / math.pi) ** 0.5)
    total = im.producers.get(inner) if inner else None
    if total is None or total.op_type != "Add" or not im.single_use(tanh.input[0]) or \
            not im.single_use(inner):
        return None
    for x, cubic_name in (total.input, total.input[::-1]):
        cubic = im.producers.get(cubic_name)
        cube_name = _by_const(im, cubic, 0.044715)
        cube = im.producers.get(cube_name) if cube_name else None
        if cube is None or not im.single_use(cubic_name) or not im.single_use(cube_name):
            continue
        if cube.op_type == "Pow" and cube.input[0] == x and _const_near(im, cube.input[1], 3):
            return x, [scale, total, cubic, cube]
        square = im.producers.get(next((n for n in cube.input if n != x), ""))
        if cube.op_type == "Mul" and x in cube.input and square is not None and \
                square.op_type == "Mul" and list(square.input) == [x, x] and \
                im.single_use(square.output[0]):
            return x, [scale, total, cubic, cube, square]
    return None


def _times_half_x(im: Importer, tensor: str, x: str):
    """([nodes], last) when ``tensor`` is multiplied by x and by ½, in any order."""
    nodes, factors, last = [], [], None
    while len(factors) < 2:
        mul = single_consumer(im, tensor, "Mul")
        if mul is None:
            return None
        other = _other(mul, tensor)
        half = im.producers.get(other)
        if _const_near(im, other, 0.5) or other == x:
            factors.append("half" if other != x else "x")
        elif half is not None and half.op_type == "Mul" and im.single_use(other) and \
                x in half.input and _const_near(im, _other(half, x), 0.5):
            factors += ["x", "half"]
            nodes.append(half)
        else:
            return None
        nodes.append(mul)
        tensor, last = mul.output[0], mul
    return (nodes, last) if sorted(factors) == ["half", "x"] else None


def layernorm_pattern(im: Importer, node) -> bool:
    """ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div (, Mul γ, Add β) is
    LayerNormalization over the last axis."""
    if node.op_type != "ReduceMean":
        return False
    x = node.input[0]
    users = im.consumers.get(node.output[0], [])
    sub = users[0] if len(users) == 1 and users[0].op_type == "Sub" else None
    if sub is None or sub.input[0] != x or x not in im.tensors:
        return False
    axes = attrs(node).get("axes")
    if axes is None and len(node.input) > 1:
        axes = im.consts.get(node.input[1], np.array([0])).reshape(-1).tolist()
    if axes is None or [int(a) % len(im.tensors[x].shape) for a in axes] != [
            len(im.tensors[x].shape) - 1]:
        return False
    pow_ = next((u for u in im.consumers.get(sub.output[0], []) if u.op_type == "Pow"), None)
    div = next((u for u in im.consumers.get(sub.output[0], []) if u.op_type == "Div"), None)
    mean2 = pow_ and _const_near(im, pow_.input[1], 2.0) and single_consumer(
        im, pow_.output[0], "ReduceMean")
    add = mean2 and single_consumer(im, mean2.output[0], "Add")
    sqrt = add and single_consumer(im, add.output[0], "Sqrt")
    if not (sqrt and div and div.input[1] == sqrt.output[0]) or len(
            im.consumers.get(sub.output[0], [])) != 2:
        return False
    eps_name = _other(add, mean2.output[0])
    if eps_name not in im.consts:
        return False
    t = im.nchw(im.get(x, node), node.name or "layernorm")
    c = t.shape[-1]
    out, gamma, beta = div.output[0], np.ones(c), np.zeros(c)
    skip = [sub, pow_, div, mean2, add, sqrt]
    mul = single_consumer(im, out, "Mul")
    if mul is not None and _other(mul, out) in im.consts and im.consts[
            _other(mul, out)].size == c:
        gamma, out = im.consts[_other(mul, out)].reshape(c), mul.output[0]
        skip.append(mul)
        bias = single_consumer(im, out, "Add")
        if bias is not None and _other(bias, out) in im.consts and im.consts[
                _other(bias, out)].size == c:
            beta, out = im.consts[_other(bias, out)].reshape(c), bias.output[0]
            skip.append(bias)
    name = im.add(LayerNorm, node.name or out, [t.name], op="layernorm",
                  epsilon=float(im.consts[eps_name].reshape(())))
    im.weights[f"{name}.gamma"], im.weights[f"{name}.beta"] = gamma, beta
    im.tensors[out] = Tensor(name, t.shape)
    im.skip.update(id(n) for n in skip)
    return True


def pad_into_conv(im: Importer, node) -> bool:
    a = attrs(node)
    mode = a.get("mode", b"constant")
    pads = im.const(node.input[1]) if len(node.input) > 1 else np.array(a.get("pads", []))
    value = im.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if mode not in (b"constant", "constant") or pads is None or (value is not None and np.any(
            value != 0)) or (len(node.input) > 3 and node.input[3]) or np.any(pads < 0):
        return False
    x = im.tensors.get(node.input[0])
    if x is None or len(x.shape) != 4:
        return False
    rank, perm, tensor = 4, tuple(range(4)), node.output[0]
    user = im.consumers.get(tensor, [None])[0]
    while im.single_use(tensor) and user.op_type == "Transpose":
        perm = tuple(perm[p] for p in attrs(user).get("perm", range(rank - 1, -1, -1)))
        tensor = user.output[0]
        user = im.consumers.get(tensor, [None])[0]
    if not im.single_use(tensor) or user.op_type != "Conv" or user.input[0] != tensor or \
            id(user) in im.extra_pads:
        return False
    begin, end = pads[:rank], pads[rank:]
    # the conv's input axis j is the Pad's axis perm[j]
    if any(begin[perm[j]] or end[perm[j]] for j in (0, 1)):
        return False
    im.extra_pads[id(user)] = (int(begin[perm[2]]), int(end[perm[2]]), int(begin[perm[3]]),
                               int(end[perm[3]]))
    im.tensors[node.output[0]] = x
    return True


def channel_affine(im: Importer, node) -> bool:
    """Mul by a per-channel constant (then perhaps Add of one) right after a conv or dense
    layer, as tf2onnx writes a Keras BatchNormalization it could not fold: a batchnorm
    (γ = the scale, β = the shift, mean 0, variance 1 − ε), which lowering folds into the
    GEMM before it."""
    x_name = next((n for n in node.input if n not in im.consts), "")
    other = _other(node, x_name)
    x = im.tensors.get(x_name)
    scale = im.consts.get(other)
    producer = im.producers.get(x_name)
    if x is None or scale is None or producer is None or producer.op_type not in (
            "Conv", "MatMul", "Gemm", "Add") or not im.single_use(x_name):
        return False
    channels = x.shape[1] if len(x.shape) == 4 else x.shape[-1]
    wanted = [(channels, 1, 1), (1, channels, 1, 1)] if len(x.shape) == 4 and x.nhwc else (
        [(channels,), (1, channels)] if len(x.shape) == 2 and x.perm is None else [])
    if tuple(scale.shape) not in wanted:
        return False
    out, shift = node.output[0], np.zeros(channels)
    skip = []
    add = single_consumer(im, out, "Add")
    if add is not None and tuple(np.shape(im.consts.get(_other(add, out)))) in wanted:
        shift, out = im.consts[_other(add, out)].reshape(channels), add.output[0]
        skip.append(add)
    eps = 1e-3
    name = im.add(BatchNorm, node.name or out, [x.name], op="batchnorm", epsilon=eps)
    im.weights[f"{name}.gamma"] = scale.reshape(channels).astype(np.float64)
    im.weights[f"{name}.beta"] = shift.astype(np.float64)
    im.weights[f"{name}.mean"] = np.zeros(channels)
    im.weights[f"{name}.var"] = np.full(channels, 1.0 - eps)
    im.tensors[out] = Tensor(name, im.shape(out, node), x.perm)
    im.skip.update(id(n) for n in skip)
    return True
