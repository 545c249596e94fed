"""A ``[[memories]]`` entry too small to give each operand it holds one byte of streaming
space is refused at the field the user wrote (``memories[i].kib`` or ``stream_kib``), not
at the ``[sram]`` buffer derived from it (found by a tester: ``sram.ifmap_kib``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simaccel.errors import InputError
from simaccel.frontends.hardware_toml import parse_hardware

WORKLOADS = Path(__file__).resolve().parent.parent / "workloads"

_TOML = """name = "m"
clock_mhz = 1000
[array]
rows = 4
cols = 4
dataflow = "os"
[sram]
double_buffered = true
[dram]
bandwidth_gbps = 10
latency_ns = 100
[vector]
lanes = 4

[[memories]]
name = "u"
kib = {kib}
holds = ["ifmap", "filter", "ofmap"]
"""


def _config(**memory: object) -> dict:
    return {"name": "m", "clock_mhz": 1000,
            "array": {"rows": 4, "cols": 4, "dataflow": "os"},
            "sram": {"double_buffered": True},
            "dram": {"bandwidth_gbps": 10, "latency_ns": 100}, "vector": {"lanes": 4},
            "memories": [{"name": "w", "kib": 1, "holds": ["filter"]},
                         {"name": "u", "holds": ["ifmap", "ofmap"], **memory}]}


def test_cli_names_the_memory_kib_the_user_wrote(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from simaccel.cli import main

    (tmp_path / "mem.toml").write_text(_TOML.format(kib=0.001))
    code = main(["simulate", str(WORKLOADS / "mnist_cnn.json"), "--hw",
                 str(tmp_path / "mem.toml"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "mem.toml: memories[0].kib:" in err and "(got 0.001)" in err
    assert "sram." not in err
    # int(0.001 KiB * 1024) = 1 byte for 3 operands: 3 bytes = 3/1024 KiB are needed
    assert "3 operands" in err and "0.0029296875 KiB" in err
    assert not (tmp_path / "out").exists()


def test_three_bytes_for_three_operands_is_the_least_accepted() -> None:
    hw = parse_hardware({**_config(kib=1), "memories": [
        {"name": "u", "kib": 3 / 1024, "holds": ["ifmap", "filter", "ofmap"]}]}, "<t>")
    assert hw.sram.ifmap_kib == hw.sram.filter_kib == hw.sram.ofmap_kib == 1 / 1024


@pytest.mark.parametrize(("memory", "field"), [
    ({"kib": 1}, "memories[1].kib"),
    ({"kib": 1, "resident": True}, "memories[1].kib"),  # a quarter of kib: no stream_kib
    ({"kib": 1, "resident": True, "stream_kib": 0.5}, "memories[1].stream_kib"),
])
def test_a_buffer_is_named_by_the_field_that_sizes_it(memory: dict, field: str) -> None:
    hw = parse_hardware(_config(**memory), "hw.toml").with_source("hw.toml")
    assert hw.where("sram.ofmap_kib") == ("hw.toml", field)
    assert hw.where("sram.filter_kib") == ("hw.toml", "memories[0].kib")


@pytest.mark.parametrize(("memory", "field", "least"), [
    ({"kib": 1 / 1024}, "memories[1].kib", "0.001953125"),  # 1 byte, 2 operands: 2 bytes
    # resident: streams through a quarter, int(7 bytes) // 4 = 1 byte; needs 4 x 2 bytes
    ({"kib": 7 / 1024, "resident": True}, "memories[1].kib", "0.0078125"),
    ({"kib": 1, "resident": True, "stream_kib": 1 / 1024}, "memories[1].stream_kib",
     "0.001953125"),
])
def test_a_share_below_one_byte_names_the_field_given(memory: dict, field: str,
                                                      least: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_hardware(_config(**memory), "hw.toml")
    assert caught.value.source == "hw.toml" and caught.value.field == field
    assert f"give at least {least} KiB" in caught.value.message
    assert "sram" not in str(caught.value)
