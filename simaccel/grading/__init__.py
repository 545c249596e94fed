"""The labs' grader: expected answers computed where a student working in a notebook does not
see them.

Each exercise of a lab is registered here under a key ``"<lab>.<number>"`` (``"01.3"``) with
a function that computes its expected answer from the lab's parameters or objects the notebook
passes in (``rows=8``, ``frame=…``), an explicit :class:`~simaccel.teaching.Tolerance` and a
hint. A notebook calls ``grade("01.3", answer, rows=R, cols=C)``: the grader computes the
expected value (by simulating, or from the objects passed), and :func:`simaccel.teaching.check`
says ``correct`` or how the answer is wrong, never the value.

The expected functions live in one module per lab (``lab01.py`` …), imported on first use.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

from simaccel.errors import InputError
from simaccel.teaching import Tolerance, check

#: Lab number -> the module that registers its exercises.
_LABS = {"01": "simaccel.grading.lab01", "02": "simaccel.grading.lab02",
         "03": "simaccel.grading.lab03", "04": "simaccel.grading.lab04",
         "05": "simaccel.grading.lab05", "06": "simaccel.grading.lab06",
         "07": "simaccel.grading.lab07"}


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: ``expected(**context)`` gives the answer, compared under
    ``tolerance``; ``hint`` is shown with a wrong answer."""

    key: str
    expected: Callable[..., object]
    tolerance: Tolerance = field(default_factory=Tolerance)
    hint: str = ""


#: Every registered exercise, by key ("01.3"). Filled by the lab modules as they import.
EXERCISES: dict[str, Exercise] = {}


#: An exact match: counts (folds, cycles, bytes) and categorical answers.
EXACT = Tolerance()


def exercise(key: str, tolerance: Tolerance = EXACT, hint: str = ""):
    """Decorator: register the decorated function as exercise ``key``'s expected answer."""
    def register(function: Callable[..., object]) -> Callable[..., object]:
        if key in EXERCISES:
            raise ValueError(f"exercise {key} is registered twice")
        EXERCISES[key] = Exercise(key, function, tolerance, hint)
        return function
    return register


def lookup(key: str) -> Exercise:
    """The exercise registered as ``key``, importing its lab's module on first use.
    Raises ``KeyError`` naming the known labs or exercises for an unknown key."""
    lab = key.split(".", 1)[0]
    if lab not in _LABS:
        raise KeyError(f"no lab {lab!r}: the labs are {', '.join(_LABS)}")
    importlib.import_module(_LABS[lab])
    if key not in EXERCISES:
        known = sorted(k for k in EXERCISES if k.startswith(lab + "."))
        raise KeyError(f"no exercise {key!r}: lab {lab} has {', '.join(known)}")
    return EXERCISES[key]


def grade(key: str, answer: object, **context: object) -> None:
    """Print ``correct`` if ``answer`` is exercise ``key``'s answer for the lab's ``context``
    (its parameters and objects, as keyword arguments); raise ``AssertionError`` saying how it
    is wrong (direction and rough size for numbers), or that there is no answer yet (``...``
    or ``None``), never showing the expected value. Raises `InputError` naming ``key`` for
    an unknown exercise (``"01"``, ``"nope"``) and ``context`` for keywords it does not
    take."""
    if not isinstance(key, str):
        raise InputError("simaccel.grading.grade", "key", f"expected an exercise name such as "
                         f"'01.1', got {type(key).__name__}")
    try:
        item = lookup(key)
    except KeyError as exc:
        raise InputError("simaccel.grading.grade", "key", exc.args[0]) from None
    if answer is None or answer is Ellipsis:
        check(answer, None, hint=item.hint)
    try:
        bound = inspect.signature(item.expected).bind(**context)
    except TypeError as exc:  # a missing or unknown keyword: say what the exercise takes
        raise InputError("simaccel.grading.grade", "context", f"exercise {key} takes "
                         f"{_parameters(item.expected)}: {exc}") from None
    check(answer, item.expected(*bound.args, **bound.kwargs), rel=item.tolerance.rel,
          abs=item.tolerance.abs, hint=item.hint)


def _parameters(function: Callable) -> str:
    names = list(inspect.signature(function).parameters)
    return ", ".join(f"{n}=..." for n in names) if names else "no keyword arguments"
