"""Reading the user's files: every way a read can fail is one `InputError` naming the file."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from simaccel.errors import InputError


def read_text(path: Path, allow_empty: bool = False) -> str:
    """The UTF-8 text of ``path`` (a leading byte-order mark, which Windows editors write,
    dropped: every text input reads the same with or without one); an `InputError` if it
    is missing, unreadable or (unless ``allow_empty``) blank."""
    source = str(path)
    if path.is_dir():  # Path("") is "." too: a folder, never what was meant
        raise InputError(source, "", "is a folder, not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")
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


def read_json(path: Path) -> object:
    """``path`` decoded as strict JSON (RFC 8259: no duplicate keys, no NaN or Infinity);
    an `InputError` naming the file for anything malformed."""
    source = str(path)
    text = read_text(path)
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _NotJson as exc:
        raise InputError(source, "", f"not valid JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(source, "", f"not valid JSON: {exc.msg} (line {exc.lineno}, "
                         f"column {exc.colno})") from None
    except ValueError as exc:  # an integer longer than Python's int-string limit
        raise InputError(source, "", f"not valid JSON: {str(exc).split(';')[0]}") from None
    except RecursionError:
        raise InputError(source, "", "not valid JSON: nested too deeply") from None


class _NotJson(ValueError):
    """What Python's json module accepts but RFC 8259 JSON does not."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise _NotJson(f"duplicate key {key!r} in one object")
        seen[key] = value
    return seen


def _no_constant(name: str) -> object:
    raise _NotJson(f"{name} is not a JSON number")
