"""Frontends: turn user files (model.json, SCALE-Sim topologies, hardware configs) into
validated, frozen objects. The only stage besides the CLI and the report writers that reads
files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from simaccel.errors import InputError
from simaccel.model import Model

#: The model files `load_model` reads, by extension (as its messages list them).
KNOWN_TYPES = ".json (simaccel-model/1), .onnx, .csv (SCALE-Sim topology)"


def load_model(path: str | Path, allow_unknown: bool = False,
               dims: dict[str, int] | None = None) -> Model:
    """Load a network from ``model.json``, an ONNX file or a SCALE-Sim topology ``.csv``.
    ONNX only: ``allow_unknown`` costs unsupported ops by the bytes they move instead of
    refusing; ``dims`` sets symbolic dimensions by name (default 1). Raises `InputError`
    naming ``path`` when it is not a str or path, else the file and field of a bad model."""
    if not isinstance(path, str | os.PathLike) or not str(path).strip():
        raise InputError("simaccel.load_model", "path", f"expected a model file path "
                         f"({KNOWN_TYPES}), got {path!r}"[:300])
    if not isinstance(allow_unknown, bool):
        raise InputError("simaccel.load_model", "allow_unknown", f"expected True or False, "
                         f"got {allow_unknown!r}"[:300])
    if dims is not None and not (isinstance(dims, Mapping) and all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in dims.items())):
        raise InputError("simaccel.load_model", "dims", f"expected a dict of dimension names "
                         f"to whole numbers, got {dims!r}"[:300])
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
    what = f"unknown model file type {suffix!r}" if suffix else "no file type (extension)"
    raise InputError(str(path), "", f"{what}; known model file types: {KNOWN_TYPES}")
