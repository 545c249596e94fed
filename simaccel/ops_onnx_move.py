"""The numpy meaning of ONNX's data-movement ops (and the overlap-add half of
ConvTranspose), for `simaccel.ops_onnx`: operands in ONNX order as float64 arrays, an absent
optional operand None."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_int(v: Any) -> np.ndarray:
    """A shape, index or count operand as int64 (clamped: ONNX writes ±2**63-1 for 'to the
    end', which float64 cannot hold exactly)."""
    return np.clip(np.asarray(v, dtype=np.float64), -(2.0**62), 2.0**62).astype(np.int64)


def slice_(v: list, a: dict) -> np.ndarray:
    data, starts, ends = v[0], as_int(v[1]).reshape(-1), as_int(v[2]).reshape(-1)
    axes = as_int(v[3]).reshape(-1) if len(v) > 3 and v[3] is not None and np.size(v[3]) \
        else np.arange(len(starts))
    steps = as_int(v[4]).reshape(-1) if len(v) > 4 and v[4] is not None and np.size(v[4]) \
        else np.ones(len(starts), dtype=np.int64)
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        dim = data.shape[int(axis)]
        lo, hi = int(start), int(end)
        if step < 0 and hi < -dim:
            hi = None  # type: ignore[assignment]  # through index 0
        index[int(axis) % data.ndim] = slice(max(min(lo, dim), -dim - 1), hi, int(step))
    return data[tuple(index)]


def gather(v: list, a: dict) -> np.ndarray:
    axis = int(a.get("axis", 0)) % v[0].ndim
    idx = as_int(v[1])
    idx = np.where(idx < 0, idx + v[0].shape[axis], idx)
    return np.take(v[0], idx, axis=axis)


def gather_elements(v: list, a: dict) -> np.ndarray:
    axis = int(a.get("axis", 0)) % v[0].ndim
    idx = as_int(v[1])
    idx = np.where(idx < 0, idx + v[0].shape[axis], idx)
    return np.take_along_axis(v[0], idx, axis=axis)


def gather_nd(v: list, a: dict) -> np.ndarray:
    data, idx, batch_dims = v[0], as_int(v[1]), int(a.get("batch_dims", 0))
    depth = idx.shape[-1]
    batch = int(np.prod(data.shape[:batch_dims], dtype=np.int64))
    rows = data.reshape(batch, *data.shape[batch_dims:])
    where = idx.reshape(batch, -1, depth)
    bounds = np.array(rows.shape[1:1 + depth])
    where = np.where(where < 0, where + bounds, where)
    out = np.stack([rows[i][tuple(where[i].T)] for i in range(batch)])
    return out.reshape(*idx.shape[:-1], *data.shape[batch_dims + depth:])


def pad(v: list, a: dict) -> np.ndarray:
    x = v[0]
    pads = as_int(v[1] if len(v) > 1 and v[1] is not None else a["pads"]).reshape(-1)
    value = float(np.asarray(v[2]).reshape(-1)[0]) if len(v) > 2 and v[2] is not None and \
        np.size(v[2]) else float(a.get("value", 0.0))
    axes = as_int(v[3]).reshape(-1) % x.ndim if len(v) > 3 and v[3] is not None and \
        np.size(v[3]) else np.arange(x.ndim)
    n = len(axes)
    width = [(0, 0)] * x.ndim
    for i, axis in enumerate(axes):
        width[int(axis)] = (int(pads[i]), int(pads[i + n]))
    crop = tuple(slice(max(-lo, 0), x.shape[i] - max(-hi, 0)) for i, (lo, hi) in
                 enumerate(width))
    x = x[crop]
    width = [(max(lo, 0), max(hi, 0)) for lo, hi in width]
    mode = a.get("mode", "constant")
    if mode == "constant":
        return np.pad(x, width, constant_values=value)
    return np.pad(x, width, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])


def expand(v: list, a: dict) -> np.ndarray:
    shape = tuple(int(d) for d in as_int(v[1]).reshape(-1))
    rank = max(len(shape), v[0].ndim)
    x = v[0].reshape((1,) * (rank - v[0].ndim) + v[0].shape)
    shape = (1,) * (rank - len(shape)) + shape
    return np.broadcast_to(x, tuple(max(s, d) for s, d in zip(x.shape, shape, strict=True)))


def tile(v: list, a: dict) -> np.ndarray:
    return np.tile(v[0], tuple(int(r) for r in as_int(v[1]).reshape(-1)))


