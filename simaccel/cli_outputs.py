"""Every output path of the command line checked before any work, by one rule.

An output is a folder (``simulate --out``, ``plot --out``, ``llm --out``, ``lab student
-o``) or a file (``import -o``, ``prune -o``, ``sweep --out``, ``collective --trace``).
Either is refused, as an `InputError` naming the path (or the option, for an empty one),
when it is empty, when a file stands where a folder goes (or a folder where a file goes),
when a model file it writes does not end in .json (``simulate`` could not read it back),
when its parent folder does not exist or is not a folder, or when the process cannot
create files there. No verb creates a missing parent folder: a typo in a path is refused,
never turned into a new tree of folders. An input path (`INPUTS`) may not be empty
either. `OUTPUTS` lists every output option once; `check`
runs the rule on those a parsed command line holds, before the verb runs.
"""

from __future__ import annotations

import argparse
from enum import Enum
from pathlib import Path

from simaccel.errors import InputError


class Output(Enum):
    """What an output option names."""

    FOLDER = "folder"
    FILE = "file"
    #: a file that ``simulate`` reads back as a model: it must end in .json (the suffix
    #: is how a model file's kind is told, `simaccel.frontends`)
    MODEL = "model.json file"


#: (verb, argparse dest) → (the option as typed, what it names): every output path option
OUTPUTS: dict[tuple[str, str], tuple[str, Output]] = {
    ("simulate", "out"): ("--out", Output.FOLDER),
    ("plot", "out"): ("--out", Output.FOLDER),
    ("llm", "out"): ("--out", Output.FOLDER),
    ("lab", "out"): ("--out", Output.FOLDER),
    ("import", "output"): ("--output", Output.MODEL),
    ("prune", "output"): ("--output", Output.MODEL),
    ("sweep", "out"): ("--out", Output.FILE),
    ("collective", "trace"): ("--trace", Output.FILE),
}


#: argparse dest → the argument as the help names it: every input path (or config name)
#: of any verb, which may not be empty (an empty path would read the current folder)
INPUTS: dict[str, str] = {"model": "MODEL", "hw": "--hw", "run": "RUN", "config": "CONFIG",
                          "spec": "SPEC", "notebooks": "NOTEBOOKS"}


def check(args: argparse.Namespace) -> None:
    """Refuse (`InputError`) an empty input path and any output path of the parsed command
    line ``args`` that cannot be written; an option not given (None) is not checked."""
    for dest, name in INPUTS.items():
        values = getattr(args, dest, None)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and not value.strip():
                raise InputError(name, "", "is empty: give a path")
    for (verb, dest), (option, kind) in OUTPUTS.items():
        value = getattr(args, dest, None) if args.verb == verb else None
        if value is not None:
            writable(value, option, kind)


def writable(path: str, option: str, kind: Output) -> None:
    """Refuse an output ``path`` (given with ``option``) that cannot be written as a
    ``kind``: empty, a file for a folder or a folder for a file, a model file not
    ending in .json, a parent that is missing
    or not a folder, or a folder the process cannot create files in. Raises `InputError`
    naming the path (an empty one: the option)."""
    if not path.strip():
        raise InputError(option, "", "is empty: give a path")
    target = Path(path)
    if kind is Output.FOLDER and target.exists() and not target.is_dir():
        raise InputError(path, "", "exists and is not a folder")
    if kind is not Output.FOLDER and target.is_dir():
        raise InputError(path, "", "is a folder; give the file to write")
    if kind is Output.MODEL and target.suffix.lower() != ".json":
        raise InputError(path, "", "give the model.json file to write (.json)")
    if kind is Output.FOLDER and target.is_dir():
        _can_create_in(target, path)
        return
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise InputError(path, "", f"its parent {str(parent)!r} is not a folder")
    if not parent.is_dir():
        raise InputError(path, "", f"its parent folder {str(parent)!r} does not exist")
    _can_create_in(parent, path)


def _can_create_in(folder: Path, path: str) -> None:
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InputError(path, "", f"cannot write there: {exc.strerror or exc}") from None
