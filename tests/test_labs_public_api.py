"""The labs' code cells use only the public API (issue 17, item 4): every ``import
simaccel.x``, ``from simaccel.x import ...``, ``from simaccel import x`` and ``simaccel.x``
must name a public name (``simaccel.__all__``) or a public module
(``simaccel.PUBLIC_MODULES``), and docs/teaching.md lists each of them for students. The
graders (``simaccel/grading``) may use internals: they are not student code."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import simaccel

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PUBLIC = {*simaccel.__all__, *simaccel.PUBLIC_MODULES}


def _code(source: str) -> str:
    """A cell's source as Python: IPython magics and shell lines blanked."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _dotted(node: ast.AST) -> list[str]:
    """``simaccel.a.b`` as ["simaccel", "a", "b"] ([] for anything not a plain dotted name)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else []


def non_public(source: str) -> list[str]:
    """The simaccel references in ``source`` that are not public, as written."""
    found = []
    for node in ast.walk(ast.parse(_code(source))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("simaccel.")
                      and a.name.split(".")[1] not in simaccel.PUBLIC_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "simaccel":
                continue
            if len(parts) > 1 and parts[1] not in simaccel.PUBLIC_MODULES:
                found.append(f"from {node.module}")
            elif len(parts) == 1:
                found += [f"simaccel.{a.name}" for a in node.names if a.name not in PUBLIC]
        elif isinstance(node, ast.Attribute):
            parts = _dotted(node)
            if len(parts) == 2 and parts[0] == "simaccel" and parts[1] not in PUBLIC:
                found.append(".".join(parts))
    return found


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lab_code_uses_only_the_public_api(path: Path) -> None:
    bad = [(n, ref) for n, cell in enumerate(_code_cells(path)) for ref in non_public(cell)]
    assert bad == [], f"{path.name}: non-public simaccel references (cell, name): {bad}"


@pytest.mark.parametrize(("source", "found"), [
    ("import simaccel.llm", ["simaccel.llm"]),
    ("from simaccel.llm_parallel import Parallel", ["from simaccel.llm_parallel"]),
    ("from simaccel import link_engine, vary", ["simaccel.link_engine"]),
    ("import simaccel\nx = simaccel.errors.InputError", ["simaccel.errors"]),
    ("import simaccel as s\nsimaccel.pipeline.prepare(m)", ["simaccel.pipeline"]),
    ("%matplotlib inline\nfrom simaccel.numerics import quant", ["from simaccel.numerics"]),
    ("import simaccel\nfrom simaccel import quant, plots\nfrom simaccel.teaching import check\n"
     "simaccel.collective('all_reduce', 8, 'tpu_v4_like_x8')\nsimaccel.InputError", []),
])
def test_the_check_finds_internal_references(source: str, found: list[str]) -> None:
    assert non_public(source) == found


def test_teaching_guide_lists_every_public_name() -> None:
    text = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    section = text.split("## What students may use", 1)[1].split("\n## ", 1)[0]
    missing = sorted(name for name in PUBLIC
                     if not re.search(rf"`(simaccel\.)?{re.escape(name)}\b", section))
    assert missing == []
