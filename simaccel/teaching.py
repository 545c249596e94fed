"""Helpers for the teaching labs (``notebooks/``): checking a student's answer against the
simulator's figure."""

from __future__ import annotations

import math


def check(answer: float | int | str | None, expected: float | int | str, *, rel: float = 0.0,
          hint: str = "") -> None:
    """Compare ``answer`` with ``expected`` (numbers within relative tolerance ``rel``,
    anything else for equality). Prints a line saying it is right; raises AssertionError
    with ``hint`` when it is not, or when no answer was given (``None`` or ``...``)."""
    if answer is None or answer is Ellipsis:
        raise AssertionError("no answer yet: replace the ... with yours"
                             + (f" (hint: {hint})" if hint else ""))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool)
                  for v in (answer, expected))
    right = (math.isclose(answer, expected, rel_tol=rel, abs_tol=0.0 if rel else 1e-12)
             if numeric else answer == expected)
    if not right:
        raise AssertionError(f"{answer!r} is not it: the simulator says {expected!r}"
                             + (f" (hint: {hint})" if hint else ""))
    print(f"correct: {expected!r}")
