"""The numpy meaning of ONNX GridSample (2-D, opset 16+) for `simaccel.ops_onnx`: each
output pixel samples the input at the point its grid entry names, in [-1, 1] coordinates
(x along W, y along H), by the nearest input or bilinearly, with zeros, border or
reflection padding outside the input, as torch's grid_sample defines them (onnx's
reference implementation follows torch's GridSampler.h)."""

from __future__ import annotations

import numpy as np


def _pixels(n: np.ndarray, size: int, align_corners: bool) -> np.ndarray:
    """Grid coordinates in [-1, 1] as pixel coordinates along an axis of ``size``: -1 and 1
    are the centres of the edge pixels (``align_corners``) or their outer edges."""
    if align_corners:
        return (n + 1) / 2 * (size - 1)
    return ((n + 1) * size - 1) / 2


def _reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``x`` reflected by the near border until within [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return np.full_like(x, lo)
    below, above = x < lo, x > hi
    dx = np.where(below, lo - x, np.where(above, x - hi, 0.0))
    turns = np.floor(dx / span)
    r = dx - turns * span
    even = turns % 2 == 0
    low_side = np.where(even, lo + r, hi - r)
    high_side = np.where(even, hi - r, lo + r)
    return np.where(below, low_side, np.where(above, high_side, x))


def _tap(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, padding: str,
         borders: tuple[float, float, float, float]) -> np.ndarray:
    """Input pixels at integer ``rows``, ``cols`` [N, Ho, Wo] as [N, Ho, Wo, C]: outside
    the input 0 (zeros), the nearest edge pixel (border) or the reflected one."""
    n, _, h, w = x.shape
    if padding == "reflection":  # truncated, as onnx's reference does
        rows, cols = _reflect(rows, borders[0], borders[2]), _reflect(cols, borders[1],
                                                                      borders[3])
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    batch = np.arange(n).reshape(n, 1, 1)
    values = x[batch, :, np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)]
    return values * inside[..., None] if padding == "zeros" else values


def grid_sample(v: list, a: dict) -> np.ndarray:
    """GridSample of ``X`` [N, C, H, W] at ``grid`` [N, Ho, Wo, 2]: [N, C, Ho, Wo]. Modes
    ``nearest`` (ties to even, as torch) and ``linear``/``bilinear``; padding ``zeros``,
    ``border`` or ``reflection``. Raises ValueError for another mode (the frontend refuses
    it first)."""
    x, grid = v[0], v[1]
    mode = a.get("mode", "linear")
    padding = a.get("padding_mode", "zeros")
    corners = bool(a.get("align_corners", 0))
    _, _, h, w = x.shape
    cols = _pixels(grid[..., 0], w, corners)
    rows = _pixels(grid[..., 1], h, corners)
    borders = (0.0, 0.0, h - 1.0, w - 1.0) if corners else (-0.5, -0.5, h - 0.5, w - 0.5)
    if mode == "nearest":
        rows, cols = np.rint(rows), np.rint(cols)
    if padding == "border":
        rows, cols = np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)
    elif padding == "reflection":
        rows = _reflect(rows, borders[0], borders[2])
        cols = _reflect(cols, borders[1], borders[3])
    if mode == "nearest":
        out = _tap(x, rows, cols, padding, borders)
    elif mode in ("linear", "bilinear"):
        r0, c0 = np.floor(rows), np.floor(cols)
        wr, wc = (rows - r0)[..., None], (cols - c0)[..., None]
        out = (_tap(x, r0, c0, padding, borders) * (1 - wr) * (1 - wc)
               + _tap(x, r0, c0 + 1, padding, borders) * (1 - wr) * wc
               + _tap(x, r0 + 1, c0, padding, borders) * wr * (1 - wc)
               + _tap(x, r0 + 1, c0 + 1, padding, borders) * wr * wc)
    else:
        raise ValueError(f"GridSample mode {mode!r} is not supported")
    return out.transpose(0, 3, 1, 2)
