"""Frontends: turn user files (model.json, SCALE-Sim topologies, hardware configs) into
validated, frozen objects. The only stage besides the CLI and the report writers that reads
files."""

from __future__ import annotations

from pathlib import Path

from simaccel.errors import InputError
from simaccel.model import Model


def load_model(path: str | Path) -> Model:
    """Load a network from ``model.json`` or a SCALE-Sim topology ``.csv``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        from simaccel.frontends.model_json import load_model_json

        return load_model_json(path)
    if suffix == ".csv":
        from simaccel.frontends.scalesim_topology import load_topology

        return load_topology(path)
    if suffix == ".onnx":
        raise InputError(str(path), "", "ONNX input is not supported yet; convert it to "
                         "model.json")
    raise InputError(str(path), "", f"unknown model file type {suffix or '(none)'!r}; "
                     "expected .json (simaccel-model/1) or .csv (SCALE-Sim topology)")
