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
    assert not (tmp_path / "run").exists()  # the folder write made is gone with its files


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


@pytest.fixture(scope="module")
def saved_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A run's report.json, as a dict to edit."""
    run = tmp_path_factory.mktemp("saved") / "run"
    _run(run)
    return json.loads((run / "report.json").read_text())


def _set(doc: dict, path: str, value: object) -> None:
    *parents, leaf = [int(p) if p.isdigit() else p for p in path.split(".")]
    for part in parents:
        doc = doc[part]
    if value is KeyError:
        del doc[leaf]
    else:
        doc[leaf] = value


@pytest.mark.parametrize(("path", "value", "field", "words"), [
    ("layers.0.cycles", KeyError, "layers[0].cycles", "missing"),
    ("layers.0.cycles", -5, "layers[0].cycles", "must be ≥ 0, not -5"),
    ("layers.0.cycles", "12", "layers[0].cycles", "expected a whole number, got a string"),
    ("layers.0.macs", True, "layers[0].macs", "got a boolean"),
    ("layers.1.energy_pj", {}, "layers[1].energy_pj.mac", "missing"),
    ("layers.2.end_cycle", 0, "layers[2].end_cycle", "before start_cycle"),
    ("layers.3.utilization", None, "layers[3].utilization", "got null"),
    ("layers.4", [], "layers[4]", "expected an object"),
    ("layers", [], "layers", "empty"),
    ("hardware.clock_mhz", 0, "hardware.clock_mhz", "must be > 0, not 0"),
    ("hardware.derived", {"pes": 0}, "hardware.derived.pes", "must be > 0"),
    ("model", "mnist", "model.name", "missing"),
    ("total.energy_pj.total", -1.0, "total.energy_pj.total", "must be ≥ 0"),
])
def test_plot_names_the_report_field_it_cannot_draw(
        saved_report: dict, tmp_path: Path, path: str, value: object, field: str, words: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a tester: an edited report.json said "KeyError: 'cycles'", and a zero
    clock, negative cycles or no layers plotted with exit 0."""
    doc = json.loads(json.dumps(saved_report))
    _set(doc, path, value)
    report = tmp_path / "report.json"
    report.write_text(json.dumps(doc))

    assert main(["plot", str(report)]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"simaccel: {report}: {field}: "), captured.err
    assert words in captured.err and len(captured.err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_the_plot_checks_pass_a_report_as_written(saved_report: dict) -> None:
    """A report as `simulate --out` writes it passes, also with unlimited bandwidth (null,
    SCALE-Sim's CALC mode) and a layer with no GEMM to map (mapping_efficiency null)."""
    from simaccel.report_fields import check_plot_fields

    doc = json.loads(json.dumps(saved_report))
    check_plot_fields(doc, "report.json")
    doc["hardware"]["derived"]["dram_bytes_per_cycle"] = None
    doc["layers"][1]["mapping_efficiency"] = None
    check_plot_fields(doc, "report.json")