def resize_coords(out: int, size: int, scale: float, mode: str) -> np.ndarray:
    """Input coordinate of each output index (ONNX coordinate_transformation_mode)."""
    o = np.arange(out, dtype=np.float64)
    if mode == "align_corners":
        return o * (size - 1) / (out - 1) if out > 1 else np.zeros(out)
    if mode == "asymmetric":
        return o / scale
    if mode == "pytorch_half_pixel":
        return (o + 0.5) / scale - 0.5 if out > 1 else np.zeros(out)
    if mode == "tf_crop_and_resize":
        raise ValueError("Resize tf_crop_and_resize is not supported")
    return (o + 0.5) / scale - 0.5  # half_pixel (and half_pixel_symmetric, near enough)


def resize(v: list, a: dict) -> np.ndarray:
    x = v[0]
    scales = v[2] if len(v) > 2 and v[2] is not None and np.size(v[2]) else None
    sizes = as_int(v[3]).reshape(-1) if len(v) > 3 and v[3] is not None and np.size(v[3]) \
        else None
    if sizes is None:
        sizes = np.floor(np.array(x.shape) * np.asarray(scales).reshape(-1)).astype(np.int64)
        scales = np.asarray(scales, dtype=np.float64).reshape(-1)
    else:
        scales = sizes / np.array(x.shape, dtype=np.float64)
    mode = a.get("mode", "nearest")
    transform = a.get("coordinate_transformation_mode", "half_pixel")
    nearest = a.get("nearest_mode", "round_prefer_floor")
    for axis in range(x.ndim):
        if sizes[axis] == x.shape[axis] and scales[axis] == 1.0:
            continue
        coords = resize_coords(int(sizes[axis]), x.shape[axis], float(scales[axis]), transform)
        if mode == "nearest":
            if nearest == "floor":
                idx = np.floor(coords)
            elif nearest == "ceil":
                idx = np.ceil(coords)
            elif nearest == "round_prefer_ceil":
                idx = np.floor(coords + 0.5)
            else:
                idx = np.ceil(coords - 0.5)
            idx = np.clip(idx, 0, x.shape[axis] - 1).astype(np.int64)
            x = np.take(x, idx, axis=axis)
        elif mode == "linear":
            coords = np.clip(coords, 0, x.shape[axis] - 1)
            lo = np.floor(coords).astype(np.int64)
            hi = np.minimum(lo + 1, x.shape[axis] - 1)
            w = (coords - lo).reshape([-1 if i == axis else 1 for i in range(x.ndim)])
            x = np.take(x, lo, axis=axis) * (1 - w) + np.take(x, hi, axis=axis) * w
        elif mode == "cubic":
            x = _cubic(x, axis, coords, float(a.get("cubic_coeff_a", -0.75)),
                       bool(a.get("exclude_outside", 0)))
        else:
            raise ValueError(f"Resize mode {mode!r} is not supported")
    return x


def _cubic(x: np.ndarray, axis: int, coords: np.ndarray, coeff_a: float,
           exclude_outside: bool) -> np.ndarray:
    """Resize's cubic interpolation along ``axis`` at input coordinates ``coords``: Keys'
    cubic convolution kernel with parameter ``coeff_a`` (ONNX's default -0.75, torch's
    bicubic) over the four inputs around each coordinate; inputs beyond an edge repeat the
    edge, or with ``exclude_outside`` weigh 0 and the other weights are renormalised."""
    size = x.shape[axis]
    base = np.floor(coords).astype(np.int64)
    t = coords - base
    weights = []
    for offset in (-1, 0, 1, 2):
        d = np.abs(t - offset)  # distance from the tap, in [0, 2]
        near = ((coeff_a + 2) * d - (coeff_a + 3)) * d * d + 1
        far = ((coeff_a * d - 5 * coeff_a) * d + 8 * coeff_a) * d - 4 * coeff_a
        weights.append(np.where(d <= 1, near, far))
    taps = np.stack([base + o for o in (-1, 0, 1, 2)])
    w = np.stack(weights)
    if exclude_outside:
        w = np.where((taps >= 0) & (taps < size), w, 0.0)
        w = w / w.sum(axis=0)
    shape = [-1 if i == axis else 1 for i in range(x.ndim)]
    return sum(np.take(x, np.clip(tap, 0, size - 1), axis=axis) * wt.reshape(shape)
               for tap, wt in zip(taps, w, strict=True))


