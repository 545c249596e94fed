"""Turn pydantic validation errors into one-line `InputError`s that name the field."""

from __future__ import annotations

import difflib
import re

from pydantic import ValidationError

from simaccel.errors import InputError, field_path
from simaccel.model import OPS


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop the discriminator tag pydantic inserts after ``layers[i]`` (``layers.3.conv2d.x``)."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if isinstance(part, str) and i > 0 and isinstance(loc[i - 1], int) and part in OPS:
            continue
        if isinstance(part, str) and (part == "[key]" or part.startswith(
                ("function-", "literal[", "tuple["))):
            continue
        out.append(part)
    return tuple(out)


def _message(error: dict) -> tuple[tuple[str | int, ...], str]:
    loc = _clean_loc(tuple(error["loc"]))
    kind = error["type"]
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag", "?")
        return loc + ("op",), f"unknown op {tag!r}; known ops: {', '.join(OPS)}"
    if kind == "union_tag_not_found":
        return loc + ("op",), "missing (every layer needs an op)"
    if kind == "missing":
        return loc, "missing"
    if kind == "extra_forbidden":
        return loc, "unknown field"
    value = error.get("input")
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    text = error["msg"].removeprefix("Value error, ").rstrip(".")
    text = re.sub(r"<\w+\.\w+: ('[^']*')>", r"\1", text)  # enum members as their values
    return loc, f"{text} (got {shown})"


def raise_input_error(source: str, exc: ValidationError, prefix: tuple = ()) -> None:
    """Raise the first of ``exc``'s errors as an `InputError` naming ``source`` and the field
    (later errors are mostly knock-on effects of the first, so only it is shown)."""
    errors = exc.errors()
    loc, message = _message(errors[0])
    if errors[0]["type"] == "missing":  # a misspelt field shows as missing + unknown: name both
        for error in errors[1:]:
            other = _clean_loc(tuple(error["loc"]))
            if (error["type"] == "extra_forbidden" and other[:-1] == loc[:-1]
                    and difflib.get_close_matches(str(other[-1]), [str(loc[-1])])):
                loc, message = other, f"unknown field (did you mean {loc[-1]!r}?)"
                break
    raise InputError(source, field_path(prefix + loc), message) from None
