"""Reading the user's files: every way a read can fail is one `InputError` naming the file."""

from __future__ import annotations

import tomllib
from pathlib import Path

from simaccel.errors import InputError


def read_text(path: Path, allow_empty: bool = False) -> str:
    """The UTF-8 text of ``path``; an `InputError` if it is missing, unreadable or (unless
    ``allow_empty``) blank."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(source, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(source, "", f"cannot read: {exc}") from None
    if not text.strip() and not allow_empty:
        raise InputError(source, "", "file is empty")
    return text


def read_toml(path: Path, allow_empty: bool = False) -> dict:
    """``path`` decoded as TOML; an `InputError` naming the file for anything malformed (an
    empty file too, unless ``allow_empty``: then it is an empty table)."""
    source = str(path)
    text = read_text(path, allow_empty)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, "", f"not valid TOML: {exc}") from None
    except ValueError as exc:  # an integer longer than Python's int-string limit
        raise InputError(source, "", f"not valid TOML: {str(exc).split(';')[0]}") from None
    except RecursionError:
        raise InputError(source, "", "not valid TOML: nested too deeply") from None
