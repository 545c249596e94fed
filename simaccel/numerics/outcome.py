"""The outcome of checking one kernel numerically: what the results and report carry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """Outcome of the numerics check of one kernel."""

    status: str  # "pass", "fail" or "skipped"
    dtype: str
    max_abs_error: float | None = None
    sqnr_db: float | None = None  #: the quantized output against the fp model, in dB
    overflow: bool = False  #: an integer accumulator left its range
    note: str = ""
    #: GEMM: share (0..1) of the array's input operands (im2col'ed activations) that are
    #: zero, as the run computed them; what activation zero-gating saves (None: not run)
    zero_activations: float | None = None
