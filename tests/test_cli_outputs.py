"""Output paths and --layers ranges refused before any work (``simaccel.cli_outputs``):
every output option of every verb is in the registry, a missing parent folder is refused and
never created, and --layers past a run's last layer names --layers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from simaccel.cli import _parser, main
from simaccel.cli_outputs import OUTPUTS, Output

ROOT = Path(__file__).resolve().parent.parent
MNIST = str(ROOT / "workloads" / "mnist_cnn.json")
SPEC = str(ROOT / "tests" / "bad_inputs" / "base" / "spec.toml")

#: the arguments before the output option, per verb: each would run if the path were good
FIRST = {"simulate": ["simulate", MNIST, "--no-check"], "plot": ["plot", "run"],
         "llm": ["llm", "llama2-7b"], "lab": ["lab", "student", MNIST],
         "import": ["import", "m.onnx"], "sweep": ["sweep", SPEC],
         "prune": ["prune", MNIST, "--method", "magnitude", "--sparsity", "0.5"],
         "collective": ["collective", "all_reduce", "--bytes", "8"]}


def _verbs(parser: argparse.ArgumentParser, prefix: str = ""):
    """(top-level verb, sub-parser) for every parser under ``parser``."""
    for action in parser._actions:  # argparse keeps its subparsers here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _verbs(sub, prefix or name)
    if prefix:
        yield prefix, parser


def test_every_option_that_writes_is_in_the_registry() -> None:
    writes = {(verb, action.dest) for verb, sub in _verbs(_parser()) for action in
              sub._actions if action.option_strings and action.metavar in ("DIR", "FILE", "JSON")}
    assert writes == set(OUTPUTS)


@pytest.mark.parametrize("key", sorted(OUTPUTS), ids=lambda key: "-".join(key))
def test_a_missing_parent_folder_is_refused_and_not_created(
        key: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    verb, _ = key
    option, kind = OUTPUTS[key]
    target = "missing/x" if kind is Output.FOLDER else "missing/x.csv" \
        if verb == "sweep" else "missing/x.json"

    assert main([*FIRST[verb], option, target]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"simaccel: {target}: its parent folder 'missing' does not exist\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", sorted(OUTPUTS), ids=lambda key: "-".join(key))
def test_a_file_where_a_folder_goes_and_back(key: tuple[str, str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    verb, _ = key
    option, kind = OUTPUTS[key]
    if kind is Output.FOLDER:
        Path("taken").write_text("mine")
    else:
        Path("taken").mkdir()

    assert main([*FIRST[verb], option, "taken"]) == 2

    said = "exists and is not a folder" if kind is Output.FOLDER else "is a folder"
    assert capsys.readouterr().err.startswith(f"simaccel: taken: {said}")
    assert (Path("taken").read_text() == "mine" if kind is Output.FOLDER
            else list(Path("taken").iterdir()) == [])


def test_plot_layers_past_the_last_names_layers(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["simulate", MNIST, "--no-check", "--quiet", "--out", str(run)]) == 0
    capsys.readouterr()
    before = sorted(p.name for p in run.iterdir())

    assert main(["plot", str(run), "--layers", "50:60"]) == 2
    assert capsys.readouterr().err == ("simaccel: --layers: '50:60' is past the last layer: "
                                       "there are 7 (0:6)\n")
    assert main(["plot", str(run), "--layers", "6:7"]) == 2
    assert sorted(p.name for p in run.iterdir()) == before
    assert len(json.loads((run / "report.json").read_text())["layers"]) == 7


def test_running_out_of_memory_is_one_line_suggesting_no_check(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a tester: ``--check`` under memory pressure said "internal error:
    MemoryError"."""
    import simaccel

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(simaccel, "simulate", exhausted)
    assert main(["simulate", MNIST, "--check", "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert captured.err.startswith("simaccel: simulate: ran out of memory")
    assert "--no-check skips it" in captured.err
    assert main(["simulate", MNIST, "--no-check", "--quiet"]) == 2
    assert capsys.readouterr().err == "simaccel: simulate: ran out of memory\n"


def test_step_options_say_they_need_train_in_simulate_help() -> None:
    """Found by a tester: ``simulate --batch`` said "default: the model's" though it is
    refused without --train."""
    verbs = dict(_verbs(_parser()))
    options = {a.dest: a.help for a in verbs["simulate"]._actions}
    for dest in ("batch", "optimizer", "precision", "recompute", "parallel"):
        assert options[dest].startswith("with --train"), dest
    train = {a.dest: a.help for a in verbs["train"]._actions}
    assert "--train" not in train["batch"] + train["optimizer"] + train["precision"]
