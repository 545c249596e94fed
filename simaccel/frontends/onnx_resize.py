"""ONNX Resize and GridSample, checked at import: the modes simaccel computes and the
coordinate transformations and paddings it knows; anything else is refused naming the node,
instead of failing when the numerics run. The ops themselves are `simaccel.ops_onnx`'s
(Resize in the layout its input is held in, `onnx_vector.PER_AXIS`)."""

from __future__ import annotations

from simaccel.frontends.onnx_graph import attrs
from simaccel.frontends.onnx_tensors import Importer, refuse
from simaccel.frontends.onnx_vector import onnx_op

MODES = ("nearest", "linear", "cubic")
TRANSFORMS = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
              "asymmetric")


def resize(im: Importer, node) -> None:
    """Resize in ``MODES`` with a coordinate transformation in ``TRANSFORMS`` and without
    antialiasing. Raises Unsupported (one line naming the node) otherwise."""
    a = _decoded(node)
    mode = a.get("mode", "nearest")
    transform = a.get("coordinate_transformation_mode", "half_pixel")
    if mode not in MODES:
        raise refuse(im, node, f"Resize mode {mode!r} is not supported")
    if transform not in TRANSFORMS:
        raise refuse(im, node, f"Resize coordinate_transformation_mode {transform!r} is "
                     "not supported")
    if int(a.get("antialias", 0)):
        raise refuse(im, node, "Resize with antialias is not supported")
    onnx_op(im, node)


def _decoded(node) -> dict:
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs(node).items()}


def grid_sample(im: Importer, node) -> None:
    """GridSample of a 4-D input, by the nearest input or (bi)linearly, with zeros, border
    or reflection padding. Raises Unsupported (one line naming the node) otherwise."""
    a = _decoded(node)
    mode, padding = a.get("mode", "linear"), a.get("padding_mode", "zeros")
    if mode not in ("nearest", "linear", "bilinear"):
        raise refuse(im, node, f"GridSample mode {mode!r} is not supported")
    if padding not in ("zeros", "border", "reflection"):
        raise refuse(im, node, f"GridSample padding_mode {padding!r} is not supported")
    if len(im.shape(node.input[0], node)) != 4:
        raise refuse(im, node, "only 2-D GridSample (a 4-D input) is supported")
    onnx_op(im, node)
