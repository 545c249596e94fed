"""Strict scalar types for every number and flag a user file gives, and the bounds they keep.

User input is validated strictly (``true`` is not 1, ``"32"`` is not 32, ``3.0`` is not a
count; an integer is accepted where a real number is wanted). Real numbers must be finite
unless a field says otherwise, and never subnormal: a value with 0 < |x| < 2.2e-308 (such as
``5e-324``) is refused, because nothing physical is that small and arithmetic on it
overflows. The documented bounds of each field sit beside it (`docs/formats.md`).
"""

from __future__ import annotations

import sys
from typing import Annotated

from pydantic import AfterValidator, Field, Strict

#: The smallest positive normal double; anything nonzero below it is subnormal.
MIN_NORMAL = sys.float_info.min


def _normal(value: float) -> float:
    if value != 0 and abs(value) < MIN_NORMAL:
        raise ValueError(f"{value!r} is subnormal: give a magnitude of at least "
                         f"{MIN_NORMAL:.4g} (or 0 where the field allows it)")
    return value


#: a whole number given as one (never a bool, a float or a string)
Int = Annotated[int, Strict()]
#: a real number given as a number (an int is accepted), finite and not subnormal
Real = Annotated[float, Strict(), Field(allow_inf_nan=False), AfterValidator(_normal)]
#: a real number that may be ``inf`` (never NaN), not subnormal
RealOrInf = Annotated[float, Strict(), AfterValidator(_normal)]
#: true or false, never 0/1 or a string
Bool = Annotated[bool, Strict()]
#: text given as a string
Str = Annotated[str, Strict()]
