"""Frontends: turn user files (model.json, SCALE-Sim topologies, hardware configs) into
validated, frozen objects. The only stage besides the CLI and the report writers that reads
files."""

from __future__ import annotations

from pathlib import Path

from simaccel.errors import InputError
from simaccel.model import Model


def load_model(path: str | Path, allow_unknown: bool = False,
               dims: dict[str, int] | None = None) -> Model:
    """Load a network from ``model.json``, an ONNX file or a SCALE-Sim topology ``.csv``.
    ONNX only: ``allow_unknown`` costs unsupported ops by the bytes they move instead of
    refusing; ``dims`` sets symbolic dimensions by name (default 1)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if dims and suffix != ".onnx":
        raise InputError("--dim", "", "symbolic dimensions are set only for ONNX models")
    if suffix == ".json":
        from simaccel.frontends.model_json import load_model_json

        return load_model_json(path)
    if suffix == ".csv":
        from simaccel.frontends.scalesim_topology import load_topology

        return load_topology(path)
    if suffix == ".onnx":
        from simaccel.frontends.onnx_model import load_onnx

        return load_onnx(path, allow_unknown=allow_unknown, dims=dims)
    raise InputError(str(path), "", f"unknown model file type {suffix or '(none)'!r}; "
                     "expected .json (simaccel-model/1), .onnx or .csv (SCALE-Sim topology)")
