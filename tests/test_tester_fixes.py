"""Regressions for a fresh tester's findings (one test a finding, each failing before
its fix): the LLM sweep's layout, import's output path, resumed sweeps after a timeout,
the LLM trace's link tracks, the LLM text's notes and messages that name their source."""

from __future__ import annotations

import json
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


def _lose_some(base, task, prepared) -> dict:
    """`run_point`, except that two points come back as an earlier run lost them (a point
    timeout, a dead worker) and one with an error of its own."""
    from simaccel import sweep_pool, sweeps

    rows = task.params["array.rows"]
    error = {8: f"{sweep_pool.TIMED_OUT} (0.01 s); stopped",
             16: f"{sweep_pool.DIED} (killed by SIGKILL) while running this point",
             32: "a fault of the point itself"}.get(rows)
    return sweeps._row(task, error) if error else sweeps.run_point(base, task, prepared)


def test_a_resumed_sweep_reruns_points_lost_to_a_timeout_or_a_dead_worker(
        tmp_path, capsys) -> None:
    """Points stopped by --point-timeout were never run again on resume; a timeout (or a
    lost worker) is a mishap of the run, not a property of the point: those rows are run
    again and counted, other errors are kept."""
    from simaccel import sweeps

    spec = sweeps.parse_spec({"base": "scalesim_default", "mode": "list",
                              "workloads": [str(ROOT.parent / "workloads" / "mnist_cnn.json")],
                              "points": [{"array.rows": r} for r in (4, 8, 16, 32)]})
    out = tmp_path / "r.csv"
    first = sweeps.execute(spec, out, runner=_lose_some)
    assert sum(bool(row.get("error")) for row in first.rows) == 3
    again = sweeps.execute(spec, out)
    assert sorted(row["array.rows"] for row in again.rows) == [8, 16]
    assert (again.rerun, again.skipped) == (2, 2)
    frame = sweeps.read_results(out)
    assert len(frame) == 4 and set(frame["key"]) == {row["key"] for row in first.rows}
    assert dict(zip(frame["array.rows"], frame["error"], strict=True)) == {
        4: "", 8: "", 16: "", 32: "a fault of the point itself"}
    last = sweeps.execute(spec, out)
    assert (last.rows, last.rerun, last.skipped) == ([], 0, 4)


