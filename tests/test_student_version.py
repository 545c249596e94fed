"""The student version of a lab: solutions out, instructor cells out, outputs cleared; bad
input is one line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simaccel.cli import main
from simaccel.errors import InputError
from simaccel.student_version import PLACEHOLDER, first_exercise, student_notebook

SOLVED = """import math
# BEGIN SOLUTION
m = 16 * 16
answer = math.ceil(m / 8)
# END SOLUTION
grade("01.2", answer, rows=R, cols=C)"""


def _notebook(*cells: dict) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)}


def _code(source: str, tags=()) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {"tags": list(tags)},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "32\n"}],
            "execution_count": 3}


def _markdown(source: str, tags=()) -> dict:
    return {"cell_type": "markdown", "source": source, "metadata": {"tags": list(tags)}}


def test_solution_lines_become_one_placeholder() -> None:
    doc = _notebook(_markdown("# Lab"), _code("x = 1"), _code(SOLVED),
                    _markdown("Rubric: names the fill/drain", tags=["instructor"]))
    student = student_notebook(doc)
    assert [c["cell_type"] for c in student["cells"]] == ["markdown", "code", "code"]
    assert student["cells"][2]["source"] == (
        f"import math\n{PLACEHOLDER}\ngrade(\"01.2\", answer, rows=R, cols=C)")
    assert all(c["outputs"] == [] and c["execution_count"] is None
               for c in student["cells"] if c["cell_type"] == "code")
    assert first_exercise(student) == 2
    assert "BEGIN" in doc["cells"][2]["source"]            # the instructor's copy is untouched


def test_instructor_notes_inside_a_markdown_cell_are_dropped() -> None:
    doc = _notebook(_markdown("**Why?** Explain.\n<!-- BEGIN INSTRUCTOR -->\nRubric: fill/drain"
                              "\n<!-- END INSTRUCTOR -->\nThen go on."))
    assert student_notebook(doc)["cells"][0]["source"] == "**Why?** Explain.\nThen go on."
    with pytest.raises(InputError, match="never closed"):
        student_notebook(_notebook(_markdown("<!-- BEGIN INSTRUCTOR -->\nRubric")))


def test_an_indented_solution_keeps_its_indentation() -> None:
    source = "if True:\n    # BEGIN SOLUTION\n    answer = 3\n    # END SOLUTION\n    print(answer)"
    assert strip(source) == f"if True:\n    {PLACEHOLDER}\n    print(answer)"


def strip(source: str) -> str:
    return student_notebook(_notebook(_code(source)))["cells"][0]["source"]


@pytest.mark.parametrize(("source", "words"), [
    ("# BEGIN SOLUTION\nanswer = 1", "never closed"),
    ("answer = 1\n# END SOLUTION", "without"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "inside another"),
])
def test_malformed_markers_name_the_cell(source, words) -> None:
    with pytest.raises(InputError, match=words) as info:
        student_notebook(_notebook(_markdown("x"), _code(source)), "lab.ipynb")
    assert "lab.ipynb: cells[1]" in str(info.value)


def test_cli_writes_the_student_versions(tmp_path: Path, capsys) -> None:
    src = tmp_path / "labs"
    src.mkdir()
    (src / "01_lab.ipynb").write_text(json.dumps(_notebook(_code(SOLVED))))
    out = tmp_path / "student"
    assert main(["lab", "student", str(src), "-o", str(out)]) == 0
    written = json.loads((out / "01_lab.ipynb").read_text())
    assert PLACEHOLDER in written["cells"][0]["source"]
    assert "m = 16 * 16" not in written["cells"][0]["source"]


@pytest.mark.parametrize(("content", "words"), [
    ("{not json", "cannot read the notebook"),
    ('{"cells": []}', "not an nbformat-4 notebook"),
    (json.dumps(_notebook(_code("# END SOLUTION"))), "cells[0]"),
])
def test_bad_notebooks_exit_2_and_write_nothing(tmp_path: Path, capsys, content, words) -> None:
    good, bad = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    good.write_text(json.dumps(_notebook(_code(SOLVED))))
    bad.write_text(content)
    out = tmp_path / "out"
    assert main(["lab", "student", str(good), str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert words in err and str(bad) in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_refuses_to_overwrite_the_instructor_notebooks(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.ipynb").write_text(json.dumps(_notebook(_code(SOLVED))))
    assert main(["lab", "student", str(tmp_path), "-o", str(tmp_path)]) == 2
    assert "overwrite" in capsys.readouterr().err
    assert "BEGIN SOLUTION" in (tmp_path / "a.ipynb").read_text()


@pytest.mark.parametrize("cell, field", [
    ({"cell_type": "code", "source": "x = 1", "metadata": []}, "metadata"),
    ({"cell_type": "code", "source": ["x = 1", 5], "metadata": {}}, "source"),
    ({"cell_type": "code", "source": 7, "metadata": {}}, "source"),
    ({"cell_type": "code", "source": "x = 1", "metadata": {"tags": "not-for-instructor"}},
     "metadata.tags"),
    ({"cell_type": "code", "source": "#BEGIN SOLUTION\nanswer = 42\n#END SOLUTION",
      "metadata": {}}, "source"),
    ({"cell_type": "raw", "source": "# BEGIN SOLUTION\nanswer = 42\n# END SOLUTION",
      "metadata": {}}, "source"),
])
def test_a_malformed_or_leaky_cell_is_bad_input_naming_it(cell: dict, field: str) -> None:
    """Found by a newcomer: these crashed, or copied a solution into the handout, or dropped
    a cell whose tags were a string."""
    with pytest.raises(InputError, match=rf"cells\[0\].*{field}"):
        student_notebook(_notebook(cell), "lab.ipynb")


def test_two_notebooks_of_one_name_are_refused(tmp_path: Path, capsys) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "lab.ipynb").write_text(json.dumps(_notebook(_code(SOLVED))))
    out = tmp_path / "out"
    assert main(["lab", "student", str(tmp_path / "a"), str(tmp_path / "b"),
                 "-o", str(out)]) == 2
    assert "two notebooks named lab.ipynb" in capsys.readouterr().err and not out.exists()


def test_the_handout_carries_the_files_the_labs_read(tmp_path: Path, capsys) -> None:
    """A handout runs on its own (found by a newcomer: lab 03 stopped at its first cell, labs
    04 and 06 at their workloads, outside the repository): the workloads and the digits
    script beside the notebooks' folder are copied into it, where the labs look first."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_lab.ipynb").write_text(json.dumps(_notebook(_code(SOLVED))))
    (tmp_path / "workloads" / "sweeps").mkdir(parents=True)
    (tmp_path / "workloads" / "net.json").write_text("{}")
    (tmp_path / "workloads" / "sweeps" / "s.toml").write_text("x = 1")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "train_digits.py").write_text("# the trainer")
    (tmp_path / "scripts" / "export_onnx.py").write_text("# not for students")
    out = tmp_path / "handout"
    assert main(["lab", "student", str(tmp_path / "notebooks"), "-o", str(out)]) == 0
    assert "1 student notebook(s)" in capsys.readouterr().out
    assert (out / "workloads" / "net.json").read_text() == "{}"
    assert (out / "workloads" / "sweeps" / "s.toml").exists()
    assert (out / "scripts" / "train_digits.py").read_text() == "# the trainer"
    assert not (out / "scripts" / "export_onnx.py").exists()


def test_labs_that_read_workloads_are_refused_without_them(tmp_path: Path, capsys) -> None:
    """Labs copied away from the repository (no workloads/ beside or above them) would make a
    handout that stops at its first cell: refused in one line, nothing written. A handout
    (its workloads/ inside) rebuilds."""
    (tmp_path / "copy").mkdir()
    lab = _notebook(_code('ROOT / "workloads" / "net.json"\n' + SOLVED))
    (tmp_path / "copy" / "01_lab.ipynb").write_text(json.dumps(lab))
    out = tmp_path / "handout"
    assert main(["lab", "student", str(tmp_path / "copy"), "-o", str(out)]) == 2
    assert "workloads/" in capsys.readouterr().err and not out.exists()
    (tmp_path / "copy" / "workloads").mkdir()
    (tmp_path / "copy" / "workloads" / "net.json").write_text("{}")
    assert main(["lab", "student", str(tmp_path / "copy"), "-o", str(out)]) == 0
    assert (out / "workloads" / "net.json").exists()
