"""The teaching notebooks run top to bottom, their graded exercises included: as the student
version up to the first exercise a student must fill (where ``grade`` must say there is no
answer yet), then as the instructor's version at the lab's own parameters, then at other
parameter sets (the prose's numbers and the solutions follow the parameters).

The runs of one lab share one kernel, the student's first (from a fresh kernel, so the handout
runs on its own); each later run executes every cell again from the top, so no figure comes
from an earlier run. Sharing saves a kernel start and the imports per run.

No speed is asserted here (a loaded machine must not fail the suite): the per-cell timeout
only stops a hung kernel. Each lab is meant to run in under a minute on a laptop."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from simaccel.student_version import first_exercise, student_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
#: Seconds one cell may run before the kernel is taken as hung: a guard, not a budget.
CELL_TIMEOUT_S = 600

#: Other parameter sets each lab must run green at (the parameter cell's names). They are
#: chosen to break what a hard-coded figure would: another array shape, another bandwidth.
PARAMETER_SETS = {
    "01_systolic_dataflows": [{"ROWS": 16, "COLS": 16}, {"ROWS": 4, "COLS": 8}],
    "02_memory_and_tiling": [{"BANDWIDTH": 8, "SQUARE": 512},
                             {"BANDWIDTH": 2, "BUFFERS_KIB": (16, 16, 8), "SQUARE": 512}],
    # lighter: a smaller second workload, 150 held-out digits and no fine-tuning
    "03_quantization_and_pruning": [
        {"ARRAY": 8, "BANDWIDTH": 8, "FINE_TUNE_EPOCHS": 0, "BIG_WORKLOAD": "mnist_cnn",
         "HELD_OUT": 150},
        {"ARRAY": 32, "BANDWIDTH": 32, "FINE_TUNE_EPOCHS": 0, "BIG_WORKLOAD": "mnist_cnn",
         "HELD_OUT": 150}],
    # lighter: the tiny grid (8 designs) in-process; another area budget
    "04_design_space_sweep": [{"SIZE": "tiny", "WORKERS": 1},
                              {"SIZE": "tiny", "WORKERS": 1, "AREA_BUDGET_MM2": 20.0}],
    "05_model_parallelism": [
        {"VECTOR_MIB": 3, "MICRO_BATCHES": 12, "LLM_BATCH": 8, "PROMPT": 128, "LINK_FACTOR": 4},
        {"VECTOR_MIB": 32, "MICRO_BATCHES": 64, "SEQUENCES_70B": 32, "CONTEXT_70B": 512}],
    # lighter: 64 digits for one epoch; another batch, other chip counts
    "06_training_on_the_accelerator": [
        {"BATCH": 16, "TRAIN_DIGITS": 64, "TEST_DIGITS": 32, "EPOCHS": 1, "CHIPS": 2,
         "SCALING_BATCH": 32},
        {"BATCH": 8, "TRAIN_DIGITS": 64, "TEST_DIGITS": 32, "EPOCHS": 1, "CHIPS": 8}],
    # another array; a smaller array on a layer with more input channels (deeper K)
    "07_mapping_and_energy": [{"ARRAY": 16}, {"ARRAY": 4, "LAYER": (8, 8, 32, 16, 3)}],
}


def test_every_lab_is_there() -> None:
    names = [nb.stem for nb in NOTEBOOKS]
    assert names == ["01_systolic_dataflows", "02_memory_and_tiling",
                     "03_quantization_and_pruning", "04_design_space_sweep",
                     "05_model_parallelism", "06_training_on_the_accelerator",
                     "07_mapping_and_energy"]


def _with_parameters(notebook, values: dict):
    """``notebook`` with the assignments ``NAME = ...`` of its parameter cell (tagged
    ``parameters``) set to ``values``."""
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    for name, value in values.items():
        source, count = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", cell.source,
                                count=1, flags=re.MULTILINE)
        assert count == 1, f"{name} is not a parameter of this lab"
        cell.source = source
    return notebook


def _student_prefix(path: Path):
    """The student version of ``path`` up to and including its first exercise to fill."""
    student = student_notebook(json.loads(path.read_text()), str(path))
    text = json.dumps(student)
    assert "BEGIN SOLUTION" not in text and "Rubric (instructor)" not in text
    student["cells"] = student["cells"][:first_exercise(student) + 1]
    return nbformat.from_dict(student)


def _run(client: NotebookClient, notebook) -> None:
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            client.execute_cell(cell, index)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_lab_runs_as_handed_out_and_at_every_parameter_set(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "notebooks are committed without outputs"
    # grade(...) hides the expected answer in simaccel.grading: no lab compares in the cell
    assert not any("check(" in c.source for c in notebook.cells if c.cell_type == "code")
    graded = [c for c in notebook.cells if c.cell_type == "code" and "grade(" in c.source]
    assert len(graded) >= 2, "each lab has exercises with graded answers"
    assert all("# BEGIN SOLUTION" in c.source for c in graded), "every graded cell has a solution"
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        with pytest.raises(CellExecutionError, match="no answer yet"):
            _run(client, _student_prefix(path))
        _run(client, notebook)
        for values in PARAMETER_SETS.get(path.stem, []):
            _run(client, _with_parameters(nbformat.read(path, as_version=4), values))
