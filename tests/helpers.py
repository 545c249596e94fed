"""Small builders shared by tests: hardware variants and in-memory models."""

from __future__ import annotations

from simaccel.frontends.hardware_toml import parse_hardware
from simaccel.frontends.model_json import parse_model
from simaccel.hardware import Hardware
from simaccel.model import Model


def ideal_hw(rows: int, cols: int, dataflow: str, lanes: int | None = None) -> Hardware:
    """An array with unlimited SRAM-to-DRAM bandwidth and large buffers."""
    return parse_hardware({
        "name": f"ideal_{rows}x{cols}_{dataflow}", "clock_mhz": 1000,
        "array": {"rows": rows, "cols": cols, "dataflow": dataflow},
        "sram": {"ifmap_kib": 8192, "filter_kib": 8192, "ofmap_kib": 8192},
        "dram": {"bytes_per_cycle": float("inf"), "latency_ns": 0},
        "vector": {"lanes": lanes or cols},
    }, "<test>")


def model(layers: list[dict], inputs: list[dict] | None = None, **extra: object) -> Model:
    """A model from layer dicts; the default input is ``x`` [1, 8, 8, 4]."""
    doc = {"format": "simaccel-model/1", "name": "t",
           "inputs": inputs or [{"name": "x", "shape": [1, 8, 8, 4]}], "layers": layers, **extra}
    return parse_model(doc, source="t.json")


def shipped_hw_dict(name: str) -> dict:
    """A shipped hardware config as the plain dict its TOML decodes to."""
    import tomllib
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "hw_configs" / f"{name}.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def run_schedule(schedule):
    """Compile a hand-built `Schedule` (no model inputs, no residency) and run the engine."""
    from simaccel import engine
    from simaccel.mapping import compile_program

    program, _ = compile_program(schedule, {}, ())
    return engine.run(program)


def _no_constant(name: str) -> float:
    raise ValueError(f"not RFC 8259 JSON: {name}")


def strict_json(text: str) -> object:
    """Parse ``text`` as standard JSON only: ``Infinity``, ``-Infinity`` and ``NaN`` (which
    Python's json accepts by default) raise."""
    import json

    return json.loads(text, parse_constant=_no_constant)
