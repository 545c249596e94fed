"""SCALE-Sim's files mean what SCALE-Sim meant: its v2 nine-column topology, columns read by
their header names (an unknown one refused, never dropped), messages that name the user's
file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

import simaccel
from simaccel.cli import main
from simaccel.errors import InputError

CASES = Path(__file__).parent / "data" / "cases"
DATA = Path(__file__).parent / "data"


def _layers(path: Path) -> dict[str, dict]:
    report = simaccel.simulate(simaccel.load_model(path), simaccel.load_hardware(
        "scalesim_default"), check=False).to_dict()
    return {layer["name"]: layer for layer in report["layers"]}


def test_v2_stride_height_and_width_are_both_read() -> None:
    """conv_s12: 9×9 ifmap, 3×3 filter, 4 channels, 8 filters, stride 1 down, 2 across:
    outputs 7 × (⌈6/2⌉ + 1 = 4) = 28 pixels × 36 × 8 = 8,064 MACs (14,112 if the width
    stride were dropped); conv_s21 is the transpose: 4 × 7, also 8,064."""
    model = simaccel.load_model(CASES / "stride_hw_9col.csv")
    assert [layer.stride for layer in model.layers] == [(1, 2), (2, 1)]
    layers = _layers(CASES / "stride_hw_9col.csv")
    assert layers["conv_s12"]["macs"] == layers["conv_s21"]["macs"] == 8064
    assert layers["conv_s12"]["kernel"]["m"] == 28


def _topology(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topo.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "field", "words"), [
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
     "Num Filter, Strides, Sparsity,\nc1, 9, 9, 3, 3, 4, 8, 1, 0.5,\n",
     "header.column 9", "'Sparsity' is not a column simaccel can read"),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
     "Num Filter, Strides,\nc1, 9, 9, 3, 3, 4, 8, 1, 2,\n",
     "row 1", "expected 8 columns, got 9"),
    ("Layer name, M, N, K,\ng1, 4, 4, 4, 7,\n", "row 1", "expected 4 columns, got 5"),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
     "Num Filter, Stride height,\nc1, 9, 9, 3, 3, 4, 8, 1,\n", "header", "missing column"),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
     "Num Filter, Strides,\nc1, 9, 5, 3, 7, 4, 8, 1,\n", "row 1.filter_width",
     "filter width 7 is larger than the ifmap width 5"),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
     "Num Filter, Strides,\nc1, 5, 9, 7, 3, 4, 8, 1,\n", "row 1.filter_height",
     "filter height 7 is larger than the ifmap height 5"),
])
def test_a_column_simaccel_cannot_read_is_refused(tmp_path: Path, text: str, field: str,
                                                  words: str) -> None:
    path = _topology(tmp_path, text)
    with pytest.raises(InputError) as caught:
        simaccel.load_model(path)
    assert (caught.value.source, caught.value.field) == (str(path), field)
    assert words in caught.value.message


def test_a_layer_named_like_a_generated_tensor_is_kept_apart(tmp_path: Path) -> None:
    """Row 2's input would be ``a.ifmap``, the name of row 1's layer: it is renamed."""
    path = _topology(tmp_path, "Layer name, M, N, K,\na.ifmap, 4, 4, 4,\na, 8, 8, 8,\n")
    model = simaccel.load_model(path)
    assert [t.name for t in model.inputs] == ["a.ifmap.ifmap", "a.ifmap_"]
    layers = _layers(path)
    assert (layers["a.ifmap"]["macs"], layers["a"]["macs"]) == (64, 512)


def test_messages_name_the_users_cfg_and_its_key(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A buffer too small for anything (one byte; a WS array keeps 4-byte partial sums in
    it) names the .cfg file given and its key, not the config's run_name or simaccel's
    field."""
    cfg = tmp_path / "small.cfg"
    cfg.write_text("[general]\nrun_name = my_run\n\n[architecture_presets]\nArrayHeight : 32\n"
                   "ArrayWidth : 32\nIfmapSramSzkB : 64\nFilterSramSzkB : 64\n"
                   "OfmapSramSzkB : 0.0009765625\nDataflow : ws\n", encoding="utf-8")
    code = main(["simulate", str(DATA / "setA_conv_topology.csv"), "--hw", str(cfg), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"simaccel: {cfg}: architecture_presets.OfmapSramSzkB: "), err
    assert "my_run" not in err


def test_messages_name_the_users_toml(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "small.toml"
    toml.write_text('name = "internal"\nclock_mhz = 1000\n[array]\nrows = 32\ncols = 32\n'
                    'dataflow = "ws"\n[sram]\nifmap_kib = 64\nfilter_kib = 64\n'
                    'ofmap_kib = 0.0009765625\n[dram]\nbandwidth_gbps = 10\n[vector]\nlanes = 32\n',
                    encoding="utf-8")
    code = main(["simulate", str(DATA / "setA_conv_topology.csv"), "--hw", str(toml),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"simaccel: {toml}: sram.ofmap_kib: "), err


def test_hardware_remembers_the_name_the_user_gave(tmp_path: Path) -> None:
    assert simaccel.load_hardware("scalesim_default").where("sram.ifmap_kib") == (
        "--hw scalesim_default", "sram.ifmap_kib")
    # with [[memories]] a tile buffer is a memory's streaming share, named as written
    assert simaccel.load_hardware("gemmini").where("sram.ifmap_kib") == (
        "--hw gemmini", "memories[0].stream_kib")
    cfg = DATA / "example_ideal_8x8_os.cfg"
    assert simaccel.load_hardware(cfg).where("sram.ofmap_kib") == (
        str(cfg), "architecture_presets.OfmapSramSzkB")
    # the file a config came from is not part of it
    assert simaccel.load_hardware("gemmini") == simaccel.load_hardware(
        Path(__file__).resolve().parent.parent / "hw_configs" / "gemmini.toml")
