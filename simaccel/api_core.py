"""Checked public entries to functions whose internal callers pass validated values:
``simaccel.vary`` and ``simaccel.pareto_front``. Each checks its arguments in signature
order and turns a refusal into an `InputError` naming the function (as the source) and the
parameter or config field, then calls the internal function (`simaccel.hardware.vary`,
`simaccel.sweeps.pareto_front`), which the sweeps keep calling directly (a sweep records a
design point's pydantic error in its row). Reached as ``simaccel.<name>`` (docs/teaching.md,
"What students may use")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simaccel import api_args
from simaccel.errors import InputError

__all__ = ["pareto_front", "vary"]


def vary(hw, changes: Mapping[str, Any]):
    """``hw`` (a `Hardware`, shipped name or config path) with dotted config fields changed
    and validated again: ``{"array.rows": 32}``; a key ``"array.rows+array.cols"`` sets both
    fields to one value (docs/formats.md lists the fields and their units). Raises
    `InputError` naming ``hw``, ``changes`` (not a dict of dotted names), or the field
    (``array.rowz``: unknown field; ``array.rows``: out of range, with the bound)."""
    from pydantic import ValidationError

    from simaccel.frontends.validation import raise_input_error
    from simaccel.hardware import vary as _vary

    where = "simaccel.vary"
    loaded = api_args.hardware(hw, where)
    if not isinstance(changes, Mapping) or not all(
            isinstance(key, str) and key.strip() for key in changes):
        raise InputError(where, "changes", f"expected a dict of dotted field names to values "
                         f"(such as {{'array.rows': 32}}), got {changes!r}")
    _check_memories(where, changes)
    try:
        return _vary(loaded, changes)
    except ValidationError as exc:
        raise_input_error(where, exc)
        raise  # unreachable: raise_input_error always raises
    except ValueError as exc:  # a dotted name through a value: "array.rows.x"
        raise InputError(where, "changes", str(exc)) from None


def pareto_front(frame, objectives: Sequence[str]):
    """The rows of ``frame`` (a pandas DataFrame, as `simaccel.sweep` returns) that no other
    row beats on every one of ``objectives`` (a list of its column names; all minimised: to
    maximise a metric, minimise its negative). Failed points (NaN objectives) are left out.
    Raises `InputError` naming ``frame`` (not a DataFrame) or ``objectives`` (not a
    non-empty list of names, or a name that is not a column)."""
    from simaccel.sweeps import pareto_front as _front

    where = "simaccel.pareto_front"
    columns = getattr(frame, "columns", None)
    if columns is None or not hasattr(frame, "dropna"):
        raise InputError(where, "frame", f"expected a pandas DataFrame, got "
                         f"{type(frame).__name__}")
    if isinstance(objectives, str) or not isinstance(objectives, Sequence) or not objectives:
        raise InputError(where, "objectives", f"expected a non-empty list of column names, "
                         f"got {objectives!r}")
    missing = [name for name in objectives if not isinstance(name, str) or name not in columns]
    if missing:
        raise InputError(where, "objectives", f"{missing[0]!r} is not a column; columns: "
                         f"{', '.join(map(str, columns))}")
    for name in objectives:
        if not _numeric(frame[name]):
            raise InputError(where, "objectives", f"column {name!r} is not numeric "
                             f"({frame[name].dtype}): an objective is a number to minimise")
    return _front(frame, list(objectives))


def _numeric(column) -> bool:
    """A pandas column of real numbers (booleans are not an objective)."""
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(column)
                and not pd.api.types.is_bool_dtype(column)
                and not pd.api.types.is_complex_dtype(column))


def _check_memories(where: str, changes: Mapping[str, Any]) -> None:
    """A ``memories`` change is the whole list of ``[[memories]]`` tables, each checked as
    a config's (`simaccel.hardware.MemoryConfig`) before `simaccel.hardware.vary` reads
    them; ``memories.0.kib`` (one field of one entry) is refused. Raises `InputError`
    naming ``where`` and the field (``memories[0].holds``)."""
    from pydantic import ValidationError

    from simaccel.frontends.validation import raise_input_error
    from simaccel.hardware import MemoryConfig

    for key, value in changes.items():
        for dotted in key.split("+"):
            head, _, rest = dotted.strip().partition(".")
            if head != "memories":
                continue
            if rest:
                raise InputError(where, dotted.strip(), "a [[memories]] entry is changed "
                                 "whole: give 'memories' the list of its tables")
            if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
                raise InputError(where, "memories", f"expected a list of [[memories]] "
                                 f"tables, got {type(value).__name__}")
            for i, table in enumerate(value):
                try:
                    MemoryConfig.model_validate(table)
                except ValidationError as exc:
                    raise_input_error(where, exc, prefix=("memories", i))
