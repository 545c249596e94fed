"""Plots: every figure renders from a saved run; matplotlib stays out of `import simaccel`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from simaccel.cli import main

WORKLOADS = Path(__file__).resolve().parent.parent / "workloads"
PNG = b"\x89PNG\r\n\x1a\n"


def test_simulate_plots_and_replot(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["simulate", str(WORKLOADS / "mnist_cnn.json"), "--hw", "teaching_8x8",
                 "--out", str(run), "--plots", "--layers", "0:3"]) == 0
    names = ("cycles.png", "utilization.png", "energy.png", "roofline.png", "timeline.png")
    for name in names:
        assert (run / name).read_bytes()[:8] == PNG, name
    again = tmp_path / "again"
    assert main(["plot", str(run / "report.json"), "--out", str(again)]) == 0
    assert all((again / name).stat().st_size > 10_000 for name in names)


def test_plots_need_an_out_folder(capsys) -> None:
    assert main(["simulate", str(WORKLOADS / "mnist_cnn.json"), "--plots"]) == 2
    assert "--plots: needs --out" in capsys.readouterr().err


def test_plot_rejects_a_file_that_is_not_a_report(tmp_path: Path, capsys) -> None:
    (tmp_path / "x.json").write_text('{"schema": "other"}')
    assert main(["plot", str(tmp_path / "x.json")]) == 2
    assert "schema" in capsys.readouterr().err


def test_matplotlib_is_imported_lazily() -> None:
    code = ("import sys, simaccel; simaccel.simulate(simaccel.load_model(sys.argv[1]), "
            "simaccel.load_hardware(None), check=False); "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(WORKLOADS / "mnist_cnn.json")],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