def test_the_cli_says_how_many_rows_it_reruns(tmp_path, capsys) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(f'base = "scalesim_default"\nworkloads = '
                    f'["{ROOT.parent / "workloads" / "mnist_cnn.json"}"]\n'
                    'mode = "list"\npoints = [{"array.rows" = 4}, {"array.rows" = 8}]\n')
    out = tmp_path / "r.csv"
    from simaccel import sweeps

    sweeps.execute(sweeps.load_spec(str(spec)), out, runner=_lose_some)
    assert main(["sweep", str(spec), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    said = capsys.readouterr().out
    assert "1 points run (0 failed) (1 re-run: lost to a timeout or a dead worker before)" \
        in said and "1 already in" in said


@pytest.mark.parametrize("timeout", ["1e-320", "0", "nan"])
def test_a_subnormal_point_timeout_is_refused_as_zero_is(timeout, tmp_path, capsys) -> None:
    spec = ROOT / "bad_inputs" / "base" / "spec.toml"
    out = tmp_path / "r.csv"
    assert main(["sweep", str(spec), "--out", str(out), "--point-timeout", timeout]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--point-timeout: must be a positive number of seconds, "\
        "at least 2.22507e-308" in err
    assert list(tmp_path.iterdir()) == []


def test_no_two_slices_on_one_track_of_the_llm_trace_overlap(tmp_path) -> None:
    """``llm --out`` put every collective of a step at the same offset, so a link's track
    held overlapping slices; each is now after the one before, as the timing adds them."""
    out = tmp_path / "run"
    assert main(["llm", str(LLM / "gpt2.json"), "--hw", "tpu_v4_like_x8", "--parallel",
                 "tensor", "--prompt", "16", "--generate", "4", "--out", str(out)]) == 0
    trace = json.loads((out / "trace.json").read_text())
    report = json.loads((out / "llm.json").read_text())
    tracks: dict[tuple[int, int], list[dict]] = {}
    for event in trace["traceEvents"]:
        if event["ph"] == "X":
            tracks.setdefault((event["pid"], event["tid"]), []).append(event)
    links = [k for k, v in tracks.items() if v[0]["cat"].startswith("link.")]
    assert links and max(len(tracks[k]) for k in links) > 1  # collectives one after another
    for slices in tracks.values():
        slices.sort(key=lambda e: e["ts"])
        for a, b in zip(slices, slices[1:], strict=False):
            assert b["ts"] >= a["ts"] + a["dur"] - 1e-9, (a, b)
    clock_mhz = trace["otherData"]["clock_mhz"]
    for pid, phase in enumerate(("prefill", "decode"), start=1):  # all within the step
        end = max(e["ts"] + e["dur"] for k, v in tracks.items() if k[0] == pid for e in v)
        assert end <= report[phase]["cycles"] / clock_mhz + 1e-9


def test_the_llm_text_prints_every_note_the_json_has(tmp_path, capsys) -> None:
    """The text output dropped the "exceeds the trained context" note that --json has."""
    config = tmp_path / "config.json"
    config.write_text('{"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 2, '
                      '"n_positions": 8, "vocab_size": 100}')
    argv = ["llm", str(config), "--prompt", "8", "--generate", "2", "--hw", "tpu_v1"]
    assert main([*argv, "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert len(notes) == 2 and "exceed the model's trained context of 8 tokens" in notes[1]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert all(note in text for note in notes)


def test_a_swept_value_s_message_names_its_field_once(tmp_path, capsys) -> None:
    """"--sweep: array.rows: array.rows: Input should ..." said the field twice; a tie of
    fields still says which of them refused the value."""
    assert main(["llm", str(LLM / "gpt2.json"), "--hw", "tpu_v4_like_x8", "--sweep",
                 "array.rows=a"]) == 2
    assert capsys.readouterr().err == ("simaccel: --sweep: array.rows: Input should be a "
                                       "valid integer (got 'a')\n")
    from simaccel.sweep_spec import key_value_problem

    assert key_value_problem("array.rows", 0) == "Input should be greater than 0 (got 0)"
    assert key_value_problem("array.rows+array.cols", 0).startswith("array.rows: Input")


def test_the_python_api_names_the_function_and_parameter(tmp_path) -> None:
    import simaccel

    with pytest.raises(simaccel.InputError) as bad:
        simaccel.partition_model(str(tmp_path / "nope.json"), "tpu_v4_like_x8")
    assert (bad.value.source, bad.value.field) == ("simaccel.partition_model", "model")
    assert "no such file" in bad.value.message
    with pytest.raises(simaccel.InputError) as bad:
        simaccel.sweep({"name": "x"})
    assert str(bad.value) == "simaccel.sweep: spec.workloads: missing"


def test_a_workload_listed_twice_names_the_spec_file(tmp_path, capsys) -> None:
    mnist = ROOT.parent / "workloads" / "mnist_cnn.json"
    (tmp_path / "mnist_cnn.json").write_bytes(mnist.read_bytes())
    spec = tmp_path / "s7.toml"
    spec.write_text('name = "s7"\nbase = "scalesim_default"\nworkloads = ["mnist_cnn.json", '
                    '"./mnist_cnn.json"]\nmode = "grid"\n[grid]\n"array.rows" = [4]\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"simaccel: {spec}: workloads[1]: ") and err.count("\n") == 1
    assert "the same file as workloads[0]" in err and not (tmp_path / "r.csv").exists()


def test_simulate_layers_without_plots_is_refused(tmp_path, capsys) -> None:
    """``simulate --layers A:B`` without --plots did nothing, silently."""
    mnist = str(ROOT.parent / "workloads" / "mnist_cnn.json")
    assert main(["simulate", mnist, "--no-check", "--layers", "0:2"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        "simaccel: --layers: only with --plots (it picks the timeline plot's layers)\n")
