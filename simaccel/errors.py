"""Errors that simaccel raises on purpose.

`InputError` is bad input from the user: it names the file and the field, and the CLI turns
it into one line and exit code 2. Anything else that escapes is an internal error (exit 1).
"""

from __future__ import annotations


class SimaccelError(Exception):
    """Base class of the errors simaccel raises deliberately."""


class InputError(SimaccelError):
    """A model, hardware config or other input is malformed.

    ``source`` is the file (or a label such as ``<memory>``), ``field`` the path inside it
    (``layers[3].kernel``), ``message`` what is wrong with it.
    """

    def __init__(self, source: str, field: str, message: str) -> None:
        self.source = source
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        source, field = shorten(self.source, 300), shorten(self.field, 200)
        where = f"{source}: {field}: " if field else f"{source}: "
        return where + shorten(self.message, 600)


def shorten(text: str, limit: int) -> str:
    """``text`` on one line and at most ``limit`` characters: a 100,000-character name keeps
    its start and end around ``...``."""
    text = " ".join(text.split()) if "\n" in text or "\r" in text else text
    if len(text) <= limit:
        return text
    keep = (limit - 3) // 2
    return text[:keep] + "..." + text[len(text) - keep:]


def field_path(loc: tuple[str | int, ...]) -> str:
    """Render a pydantic/JSON location tuple as ``layers[3].kernel[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class SimulationError(SimaccelError):
    """The engine could not run a Program to its end (a deadlock): a bug in the mapping,
    never the user's input."""
