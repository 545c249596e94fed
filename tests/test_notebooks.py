"""The teaching notebooks run top to bottom, their exercise checks included.

No speed is asserted here (a loaded machine must not fail the suite): the per-cell timeout
only stops a hung kernel. Each lab is meant to run in under a minute on a laptop."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
#: Seconds one cell may run before the kernel is taken as hung: a guard, not a budget.
CELL_TIMEOUT_S = 600


def test_every_lab_is_there() -> None:
    names = [nb.stem for nb in NOTEBOOKS]
    assert names == ["01_systolic_dataflows", "02_memory_and_tiling",
                     "03_quantization_and_pruning", "04_design_space_sweep",
                     "05_model_parallelism", "06_training_on_the_accelerator"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "notebooks are committed without outputs"
    checks = [c for c in notebook.cells if c.cell_type == "code" and "check(" in c.source]
    assert len(checks) >= 2, "each lab has exercises with checked answers"
    NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
