"""ONNX ConvTranspose (1-D and 2-D, grouped or not) as the array runs it: per group, a GEMM
of every input pixel by that group's weights (M = N·H·W, K = C_in/group, N = kh·kw·C_out/group:
torch's MAC count), then the overlapping contributions added into the output on the vector
unit (`ConvTransposeOverlapAdd`); the groups' outputs concatenated along the channels. A
1-D map [N, C, L] runs as a 2-D one of height 1 (held [N, 1, L, C])."""

from __future__ import annotations

import numpy as np

from simaccel.errors import InputError
from simaccel.frontends.onnx_gemm import _as_2d, _from_2d
from simaccel.frontends.onnx_graph import attrs
from simaccel.frontends.onnx_tensors import TO_NCHW, Importer, Tensor, emit, refuse
from simaccel.model import Concat, Dense


def conv_transpose(im: Importer, node) -> None:
    """A ConvTranspose node with constant weights [C_in, C_out/group, (kh,) kw] reading a
    [N, C_in, (H,) W] activation. Raises Unsupported for computed weights, another rank,
    ``auto_pad`` or ``output_shape``; InputError when ``group`` does not fit the channels."""
    a = attrs(node)
    x = im.get(node.input[0], node)
    w = im.const(node.input[1])
    if w is None or w.ndim not in (3, 4) or len(x.shape) != w.ndim:
        raise refuse(im, node, "only 1-D and 2-D ConvTranspose with constant weights is "
                     "supported")
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or "output_shape" in a:
        raise refuse(im, node, "ConvTranspose with auto_pad or output_shape is not supported")
    groups = int(a.get("group", 1))
    if groups < 1 or x.shape[1] != w.shape[0] or w.shape[0] % groups:
        raise InputError(im.source, f"node {node.name or node.op_type}", f"group {groups} "
                         f"does not fit {x.shape[1]} input channels and weights "
                         f"{list(w.shape)}")
    hint = node.name or node.output[0]
    shape = im.shape(node.output[0], node)
    bias = im.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if w.ndim == 3:
        held = _as_2d(im, x, hint)
        w, a = w[:, :, None, :], _as_2d_attributes(a)
        in_held, out_held = (x.shape[0], 1, x.shape[2]), (shape[0], 1, shape[2])
    else:
        held = im.nhwc(x, node.name).name
        in_held, out_held = (x.shape[0], *x.shape[2:]), (shape[0], *shape[2:])
    parts = [_group(im, f"{hint}/g{g}" if groups > 1 else hint, (held, in_held), w, bias, a,
                    (g, groups), out_held) for g in range(groups)]
    name = parts[0] if groups == 1 else im.add(Concat, hint, parts, op="concat", axis=3)
    if len(shape) == 3:
        _from_2d(im, name, node.output[0], shape, hint)
    else:
        im.tensors[node.output[0]] = Tensor(name, shape, TO_NCHW)


def _as_2d_attributes(a: dict) -> dict:
    """A 1-D ConvTranspose's attributes for the same op on a map of height 1."""
    pads = list(a.get("pads", [0, 0]))
    return {"strides": [1, *a.get("strides", [1])], "dilations": [1, *a.get("dilations", [1])],
            "pads": [0, pads[0], 0, pads[1]],
            "output_padding": [0, *a.get("output_padding", [0])]}


def _group(im: Importer, hint: str, x: tuple[str, tuple[int, ...]], w: np.ndarray,
           bias: np.ndarray | None, a: dict, group: tuple[int, int],
           out_held: tuple[int, ...]) -> str:
    """Group ``g`` of ``groups`` (``group``): its input channels (a Slice of the NHWC input
    ``x``, a layer name and its [N, H, W] size, unless there is one group), the GEMM by its
    weights, the overlap-add with its bias; the layer name of its NHWC output, [N, H', W']
    ``out_held`` by the group's channels."""
    (src, in_held), (g, groups) = x, group
    cin, cout, kh, kw = (int(d) for d in w.shape)
    cin_g, cout_g = cin // groups, cout
    if groups > 1:
        consts = {1: np.array([g * cin_g]), 2: np.array([(g + 1) * cin_g]), 3: np.array([3])}
        src = emit(im, f"{hint}/in", "move", "Slice", [src], consts, (*in_held, cin_g), {})
    cols = im.add(Dense, f"{hint}/gemm", [src], op="dense", units=kh * kw * cout_g, bias=False)
    im.weights[f"{cols}.kernel"] = w[g * cin_g:(g + 1) * cin_g].transpose(0, 2, 3, 1).reshape(
        cin_g, kh * kw * cout_g)
    attributes = {"kernel": (kh, kw), "strides": tuple(a.get("strides", [1, 1])),
                  "dilations": tuple(a.get("dilations", [1, 1])),
                  "pads": tuple(a.get("pads", [0, 0, 0, 0])),
                  "output_padding": tuple(a.get("output_padding", [0, 0]))}
    part = None if bias is None else bias[g * cout_g:(g + 1) * cout_g]
    return emit(im, hint, "reduce", "ConvTransposeOverlapAdd", [cols],
                {} if part is None else {1: part}, (*out_held, cout_g), attributes)
