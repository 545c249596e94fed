"""ONNX Resize, checked at import: the modes simaccel computes (nearest, linear, cubic) and
coordinate transformations it knows; anything else is refused naming the node, instead of
failing when the numerics run. The op itself is `simaccel.ops_onnx`'s (in the layout its
input is held in, `onnx_vector.PER_AXIS`)."""

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
    a = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs(node).items()}
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
