"""Datatypes and quantization: symmetric per-tensor activations, per-channel weights.

An integer tensor is a pair (ints, scale): value ≈ ints × scale. Float types are float64
arrays whose values are exactly representable in the type (rounded to nearest even).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simaccel.domain import DType
from simaccel.errors import InputError

#: the DTypes' names, which every function here takes as the DType they name
_NAMES = frozenset(d.value for d in DType)
INT_MAX = {DType.INT8: 127, DType.INT16: 32767, DType.INT32: 2**31 - 1, DType.INT48: 2**47 - 1}


@dataclass(frozen=True)
class QTensor:
    """A tensor as the accelerator holds it: ``values`` (integers for int types, else
    floats representable in ``dtype``) and ``scale`` (per tensor; 1.0 for float types)."""

    values: np.ndarray
    scale: float
    dtype: DType

    def real(self) -> np.ndarray:
        """The real numbers it stands for (float64)."""
        return self.values * self.scale


def _bad_dtype(function: str, dtype: object, integer: bool | None) -> InputError:
    """The refusal of a ``dtype`` that is not an integer (``integer``), float (not
    ``integer``) or any (None) `DType`; built on the failing path only, so the hot paths pay
    nothing for the check."""
    names = [d.value for d in DType if integer is None or d.is_integer == integer]
    kind = {True: "an integer DType", False: "a float DType", None: "a DType"}[integer]
    return InputError(f"simaccel.quant.{function}", "dtype",
                      f"expected {kind} ({', '.join(names)}), got {dtype!r}")


def _reals(values: object, function: str, name: str) -> np.ndarray:
    """``values`` as a float64 array, or `InputError` naming ``simaccel.quant.<function>``
    and ``name`` for what is not numbers: text (``"1"``), booleans and complex numbers are
    refused, not converted."""
    try:
        array = values if isinstance(values, np.ndarray) else np.asarray(
            values if not isinstance(values, str | bytes) else None)
    except (TypeError, ValueError):
        array = None
    if array is None or array.dtype.kind not in "iuf":
        raise InputError(f"simaccel.quant.{function}", name, "expected real numbers, got "
                         f"{type(values).__name__}" + (f" of {array.dtype}" if isinstance(
                             array, np.ndarray) and array.dtype.kind != "O" else ""))
    return np.asarray(array, dtype=np.float64)


def round_to(x: np.ndarray, dtype: DType) -> np.ndarray:
    """Round float64 values to the nearest value of a float ``dtype`` (ties to even); a
    value beyond the type's range becomes ±inf, as the hardware's would (quietly: fp16's
    65,504 is passed by a mask's −3.4e38 or a large gradient that loss scaling then skips).
    Raises `InputError` naming ``dtype`` for an integer type or a non-`DType`."""
    if dtype is DType.FP32:
        with np.errstate(over="ignore"):
            return x.astype(np.float32).astype(np.float64)
    if dtype is DType.FP16:
        with np.errstate(over="ignore"):
            return x.astype(np.float16).astype(np.float64)
    if dtype is DType.BF16:
        bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return rounded.astype(np.uint32).view(np.float32).astype(np.float64)
    named = _named(dtype)
    if named is not dtype and not named.is_integer:  # "bf16" as DType.BF16
        return round_to(x, named)
    raise _bad_dtype("round_to", dtype, False)


def _named(dtype: object) -> object:
    """The `DType` a name (``"int8"``) stands for; anything else as it is."""
    if isinstance(dtype, str) and not isinstance(dtype, DType) and dtype in _NAMES:
        return DType(dtype)
    return dtype


def scale_for(max_abs: float | np.ndarray, dtype: DType) -> float | np.ndarray:
    """Symmetric scale mapping ``max_abs`` to the largest integer of ``dtype``. Raises
    `InputError` naming ``dtype`` unless it is an integer `DType`."""
    try:
        limit = INT_MAX[dtype]
    except (KeyError, TypeError):
        raise _bad_dtype("scale_for", dtype, True) from None
    largest = _reals(max_abs, "scale_for", "max_abs")
    if not (largest >= 0).all():  # NaN fails too
        raise InputError("simaccel.quant.scale_for", "max_abs", "a largest magnitude is ≥ 0 "
                         "and not NaN")
    return np.where(largest > 0, largest / limit, 1.0)


def quantize(x: np.ndarray, scale: float | np.ndarray, dtype: DType) -> np.ndarray:
    """Integers (as float64) nearest to ``x / scale``, saturated to ``dtype``'s range (NaN
    stays NaN). Raises `InputError` naming ``dtype`` unless it is an integer `DType`,
    ``scale`` unless every scale is finite and > 0 (and broadcasts against ``x``), ``x``
    unless it is real numbers."""
    try:
        limit = INT_MAX[dtype]
    except (KeyError, TypeError):
        raise _bad_dtype("quantize", dtype, True) from None
    step = _reals(scale, "quantize", "scale")
    if not (np.isfinite(step) & (step > 0)).all():
        raise InputError("simaccel.quant.quantize", "scale", "a scale is a finite number > 0")
    try:
        q = np.asarray(np.divide(_reals(x, "quantize", "x"), step, dtype=np.float64))
    except ValueError as exc:  # shapes that do not broadcast
        raise InputError("simaccel.quant.quantize", "scale", str(exc)) from None
    np.rint(q, out=q)  # NaN stays NaN (a fully masked softmax row, as ONNX gives it)
    return np.clip(q, -limit, limit, out=q)


#: Magnitudes from this one up are attention masks, not signal (2**127, about 1.7e38, half
#: float32's range): exporters fill masks with ±inf or with float32's lowest, −3.4e38
#: (`torch.finfo(torch.float32).min`, what Hugging Face transformers adds for a masked
#: position), and a score plus such a mask stays beyond it; a value of the model itself
#: that large is out of float32's range once doubled (inputs may reach 3.4e38, and their
#: products are no float32 number). A mask value neither sets a tensor's scale nor
#: saturates (`to_accelerator`), and is not counted as signal in `sqnr_db`. (2**100 was
#: tried first: ±1e30 inputs then made convolution outputs past it count as masks.)
MASK_MAGNITUDE = 2.0**127


def has_masks(x: np.ndarray) -> bool:
    """Whether ``x`` holds a mask value (magnitude ≥ `MASK_MAGNITUDE`, or NaN, which the
    callers then tell apart)."""
    return bool(x.size) and not (x.min() > -MASK_MAGNITUDE and x.max() < MASK_MAGNITUDE)


def to_accelerator(x: np.ndarray, dtype: DType, max_abs: float | None = None) -> QTensor:
    """Represent real values ``x`` in ``dtype``: quantized with a scale calibrated on
    ``max_abs`` (default: ``x``'s own) for integer types, rounded for float types. A mask
    value (magnitude ≥ `MASK_MAGNITUDE`: ±inf, −3.4e38) stays a mask in an integer tensor,
    as the mask bit an accelerator's softmax reads: its value is held unrounded
    (``x / scale``), never saturated to the type's largest integer, where it would no longer
    mask anything. Raises `InputError` naming ``dtype`` unless it is a `DType` or a DType's
    name (``"int8"``, as `scale_for` and `quantize` take it)."""
    dtype = _named(dtype)
    try:
        integer = dtype.is_integer
    except AttributeError:
        raise _bad_dtype("to_accelerator", dtype, None) from None
    if integer:
        scale = float(scale_for(finite_max(x) if max_abs is None else max_abs, dtype))
        values = quantize(x, scale, dtype)
        x = np.asarray(x, dtype=np.float64)
        if has_masks(x):
            masks = np.abs(x) >= MASK_MAGNITUDE  # NaN is no mask: it stays NaN
            values[masks] = x[masks] / scale
        return QTensor(values, scale, dtype)
    return QTensor(round_to(x, dtype), 1.0, dtype)



def finite_max(x: np.ndarray) -> float:
    """The largest magnitude in ``x`` below `MASK_MAGNITUDE` (0 if none): a mask's ±inf or
    −3.4e38 saturates instead of setting a scale (NaN is skipped too). One pass when no
    value is a mask."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return 0.0
    high, low = float(x.max()), float(x.min())  # no |x| temporary
    if low > -MASK_MAGNITUDE and high < MASK_MAGNITUDE:  # NaN fails both
        return max(high, -low)
    magnitude = np.abs(x)
    return float(magnitude[magnitude < MASK_MAGNITUDE].max(initial=0.0))


def sqnr_db(reference: np.ndarray, approx: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio of ``approx`` against ``reference`` (dB), over the
    elements where ``reference`` is a number below `MASK_MAGNITUDE` (a mask's ±inf or
    −3.4e38 is not signal); −inf when
    ``approx`` is NaN or infinite where ``reference`` is finite, or a number where
    ``reference`` is NaN (a broken result never looks perfect); NaN when no element of
    ``reference`` is finite (nothing to measure: never a perfect score for garbage)."""
    reference = _reals(reference, "sqnr_db", "reference").ravel()
    approx = _reals(approx, "sqnr_db", "approx").ravel()
    if reference.shape != approx.shape:
        raise InputError("simaccel.quant.sqnr_db", "approx", f"{approx.size} values against "
                         f"{reference.size} in the reference")
    with np.errstate(invalid="ignore", over="ignore"):  # masks: inf − inf, 3.4e38²
        diff = reference - approx
        signal = float(np.dot(reference, reference))
        noise = float(np.dot(diff, diff))
    if not (math.isfinite(signal) and math.isfinite(noise) and signal < MASK_MAGNITUDE**2):
        kept = np.abs(reference) < MASK_MAGNITUDE  # ±inf and −3.4e38 masks are not signal
        if not np.isfinite(approx[kept]).all():  # a finite value came out NaN or ±inf
            return float("-inf")
        if (np.isnan(reference) & ~np.isnan(approx)).any():  # a number against a NaN
            return float("-inf")
        if not kept.any():
            return float("nan")
        reference, diff = reference[kept], diff[kept]
        signal, noise = float(np.dot(reference, reference)), float(np.dot(diff, diff))
    if noise == 0:
        return float("inf")
    return 10 * np.log10(signal / noise) if signal > 0 else float("-inf")
