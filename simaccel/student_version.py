"""The student version of a lab: solutions stripped, instructor notes removed, outputs cleared.

A lab notebook is written once, as the instructor's version, with two conventions:

* in a code cell, the lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` are the worked
  solution. The student version replaces them with one line, ``answer = ...`` at the marker's
  indentation, so the cell still runs and ``grade`` answers "no answer yet";
* a cell (markdown or code) tagged ``instructor`` in its metadata (``metadata.tags``) — a "why"
  question's rubric, a note on grading — is left out, and so are the lines of a markdown cell
  between ``<!-- BEGIN INSTRUCTOR -->`` and ``<!-- END INSTRUCTOR -->`` (a rubric inside a
  cell that students keep).

Notebooks are read and written as plain nbformat-4 JSON (no Jupyter dependency).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

from simaccel.errors import InputError

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
NOTE_BEGIN, NOTE_END = "<!-- BEGIN INSTRUCTOR -->", "<!-- END INSTRUCTOR -->"
#: What a stripped solution becomes: the student fills it in.
PLACEHOLDER = "answer = ...  # your answer here"
INSTRUCTOR_TAG = "instructor"
#: The repository's files the labs read, relative to the folder above their notebooks: a
#: handout gets a copy, so that it runs on its own (a lab finds ``workloads/`` beside it, or
#: the repository's from ``notebooks/``).
LAB_DATA = ("workloads", "scripts/train_digits.py")


def _source(cell: dict, where: str = "<cell>") -> str:
    """A cell's text (nbformat keeps it as a string or a list of strings)."""
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    if not isinstance(source, str):
        raise InputError(where, "source", "not text (a string or a list of strings)")
    return source


def _tags(cell: dict, where: str) -> list[str]:
    metadata = cell.get("metadata", {})
    if not isinstance(metadata, dict):
        raise InputError(where, "metadata", "not an object")
    tags = metadata.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InputError(where, "metadata.tags", "not a list of strings")
    return tags


def _near_misses(source: str, where: str, markers: tuple[str, ...]) -> None:
    """Refuse a line that looks like a marker but is not one exactly (``#BEGIN SOLUTION``,
    ``# begin solution``): its solution would reach the handout."""
    exact = {m.strip() for m in markers}
    squeeze = {m.replace(" ", "").lower() for m in markers}
    for line in source.split("\n"):
        text = line.strip()
        if text not in exact and text.replace(" ", "").lower() in squeeze:
            raise InputError(where, "source", f"{text!r} is not a marker: write one of "
                             + ", ".join(repr(m) for m in markers))


def strip_solution(source: str, where: str, begin: str = BEGIN, end: str = END,
                   placeholder: str | None = PLACEHOLDER) -> str:
    """``source`` with each ``begin``…``end`` block (solution markers by default) replaced by
    the ``placeholder`` line at the marker's indentation (nothing when it is ``None``).
    Raises ``InputError`` (``where`` names the cell) for an unclosed or stray marker."""
    out, inside = [], False
    for line in source.split("\n"):
        marker = line.strip()
        if marker == begin:
            if inside:
                raise InputError(where, "source", f"{begin} inside another such block")
            inside = True
            if placeholder is not None:
                out.append(line[:len(line) - len(line.lstrip())] + placeholder)
        elif marker == end:
            if not inside:
                raise InputError(where, "source", f"{end} without {begin}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise InputError(where, "source", f"{begin} is never closed by {end}")
    return "\n".join(out)


def student_notebook(notebook: dict, source: str = "<notebook>") -> dict:
    """The student version of ``notebook`` (nbformat-4 JSON as a dict), a new dict. Raises
    ``InputError`` naming ``source`` and the cell for a document that is not a notebook or a
    malformed solution block."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list) or notebook.get("nbformat") != 4:
        raise InputError(source, "cells", "not an nbformat-4 notebook")
    student = copy.deepcopy(notebook)
    kept = []
    for index, cell in enumerate(student["cells"]):
        if not isinstance(cell, dict) or "cell_type" not in cell:
            raise InputError(source, f"cells[{index}]", "not a notebook cell")
        where = f"{source}: cells[{index}]"
        if INSTRUCTOR_TAG in _tags(cell, where):
            continue
        text = _source(cell, where)
        _near_misses(text, where, (BEGIN, END, NOTE_BEGIN, NOTE_END))
        if cell["cell_type"] == "code":
            cell["source"] = strip_solution(text, where)
            cell["outputs"], cell["execution_count"] = [], None
        elif cell["cell_type"] == "markdown":
            cell["source"] = strip_solution(text, where, NOTE_BEGIN, NOTE_END, None)
        elif any(m in text for m in (BEGIN, END, NOTE_BEGIN, NOTE_END)):
            raise InputError(where, "source", f"a {cell['cell_type']} cell holds a solution or "
                             "instructor marker, which only code and markdown cells may")
        kept.append(cell)
    student["cells"] = kept
    return student


def first_exercise(notebook: dict) -> int:
    """Index of the first code cell a student must fill (it holds the placeholder line) in a
    student notebook. Raises ``ValueError`` if there is none."""
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code" and PLACEHOLDER in _source(cell):
            return index
    raise ValueError("the notebook has no exercise to fill")


def write_student_versions(paths: list[Path], out: Path) -> list[Path]:
    """Write the student version of every notebook in ``paths`` (files, or folders whose
    ``*.ipynb`` are taken) into folder ``out`` under the same names; returns the files written.
    Every notebook is read and stripped before anything is written, so bad input (unreadable
    file, not a notebook, malformed marker) raises ``InputError`` and writes nothing."""
    files = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.ipynb")))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(str(path), "", "no such file or folder")
    if not files:
        raise InputError(", ".join(map(str, paths)), "", "no .ipynb notebooks found")
    for file in files:
        if file.resolve().parent == out.resolve():
            raise InputError(str(out), "", f"is the folder of {file.name}: the student version "
                             "would overwrite the instructor's")
    names = [file.name for file in files]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise InputError(", ".join(map(str, paths)), "", f"two notebooks named {clash[0]}: the "
                         "student versions would overwrite each other")
    roots = sorted({_data_root(file.resolve().parent) for file in files})
    if not any((root / LAB_DATA[0]).is_dir() for root in roots) and any(
            LAB_DATA[0] in file.read_text(encoding="utf-8", errors="replace") for file in files):
        raise InputError(", ".join(map(str, paths)), "", f"these labs read {LAB_DATA[0]}/, "
                         "which is not beside their folder: build the handout from the "
                         "repository's notebooks/ so that it carries the files they read")
    stripped = {}
    for file in files:
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(str(file), "", f"cannot read the notebook: {exc}") from None
        stripped[file.name] = student_notebook(doc, str(file))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in stripped.items():
        target = out / name
        target.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
    for root in roots:
        written.extend(_copy_lab_data(root, out))
    return written


def _data_root(folder: Path) -> Path:
    """Where the labs in ``folder`` find their `LAB_DATA`: beside them (a handout), else in
    the folder above (the repository's ``notebooks/``), as the labs look."""
    return folder if (folder / LAB_DATA[0]).is_dir() else folder.parent


def _copy_lab_data(root: Path, out: Path) -> list[Path]:
    """Copy the `LAB_DATA` found under ``root`` into ``out``; returns the files copied."""
    copied = []
    for relative in LAB_DATA:
        source = root / relative
        sources = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() \
            else [source] if source.is_file() else []
        for file in sources:
            target = out / file.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)
            copied.append(target)
    return copied
