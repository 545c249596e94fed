"""The fields of a saved report.json that ``simaccel plot`` draws, checked before drawing.

A report written by `simaccel.report.Report.write` always holds them; one edited by hand or
by another tool may not. Each is checked for its kind and range, and a refusal is an
`InputError` naming the report file and the field as a path (``layers[0].cycles``), never
a KeyError or TypeError from inside the plots. Counts (cycles, MACs, bytes) are JSON
integers ≥ 0 (``true`` is not 1), energies and utilizations numbers ≥ 0, the clock a number
> 0; a run has at least one layer, and no layer ends before it starts.
"""

from __future__ import annotations

from simaccel.errors import InputError
from simaccel.plots import COMPONENTS as ENERGY_PARTS  # the energy parts the plots stack

#: each layer's whole-number fields the plots read
LAYER_COUNTS = ("cycles", "compute_cycles", "stall_cycles", "macs", "dram_read_bytes",
                "dram_write_bytes", "start_cycle", "end_cycle")

_MISSING = object()


def check_plot_fields(report: dict, source: str) -> None:
    """Refuse (`InputError` naming ``source`` and the field) a ``report`` (the parsed
    report.json, already known to be a dict with a ``layers`` list and a ``total`` dict)
    missing a field the plots read, or holding one of the wrong kind or range."""
    for name in ("model.name", "hardware.name"):
        _text(_get(report, name, source), name, source)
    _number(_get(report, "hardware.clock_mhz", source), "hardware.clock_mhz", source,
            positive=True)
    _count(_get(report, "hardware.derived.pes", source), "hardware.derived.pes", source,
           positive=True)
    bandwidth = _get(report, "hardware.derived.dram_bytes_per_cycle", source)
    if bandwidth is not None:  # null: unlimited bandwidth (docs/formats.md)
        _number(bandwidth, "hardware.derived.dram_bytes_per_cycle", source)
    if not report["layers"]:
        raise InputError(source, "layers", "empty: a run has at least one layer")
    for i, layer in enumerate(report["layers"]):
        _layer(layer, f"layers[{i}]", source)
    for part in (*ENERGY_PARTS, "total"):
        name = f"total.energy_pj.{part}"
        _number(_get(report, name, source), name, source)


def _layer(layer: object, where: str, source: str) -> None:
    if not isinstance(layer, dict):
        raise InputError(source, where, f"expected an object, got {_kind(layer)}")
    _text(_get(layer, "name", source, where), f"{where}.name", source)
    for key in LAYER_COUNTS:
        _count(_get(layer, key, source, where), f"{where}.{key}", source)
    if layer["end_cycle"] < layer["start_cycle"]:
        raise InputError(source, f"{where}.end_cycle", f"{layer['end_cycle']} is before "
                         f"start_cycle {layer['start_cycle']}")
    _number(_get(layer, "utilization", source, where), f"{where}.utilization", source)
    efficiency = _get(layer, "mapping_efficiency", source, where)
    if efficiency is not None:  # null: no GEMM to map
        _number(efficiency, f"{where}.mapping_efficiency", source)
    for part in ENERGY_PARTS:
        name = f"energy_pj.{part}"
        _number(_get(layer, name, source, where), f"{where}.{name}", source)


def _get(doc: dict, dotted: str, source: str, where: str = "") -> object:
    """``doc``'s field at ``dotted`` (``hardware.derived.pes``); missing is refused."""
    value: object = doc
    walked = where
    for part in dotted.split("."):
        walked = f"{walked}.{part}" if walked else part
        value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            raise InputError(source, walked, "missing: not a complete simaccel report")
    return value


def _kind(value: object) -> str:
    return {bool: "a boolean", str: "a string", type(None): "null", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def _text(value: object, name: str, source: str) -> None:
    if not isinstance(value, str):
        raise InputError(source, name, f"expected a string, got {_kind(value)}")


def _count(value: object, name: str, source: str, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(source, name, f"expected a whole number, got {_kind(value)}")
    if value < (1 if positive else 0):
        raise InputError(source, name, f"must be {'> 0' if positive else '≥ 0'}, not {value}")


def _number(value: object, name: str, source: str, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(source, name, f"expected a number, got {_kind(value)}")
    if value < 0 or (positive and value == 0):
        raise InputError(source, name, f"must be {'> 0' if positive else '≥ 0'}, not {value}")
