"""Frontend for ``model.json`` (format ``simaccel-model/1``): parse, validate, freeze."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simaccel.bounds import Int, Str
from simaccel.errors import InputError
from simaccel.frontends.files import read_json
from simaccel.frontends.validation import raise_input_error
from simaccel.model import (
    LAYER_CLASSES,
    MODEL_FORMAT,
    LayerSpec,
    Model,
    Name,
    OnnxOp,
    TensorSpec,
    natural_key,
)


class ModelFile(BaseModel):
    """The top level of a model.json file. Its validator (every layer class's, through the
    ``layers`` union) is built only when a file is refused (see `_validate`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    format: Literal["simaccel-model/1"]
    name: Name
    description: Annotated[Str, Field(max_length=10_000)] = ""
    inputs: tuple[TensorSpec, ...] = Field(min_length=1)
    layers: tuple[LayerSpec, ...] = Field(min_length=1)
    outputs: tuple[Name, ...] | None = None
    weights: Annotated[Str, Field(min_length=1, max_length=4096)] | None = None
    seed: Annotated[Int, Field(ge=0, lt=2**32)] = 0


class _Outline(ModelFile):
    """`ModelFile` with its layers left as given, each validated by its op's class."""

    model_config = ConfigDict(defer_build=False)

    layers: tuple[dict, ...] = Field(min_length=1)


def _validate(data: dict) -> tuple[ModelFile | _Outline, tuple[LayerSpec, ...]]:
    """The top level and the layers of a model.json document. A valid document is validated
    as `_Outline` and each layer by the class of its op (`LAYER_CLASSES`), so that only the
    classes of the ops it uses are built; anything that fails is validated again as a whole
    `ModelFile`, whose errors (every field's, in its order) the message is made from.

    Raises pydantic's ``ValidationError``."""
    layers = data.get("layers")
    if isinstance(layers, list) and all(
            isinstance(layer, dict) and isinstance(layer.get("op"), str)
            and layer["op"] in LAYER_CLASSES for layer in layers):
        try:
            outline = _Outline.model_validate(data)
            return outline, tuple(LAYER_CLASSES[layer["op"]].model_validate(layer)
                                  for layer in layers)
        except ValidationError:
            pass
    spec = ModelFile.model_validate(data)
    return spec, spec.layers


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
        spec, layers = _validate(data)
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
        stored = load_npz(weights, source, frozenset(
            f"{layer.name}.c{pos}" for layer in layers if may_be_infinite(layer)
            for pos, _ in layer.consts))
    outputs = spec.outputs if spec.outputs is not None else _sinks(layers)
    return Model(
        name=spec.name,
        inputs=spec.inputs,
        layers=layers,
        outputs=tuple(outputs),
        source=source,
        description=spec.description,
        weights_path=weights_path,
        seed=spec.seed,
        weights=stored,
    )


def load_npz(path: Path, source: str, infinite_ok: frozenset[str] = frozenset()) -> dict:
    """The arrays of an .npz of weights, by key: every one numeric and finite (those whose
    key is in ``infinite_ok`` may hold ±inf, see `may_be_infinite`), or an `InputError`
    naming the file (and the key)."""
    import numpy as np

    from simaccel.input_arrays import numpy_file_problem

    if (problem := numpy_file_problem(path)) is not None:
        raise InputError(str(path), "", problem)
    try:
        data = np.load(path, allow_pickle=False)
        if not hasattr(data, "files"):
            raise ValueError("a single .npy array, not an .npz archive")
        with data:
            arrays = {key: data[key] for key in data.files}
    except Exception as exc:  # noqa: BLE001 - zip, npy and pickle errors of a corrupt file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(str(path), "", f"not a readable .npz of weights ({reason})") \
            from None
    if not arrays:
        raise InputError(str(path), "", "holds no arrays (an empty .npz)")
    for key, value in arrays.items():
        check_weights(value, str(path), key, infinite_ok=key in infinite_ok)
    return arrays


def may_be_infinite(layer: LayerSpec) -> bool:
    """Whether ``layer``'s stored constants may hold ±inf: those of an ONNX op computed by
    its ONNX meaning (`OnnxOp`: ``eltwise``, ``reduce``, ``move``), which ONNX lets carry any
    IEEE 754 value — a causal mask added as −inf (``Add``), a ``Where``'s fill, a ``Pad``'s
    −inf before a max — and which onnxruntime computes with. Learned parameters (conv and
    dense kernels and biases, normalisation statistics) never: NaN is refused everywhere."""
    return isinstance(layer, OnnxOp)


def check_weights(value: object, source: str, key: str, infinite_ok: bool = False) -> None:
    """Refuse a weight array that is not real numbers or holds NaN or (unless
    ``infinite_ok``: an ONNX op's constant, see `may_be_infinite`) infinity."""
    import numpy as np

    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise InputError(source, key, f"weights must be real numbers, not {array.dtype}")
    if array.dtype.kind == "f":
        allowed = ~np.isnan(array) if infinite_ok else np.isfinite(array)
        if not allowed.all():
            bad = "NaN" if np.isnan(array).any() else "infinity"
            raise InputError(source, key, f"holds {bad}: weights must be finite")


def _sinks(layers: tuple[LayerSpec, ...]) -> list[str]:
    """Layers whose output no other layer reads: the model's outputs by default, in natural
    name order (not the listing's)."""
    consumed = {name for layer in layers for name in layer.inputs}
    return sorted((layer.name for layer in layers if layer.name not in consumed),
                  key=natural_key)


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
