"""Nothing half-written, nothing after the fact: --out and --plots are checked before any
work, a run's files land as one set, and `simaccel plot` refuses a mixed or corrupt folder."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import simaccel
from simaccel.cli import main

MNIST = str(Path(__file__).resolve().parent.parent / "workloads" / "mnist_cnn.json")


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated before checking the output folder")
    monkeypatch.setattr(simaccel, "simulate", refuse)


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], starts: str,
             words: str) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert captured.err.startswith(f"simaccel: {starts}: "), captured.err
    assert words in captured.err


def test_out_that_is_a_file_is_refused_first(tmp_path: Path, no_simulation: None,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "taken"
    out.write_text("mine")
    _refused(capsys, ["simulate", MNIST, "--out", str(out)], str(out), "not a folder")
    assert out.read_text() == "mine"


def test_out_with_a_missing_parent_is_refused_first(tmp_path: Path, no_simulation: None,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no" / "such" / "run"
    _refused(capsys, ["simulate", MNIST, "--out", str(out)], str(out), "does not exist")
    assert not (tmp_path / "no").exists()


def test_unwritable_out_is_refused_first(no_simulation: None,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _refused(capsys, ["simulate", MNIST, "--out", "/proc/simaccel-run"], "/proc/simaccel-run",
             "cannot write there")


def test_plots_without_out_are_refused_first(no_simulation: None,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _refused(capsys, ["simulate", MNIST, "--plots"], "--plots", "needs --out")


def _run(folder: Path, hw: str = "gemmini") -> None:
    assert main(["simulate", MNIST, "--hw", hw, "--no-check", "--quiet", "--out",
                 str(folder)]) == 0


def test_a_run_is_written_as_one_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    _run(run)
    capsys.readouterr()
    assert sorted(p.name for p in run.iterdir()) == ["layers.csv", "report.json", "trace.json"]
    trace = json.loads((run / "trace.json").read_text())
    digest = hashlib.sha256((run / "report.json").read_bytes()).hexdigest()
    assert trace["otherData"]["report_sha256"] == digest


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    report = simaccel.simulate(simaccel.load_model(MNIST), simaccel.load_hardware("gemmini"),
                               check=False)

    def broken(folder: Path) -> list[Path]:
        (folder / "cycles.png").write_bytes(b"half")
        raise RuntimeError("the plots failed")

    with pytest.raises(RuntimeError):
        report.write(tmp_path / "run", also=broken)
    assert list((tmp_path / "run").iterdir()) == []


@pytest.mark.parametrize(("damage", "words"), [
    ("mixed", "different runs"),
    ("trace_torn", "not valid JSON"),
    ("report_torn", "not valid JSON"),
    ("report_infinity", "Infinity is not a JSON number"),
    ("no_layers", "not a complete report"),
])
def test_plot_refuses_a_mixed_or_corrupt_run(tmp_path: Path, damage: str, words: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    run, other = tmp_path / "run", tmp_path / "other"
    _run(run)
    report = run / "report.json"
    if damage == "mixed":
        _run(other, hw="teaching_8x8")
        shutil.copy(other / "trace.json", run / "trace.json")
    elif damage == "trace_torn":
        text = (run / "trace.json").read_text()
        (run / "trace.json").write_text(text[: len(text) // 2])
    elif damage == "report_torn":
        report.write_text(report.read_text()[:100])
    elif damage == "report_infinity":
        report.write_text(report.read_text().replace('"cycles": ', '"cycles": Infinity, "x": ',
                                                      1))
    else:
        doc = json.loads(report.read_text())
        del doc["layers"]
        report.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["plot", str(run)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1, captured.err
    assert words in captured.err
    assert not (run / "cycles.png").exists()
