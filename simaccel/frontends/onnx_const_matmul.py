"""MatMul of an activation by a constant of rank > 2 (DeBERTa's disentangled attention
multiplies each head's queries by that head's projected relative-position embeddings, a
constant [heads, K, N]): the array's dense layers, one per matrix of the constant's batch,
each reading its slice of the activation; the products concatenated along the batch.
A constant whose batch dimensions are all 1 is one dense layer."""

from __future__ import annotations

import math

import numpy as np

from simaccel.frontends.onnx_tensors import Importer, Tensor, emit, refuse
from simaccel.model import Concat, Dense, Reshape

#: The most matrices one MatMul by a constant is split into (one dense layer each): a
#: model's heads times its batch; beyond it the op is refused, not imported as thousands of
#: layers.
MAX_MATRICES = 4096


def batched_by_constant(im: Importer, node, x: Tensor, w: np.ndarray) -> None:
    """``x`` [..., M, K] (ONNX element order) times the constant ``w`` [..., K, N], batch
    dimensions broadcast as numpy's matmul does; writes the node's output [..., M, N].
    Raises Unsupported when the batch holds more than `MAX_MATRICES` matrices."""
    out = node.output[0]
    shape = im.shape(out, node)
    hint = node.name or out
    k, n = (int(d) for d in w.shape[-2:])
    batch = shape[:-2]
    if math.prod(w.shape[:-2]) == 1:
        name = _dense(im, hint, x.name, w.reshape(k, n))
        _reshaped(im, hint, name, x.shape[:-1] + (n,), out, shape)
        return
    count = math.prod(batch)
    if count > MAX_MATRICES:
        raise refuse(im, node, f"MatMul by a constant of {count} matrices (more than "
                     f"{MAX_MATRICES}) is not supported")
    m = x.shape[-2]
    x_batch = x.shape[:-2]
    rows = math.prod(x_batch)
    flat = x.name if len(x_batch) == 1 else im.add(
        Reshape, f"{hint}/flat", [x.name], op="reshape", shape=(rows, m, k))
    which = np.broadcast_to(np.arange(rows).reshape(x_batch), batch).reshape(-1)
    weights = np.broadcast_to(w, batch + (k, n)).reshape(count, k, n)
    slices: dict[int, str] = {}
    parts = []
    for b in range(count):
        i = int(which[b])
        if i not in slices:
            consts = {1: np.array([i]), 2: np.array([i + 1]), 3: np.array([0])}
            slices[i] = emit(im, f"{hint}/rows{i}", "move", "Slice", [flat], consts,
                             (1, m, k), {})
        parts.append(_dense(im, f"{hint}/{b}", slices[i], weights[b]))
    name = parts[0] if count == 1 else im.add(Concat, hint, parts, op="concat", axis=0)
    _reshaped(im, hint, name, (count, m, n), out, shape)


def _dense(im: Importer, hint: str, x: str, w: np.ndarray) -> str:
    name = im.add(Dense, hint, [x], op="dense", units=int(w.shape[1]), bias=False)
    im.weights[f"{name}.kernel"] = np.array(w)
    return name


def _reshaped(im: Importer, hint: str, name: str, have: tuple[int, ...], out: str,
              shape: tuple[int, ...]) -> None:
    """``name`` (of shape ``have``) as the ONNX tensor ``out`` of ``shape``."""
    if have != shape:
        name = im.add(Reshape, f"{hint}/out", [name], op="reshape", shape=shape)
    im.tensors[out] = Tensor(name, shape)
