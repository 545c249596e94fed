"""Frontend for SCALE-Sim ``.cfg`` files: its architecture presets become a `Hardware`.

SCALE-Sim has no clock, datatypes or vector unit: a word is one byte (int8 operands, int32
accumulators), the clock is taken as 1 GHz so that cycles and nanoseconds coincide, the vector
unit has one lane per array column, and ``InterfaceBandwidth: CALC`` (SCALE-Sim's "as much as
needed") is unlimited DRAM bandwidth. ``USER`` uses the ``Bandwidth`` key, in words per cycle.
Every other section and key is accepted or refused by the table in `scalesim_cfg_keys`.
"""

from __future__ import annotations

import configparser
import math
import re
from pathlib import Path

from simaccel.errors import InputError
from simaccel.frontends.files import read_text
from simaccel.frontends.hardware_toml import parse_hardware
from simaccel.frontends.scalesim_cfg_keys import check_keys
from simaccel.hardware import Hardware

_SECTION = "architecture_presets"
#: a decimal number in ASCII digits, as SCALE-Sim's configs write them: 32, 64.0, 1e3
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)


def load_scalesim_cfg(path: Path) -> Hardware:
    """Load a SCALE-Sim config file as a `Hardware`."""
    source = str(path)
    parser = configparser.ConfigParser(interpolation=None)  # a '%' in a value is literal
    text = read_text(path)
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise InputError(source, "", f"not a valid SCALE-Sim .cfg: {exc.message}") from None
    if not parser.has_section(_SECTION):
        raise InputError(source, _SECTION, "missing section")
    check_keys(parser, source, text)  # nothing that would change the result is dropped

    def get(key: str, section: str = _SECTION, default: str | None = None) -> str:
        if parser.has_option(section, key):
            return parser.get(section, key).strip()
        if default is not None:
            return default
        raise InputError(source, f"{section}.{key}", "missing")

    def number(key: str) -> float:
        value = get(key)
        if not _DECIMAL.fullmatch(value):  # float() reads "1_0", "nan" and other digits
            raise InputError(source, f"{_SECTION}.{key}", f"expected a number, got "
                             f"{value!r}")
        return float(value)

    mode = get("InterfaceBandwidth", "run_presets", "CALC").upper()
    if mode not in ("CALC", "USER"):
        raise InputError(source, "run_presets.InterfaceBandwidth", f"expected CALC or USER, "
                         f"got {mode!r}")
    bandwidth = float("inf") if mode == "CALC" else number("Bandwidth")
    run_name = get("run_name", "general", path.stem)
    data = {
        "name": run_name or path.stem,
        "description": f"SCALE-Sim config {path.name}",
        "clock_mhz": 1000.0,
        "array": {"rows": number("ArrayHeight"), "cols": number("ArrayWidth"),
                  "dataflow": get("Dataflow").lower()},
        "dtypes": {"input": "int8", "weight": "int8", "accumulator": "int32"},
        "sram": {"ifmap_kib": number("IfmapSramSzkB"), "filter_kib": number("FilterSramSzkB"),
                 "ofmap_kib": number("OfmapSramSzkB"), "double_buffered": True},
        "dram": {"bytes_per_cycle": bandwidth, "latency_ns": 0.0},
        "vector": {"lanes": number("ArrayWidth")},
    }
    for key in ("rows", "cols"):
        value = data["array"][key]
        if not math.isfinite(value) or value != int(value):
            raise InputError(source, f"{_SECTION}.Array{'Height' if key == 'rows' else 'Width'}",
                             f"expected a whole number, got {value}")
        data["array"][key] = int(value)
    data["vector"]["lanes"] = int(data["vector"]["lanes"])
    try:
        hw = parse_hardware(data, source)
    except InputError as exc:  # name the .cfg key, not the simaccel field it became
        raise InputError(source, _CFG_KEYS.get(exc.field, exc.field), exc.message) from None
    return hw.with_source(source, _CFG_KEYS)


_CFG_KEYS = {
    "name": "general.run_name",
    "array.rows": f"{_SECTION}.ArrayHeight",
    "array.cols": f"{_SECTION}.ArrayWidth",
    "array.dataflow": f"{_SECTION}.Dataflow",
    "sram.ifmap_kib": f"{_SECTION}.IfmapSramSzkB",
    "sram.filter_kib": f"{_SECTION}.FilterSramSzkB",
    "sram.ofmap_kib": f"{_SECTION}.OfmapSramSzkB",
    "dram": f"{_SECTION}.Bandwidth",
    "dram.bytes_per_cycle": f"{_SECTION}.Bandwidth",
    "vector.lanes": f"{_SECTION}.ArrayWidth",
    "sram": _SECTION,
}