def depth_to_space(v: list, a: dict) -> np.ndarray:
    x, b = v[0], int(a["blocksize"])
    n, c, h, w = x.shape
    if a.get("mode", "DCR") == "DCR":
        y = x.reshape(n, b, b, c // b // b, h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // b // b, b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(n, c // b // b, h * b, w * b)


def space_to_depth(v: list, a: dict) -> np.ndarray:
    x, b = v[0], int(a["blocksize"])
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return y.reshape(n, c * b * b, h // b, w // b)


def trilu(v: list, a: dict) -> np.ndarray:
    k = int(as_int(v[1]).reshape(-1)[0]) if len(v) > 1 and v[1] is not None and np.size(v[1]) \
        else 0
    return np.triu(v[0], k) if a.get("upper", 1) else np.tril(v[0], k)


def cumsum(v: list, a: dict) -> np.ndarray:
    axis = int(as_int(v[1]).reshape(-1)[0])
    x = np.flip(v[0], axis) if a.get("reverse", 0) else v[0]
    out = np.cumsum(x, axis=axis)
    if a.get("exclusive", 0):
        out = out - x
    return np.flip(out, axis) if a.get("reverse", 0) else out


#: ScatterND's and ScatterElements' ``reduction`` (opset 16+; 18 adds max and min): how an
#: update combines with the element it lands on.
_REDUCTION = {"none": None, "add": np.add, "mul": np.multiply, "max": np.maximum,
              "min": np.minimum}


def scatter_nd(v: list, a: dict) -> np.ndarray:
    out = np.array(v[0], copy=True)
    idx = as_int(v[1])
    combine = _REDUCTION[a.get("reduction", "none")]
    for index, update in zip(idx.reshape(-1, idx.shape[-1]),
                             v[2].reshape(-1, *v[2].shape[idx.ndim - 1:]), strict=True):
        at = tuple(index)
        out[at] = update if combine is None else combine(out[at], update)
    return out


def scatter_elements(v: list, a: dict) -> np.ndarray:
    """ScatterElements: ``data`` with each update written at its own position, except along
    ``axis`` where the index tensor says (negative indices count from the end); updates to
    one element combine by ``reduction``, in order. Raises KeyError for an unknown
    reduction."""
    out = np.array(v[0], copy=True)
    axis = int(a.get("axis", 0)) % out.ndim
    idx = as_int(v[1])
    idx = np.where(idx < 0, idx + out.shape[axis], idx)
    where = list(np.indices(idx.shape, sparse=True))
    where[axis] = idx
    combine = _REDUCTION[a.get("reduction", "none")]
    if combine is None:
        out[tuple(where)] = v[2]
    else:
        combine.at(out, tuple(where), v[2])
    return out


def one_hot(v: list, a: dict) -> np.ndarray:
    depth = int(as_int(v[1]).reshape(-1)[0])
    off, on = np.asarray(v[2]).reshape(-1)[:2]
    idx = as_int(v[0])
    idx = np.where(idx < 0, idx + depth, idx)
    hot = (idx[..., None] == np.arange(depth)).astype(np.float64)
    out = hot * (on - off) + off
    return np.moveaxis(out, -1, int(a.get("axis", -1)) % out.ndim)


def overlap_add(v: list, a: dict) -> np.ndarray:
    """simaccel's second half of ConvTranspose (its first is a GEMM of the NHWC input by the
    weights, giving every pixel's kh·kw·C contributions): each contribution added at
    pixel · stride + tap · dilation, cropped by the pads, plus the bias."""
    x = v[0]
    n, h, w, _ = x.shape
    (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["strides"], a["dilations"]
    top, left, bottom, right = a["pads"]
    extra_h, extra_w = a.get("output_padding", (0, 0))
    cols = x.reshape(n, h, w, kh, kw, -1)
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + extra_h
    full_w = (w - 1) * sw + dw * (kw - 1) + 1 + extra_w
    out = np.zeros((n, full_h, full_w, cols.shape[-1]))
    for i in range(kh):
        for j in range(kw):
            out[:, i * dh: i * dh + (h - 1) * sh + 1: sh,
                j * dw: j * dw + (w - 1) * sw + 1: sw, :] += cols[:, :, :, i, j, :]
    out = out[:, top: full_h - bottom, left: full_w - right, :]
    return out + v[1] if len(v) > 1 and v[1] is not None and np.size(v[1]) else out
