"""Regressions for a fresh tester's findings (one test a finding, each failing before
its fix): the LLM sweep's layout, import's output path, resumed sweeps after a timeout,
the LLM trace's link tracks, the LLM text's notes and messages that name their source."""

from __future__ import annotations

from pathlib import Path

import pytest

from simaccel.cli import main

ROOT = Path(__file__).resolve().parent
LLM = ROOT / "data" / "llm"


def test_llm_sweep_lays_every_point_out_as_parallel_says(tmp_path, capsys) -> None:
    """``llm --parallel data --sweep system.chips=...`` ran every point as auto (the row
    said "chosen tensor"); --parallel now holds at every point, and beside a swept
    ``parallel`` it is refused."""
    out = tmp_path / "s"
    assert main(["llm", str(LLM / "gpt2.json"), "--prompt", "16", "--generate", "2",
                 "--hw", "tpu_v4_like_x8", "--parallel", "data", "--batch", "4",
                 "--sweep", "system.chips=2,4", "--out", str(out)]) == 0
    import pandas as pd

    frame = pd.read_csv(out / "llm_sweep.csv", keep_default_na=False)
    assert list(frame["chosen"]) == ["data", "data"]
    capsys.readouterr()
    assert main(["llm", str(LLM / "gpt2.json"), "--hw", "tpu_v4_like_x8", "--parallel",
                 "tensor", "--sweep", "parallel=data,tensor"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "simaccel: --parallel: " in err


@pytest.mark.parametrize("argv", [
    ["import", str(ROOT / "data" / "onnx_cases" / "hardswish.onnx")],
    ["prune", str(ROOT.parent / "workloads" / "digits_cnn.json"), "--method", "nm",
     "--nm", "2:4"],
], ids=["import", "prune"])
def test_a_model_written_without_json_is_refused_up_front(argv, tmp_path, monkeypatch,
                                                          capsys) -> None:
    """``import X.onnx -o out`` wrote a model ``simulate`` refused ("no file type"); it is
    refused, as ``prune -o`` is, before any work, and nothing is written."""
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "-o", "out"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "simaccel: out: give the model.json file to write (.json)\n"
    assert list(tmp_path.iterdir()) == []
