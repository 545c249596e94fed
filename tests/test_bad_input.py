"""The bad-input corpus: ``tests/bad_inputs/cases.json`` lists every case (written with its
files by ``scripts/make_bad_inputs.py``): model.json, hardware TOML, SCALE-Sim topology CSV
and .cfg, .npz weights, sweep specs, ONNX files and command-line arguments, each broken by one
small edit of a valid base document in ``tests/bad_inputs/base/``.

Each runs through the CLI from a scratch copy of the base files with the case's files over
them. It must exit with the expected code (2: bad input), print nothing on stdout and exactly
one line on stderr, ``simaccel: FILE: FIELD: message`` naming the file as the user typed it,
the field (none for a file that cannot be read at all) and the case's phrase, of bounded
length, with no traceback; and it must write no report or results.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from simaccel.cli import main

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
CASES = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))
#: the longest line a refusal may print
MAX_LINE = 1200


def _scratch(case: dict, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(CORPUS / "base", work)
    own = CORPUS / "cases" / case["id"]
    if own.is_dir():
        shutil.copytree(own, work, dirs_exist_ok=True)
    return work


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_exits_with_one_line_naming_the_field(
        case: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(_scratch(case, tmp_path))

    code = main(case["argv"])

    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert code == case["exit"], captured.err
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and captured.err.endswith("\n"), captured.err
    (line,) = lines
    assert len(line) <= MAX_LINE, line[:200]
    label, field = case["label"], case["field"]
    where = f"{label}: {field}: " if field else f"{label}: "
    assert line.startswith("simaccel: " + where), line[:300]
    assert case["keyword"] in line, line[:300]
    assert not Path("out/report.json").exists() and not Path("out/layers.csv").exists()
    assert not Path("results.csv").exists()


def test_the_corpus_covers_every_kind_of_input() -> None:
    ids = [c["id"] for c in CASES]
    assert len(set(ids)) == len(ids) >= 300
    files = {name.split(".")[-1] for c in CASES
             for name in (p.name for p in (CORPUS / "cases" / c["id"]).glob("**/*"))}
    assert {"json", "toml", "csv", "cfg", "npz", "onnx"} <= files
    assert {c["argv"][0] for c in CASES} >= {"simulate", "sweep", "plot"}
    assert all(c["exit"] == 2 for c in CASES)


@pytest.mark.parametrize("argv", [
    ["simulate", "model.json", "--hw", "hw.toml"],
    ["simulate", "topology.csv", "--hw", "hw.toml"],
    ["simulate", "model.json", "--hw", "hw.cfg"],
    ["simulate", "dense.json", "--hw", "hw.toml"],
], ids=["model_json+toml", "topology_csv+toml", "model_json+cfg", "dense_npz+toml"])
def test_base_documents_are_valid(argv: list[str], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The corpus's failures come from the edits, not from the base documents."""
    monkeypatch.chdir(_scratch({"id": "-"}, tmp_path))
    assert main([*argv, "--out", "out", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert Path("out/report.json").is_file()


@pytest.mark.parametrize("argv", [
    ["simulate", "model.json", "--hw", "hw.toml"],
    ["simulate", "topology.csv", "--hw", "hw.cfg"],
    ["sweep", "spec.toml", "--out", "results.csv", "--workers", "1", "--quiet"],
], ids=["model_json+toml", "topology_csv+cfg", "sweep_spec"])
def test_a_byte_order_mark_is_read_like_none(argv: list[str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a tester: JSON with a UTF-8 BOM gave Python's hint, TOML and .cfg "Invalid
    statement" / "no section headers"; CSV already read it. Every text input reads the
    same with a BOM as without."""
    work = tmp_path / "work"
    shutil.copytree(CORPUS / "base", work)
    monkeypatch.chdir(work)
    assert main(argv + ["--no-check"] * (argv[0] == "simulate")) == 0
    plain = capsys.readouterr().out
    for name in ("model.json", "hw.toml", "hw.cfg", "topology.csv", "spec.toml"):
        path = work / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    Path("results.csv").unlink(missing_ok=True)
    assert main(argv + ["--no-check"] * (argv[0] == "simulate")) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == plain
