"""The command line as a user meets it: tables, JSON, files, help, exit codes."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from simaccel.cli import main
from simaccel.report import CSV_COLUMNS
from tests.helpers import strict_json

ROOT = Path(__file__).resolve().parent.parent
MNIST = str(ROOT / "workloads" / "mnist_cnn.json")

LAYER_FIELDS = {"name", "op", "kernel", "dataflow", "folds", "cycles", "compute_cycles",
                "stall_cycles", "macs", "utilization", "mapping_efficiency", "sram_read_bytes",
                "sram_write_bytes", "dram_read_bytes", "dram_write_bytes", "check"}
TOTAL_FIELDS = LAYER_FIELDS - {"name", "op", "kernel", "dataflow", "folds", "check"} | {
    "latency_s", "inferences_per_s", "tops"}


def test_simulate_prints_a_table_and_totals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", MNIST, "--hw", "teaching_8x8"]) == 0
    out = capsys.readouterr().out
    for text in ("conv1", "conv2", "fc2", "total", "util %", "map eff %", "latency",
                 "TOPS achieved", "mapping efficiency", "teaching_8x8"):
        assert text in out


def test_json_prints_only_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", MNIST, "--json"]) == 0
    captured = capsys.readouterr()
    report = strict_json(captured.out)
    assert captured.err == ""
    assert report["schema"] == "simaccel-report/1"
    assert set(report) == {"schema", "model", "hardware", "total", "layers", "cores"}
    assert report["hardware"]["name"] == "scalesim_default"  # the documented default
    assert set(report["total"]) >= TOTAL_FIELDS
    for layer in report["layers"]:
        assert set(layer) >= LAYER_FIELDS
        assert {"status", "max_abs_error", "dtype", "sqnr_db", "overflow"} <= set(layer["check"])
        assert layer["check"]["status"] == "pass"  # small models are checked by default
    conv1 = report["layers"][0]
    assert conv1["kernel"] == {"type": "gemm", "m": 676, "k": 9, "n": 32, "groups": 1}
    assert report["layers"][1]["kernel"] == {"type": "vector", "elements": 13 * 13 * 32}


def test_out_writes_report_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["simulate", MNIST, "--hw", "gemmini", "--out", str(out)]) == 0
    report = strict_json((out / "report.json").read_text())
    rows = list(csv.DictReader((out / "layers.csv").open()))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["name"] for r in rows] == [layer["name"] for layer in report["layers"]]
    assert [int(r["cycles"]) for r in rows] == [layer["cycles"] for layer in report["layers"]]
    assert "wrote" in capsys.readouterr().out


def test_show_lists_layers_shapes_macs_and_gemms(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(ROOT / "workloads" / "resnet18.json")]) == 0
    out = capsys.readouterr().out
    assert "1,814,073,344 MACs" in out
    assert "[1, 112, 112, 64]" in out
    assert "GEMM m=12544 k=147 n=64" in out
    assert "fused into conv1" in out


def test_hw_list_names_every_shipped_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hw", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("scalesim_default", "tpu_v1", "gemmini", "edge_tpu_like", "teaching_8x8"):
        assert name in out
    assert "256×256" in out


def test_hw_accepts_a_toml_path(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "hw_configs" / "tpu_v1.toml"
    assert main(["simulate", MNIST, "--hw", str(path), "--json"]) == 0
    assert strict_json(capsys.readouterr().out)["hardware"]["clock_mhz"] == 700


@pytest.mark.parametrize("argv", [["--help"], ["simulate", "--help"], ["show", "--help"],
                                  ["hw", "--help"], ["hw", "list", "--help"]])
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    assert "usage: simaccel" in capsys.readouterr().out


def test_console_script_runs_end_to_end(tmp_path: Path) -> None:
    """The installed entry point, as a user runs it, in a subprocess."""
    proc = subprocess.run([sys.executable, "-m", "simaccel.cli", "simulate", MNIST, "--json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert strict_json(proc.stdout)["total"]["macs"] == 2_528_000


def test_progress_is_reported_and_silent_off_a_terminal(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    import simaccel

    seen = []
    simaccel.simulate(simaccel.load_model(MNIST), simaccel.load_hardware(None), check=True,
                      progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = [s for s, _, _ in seen]
    assert stages.index("tiling") < stages.index("simulating") < stages.index(
        "checking numerics")
    assert seen[-1] == ("checking numerics", 7, 7)
    assert main(["simulate", MNIST]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: no bar


def test_unlimited_bandwidth_reports_are_standard_json(tmp_path: Path) -> None:
    """SCALE-Sim CALC mode (bytes_per_cycle = inf): report.json, trace.json and --json parse
    with a strict RFC 8259 parser; unlimited is null, layers.csv leaves it empty."""
    data = Path(__file__).parent / "data"
    out = tmp_path / "run"
    assert main(["simulate", str(data / "setA_conv_topology.csv"), "--hw",
                 str(data / "example_ideal_8x8_os.cfg"), "--out", str(out), "--quiet"]) == 0
    report = strict_json((out / "report.json").read_text())
    strict_json((out / "trace.json").read_text())
    assert report["hardware"]["dram"]["bytes_per_cycle"] is None
    assert report["hardware"]["derived"]["dram_bytes_per_cycle"] is None
    assert "inf" not in (out / "layers.csv").read_text().lower()
    with pytest.raises(ValueError, match="Infinity"):
        strict_json('{"x": Infinity}')


def test_a_bad_flag_value_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's own refusals (a choice, a type) are one line and exit 2, as every bad input."""
    for argv in (["simulate", MNIST, "--train", "--precision", "int8"],
                 ["simulate", MNIST, "--hw"], ["simulate", MNIST, "--no-such-flag"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        err = capsys.readouterr()
        assert done.value.code == 2 and err.out == "" and err.err.count("\n") == 1, argv


def test_a_reader_that_stops_early_is_not_an_error() -> None:
    """`simaccel program … | head -1`: the closed pipe ends the command quietly."""
    done = subprocess.run(f"{sys.executable} -m simaccel.cli program "
                          f"{ROOT / 'workloads' / 'resnet18.json'} | head -1",
                          shell=True, capture_output=True, text=True, check=False)
    assert done.stdout.startswith("; kernel 0") and "error" not in done.stderr


def test_prune_never_overwrites_the_model_it_prunes(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    for name in ("digits_cnn.json", "digits_cnn.npz"):
        shutil.copy(ROOT / "workloads" / name, tmp_path / name)
    before = (tmp_path / "digits_cnn.npz").read_bytes()
    model = str(tmp_path / "digits_cnn.json")
    assert main(["prune", model, "--method", "nm", "--nm", "2:4", "-o", model]) == 2
    assert "overwrite" in capsys.readouterr().err
    assert (tmp_path / "digits_cnn.npz").read_bytes() == before


def test_train_refuses_a_batch_larger_than_the_training_set(
        capsys: pytest.CaptureFixture[str]) -> None:
    digits = str(ROOT / "workloads" / "digits_cnn.json")
    assert main(["train", digits, "--data", "digits", "--hw", "tpu_v1", "--precision", "bf16",
                 "--epochs", "1", "--batch", "2000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--batch" in err and "1347" in err


@pytest.mark.parametrize("seed", ["-1", str(2**63), "x"])
def test_train_refuses_a_seed_numpy_cannot_take(seed: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A seed outside an int64's non-negative range is bad input (one line naming --seed),
    not numpy's ValueError surfacing as an internal error."""
    digits = str(ROOT / "workloads" / "digits_cnn.json")
    with pytest.raises(SystemExit) as done:
        main(["train", digits, "--data", "digits", "--epochs", "1", "--seed", seed])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--seed" in err and "internal" not in err
