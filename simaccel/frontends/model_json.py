"""Frontend for ``model.json`` (format ``simaccel-model/1``): parse, validate, freeze."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simaccel.errors import InputError
from simaccel.frontends.validation import raise_input_error
from simaccel.model import MODEL_FORMAT, LayerSpec, Model, TensorSpec


class ModelFile(BaseModel):
    """The top level of a model.json file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["simaccel-model/1"]
    name: Annotated[str, Field(min_length=1, max_length=256)]
    description: str = ""
    inputs: tuple[TensorSpec, ...] = Field(min_length=1)
    layers: tuple[LayerSpec, ...] = Field(min_length=1)
    outputs: tuple[str, ...] | None = None
    weights: str | None = None
    seed: Annotated[int, Field(ge=0, lt=2**32)] = 0


def read_json(path: Path) -> object:
    """Read ``path`` as JSON, turning every way it can fail into an `InputError`."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(source, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(source, "", f"cannot read: {exc}") from None
    if not text.strip():
        raise InputError(source, "", "file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, "", f"not valid JSON: {exc.msg} (line {exc.lineno}, "
                         f"column {exc.colno})") from None
    except ValueError as exc:  # an integer longer than Python's int-string limit
        raise InputError(source, "", f"not valid JSON: {str(exc).split(';')[0]}") from None
    except RecursionError:
        raise InputError(source, "", "not valid JSON: nested too deeply") from None


def parse_model(data: object, source: str = "<memory>", base_dir: Path | None = None) -> Model:
    """Validate a decoded model.json document and return the frozen `Model`.

    ``base_dir`` resolves a relative ``weights`` path; graph-level checks (dangling inputs,
    cycles, shapes) happen when the graph is built.
    """
    if not isinstance(data, dict):
        raise InputError(source, "", f"expected a JSON object at the top level, got "
                         f"{type(data).__name__}")
    if data.get("format") != MODEL_FORMAT and "format" in data:
        raise InputError(source, "format", f"expected {MODEL_FORMAT!r}, got {data['format']!r}")
    try:
        spec = ModelFile.model_validate(data)
    except ValidationError as exc:
        raise_input_error(source, exc)
    weights_path = None
    stored = None
    if spec.weights is not None:
        weights = Path(spec.weights)
        if not weights.is_absolute() and base_dir is not None:
            weights = base_dir / weights
        if not weights.is_file():
            raise InputError(source, "weights", f"no such file: {weights}")
        weights_path = str(weights)
        stored = load_npz(weights, source)
    outputs = spec.outputs if spec.outputs is not None else _sinks(spec.layers)
    return Model(
        name=spec.name,
        inputs=spec.inputs,
        layers=spec.layers,
        outputs=tuple(outputs),
        source=source,
        description=spec.description,
        weights_path=weights_path,
        seed=spec.seed,
        weights=stored,
    )


def load_npz(path: Path, source: str) -> dict:
    """The arrays of an .npz of weights, by key."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise InputError(source, "weights", f"cannot read {path} as .npz: {exc}") from None


def _sinks(layers: tuple[LayerSpec, ...]) -> list[str]:
    """Layers whose output no other layer reads: the model's outputs by default."""
    consumed = {name for layer in layers for name in layer.inputs}
    return [layer.name for layer in layers if layer.name not in consumed]


def model_document(model: Model, weights_file: str | None = None) -> dict:
    """``model`` as a model.json document (attributes at their defaults omitted)."""
    doc: dict = {"format": MODEL_FORMAT, "name": model.name}
    if model.description:
        doc["description"] = model.description
    doc["inputs"] = [spec.model_dump(mode="json") for spec in model.inputs]
    doc["layers"] = [{"name": layer.name, "op": layer.op, "inputs": list(layer.inputs),
                      **layer.model_dump(mode="json", exclude_defaults=True,
                                         exclude={"name", "op", "inputs"})}
                     for layer in model.layers]
    doc["outputs"] = list(model.outputs)
    if weights_file is not None:
        doc["weights"] = weights_file
    doc["seed"] = model.seed
    return doc


def load_model_json(path: Path) -> Model:
    """Load and validate a model.json file."""
    return parse_model(read_json(path), source=str(path), base_dir=path.parent)
