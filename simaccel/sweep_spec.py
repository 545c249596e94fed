"""The sweep spec: what a ``sweep.toml`` (or the same keys as a dict) may say, checked
field by field, and the design points it makes, counted before any is made (see
`simaccel.sweeps` for the format). A point sets each field once (`simaccel.hardware_keys`)
and its values compare as their fields read them, so that a row names what its point ran."""

from __future__ import annotations

import functools
import itertools
import json
import math
import random
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, ValidationError

from simaccel.bounds import Str
from simaccel.errors import InputError
from simaccel.frontends.files import read_toml
from simaccel.frontends.validation import raise_input_error
from simaccel.hardware import Hardware
from simaccel.hardware_keys import clash
from simaccel.hardware_keys import fields as tied_fields
from simaccel.sweep_parallel import RUN_FIELDS, value_problem

#: Longest spec ``name`` accepted, characters: a label, bounded as a model's name is
#: (`simaccel.model.Name`).
MAX_NAME_CHARS = 256


class SweepSpec(BaseModel):
    """A validated sweep description (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Annotated[Str, Field(max_length=MAX_NAME_CHARS)] = "sweep"
    base: str = "scalesim_default"
    workloads: list[str] = Field(min_length=1)
    mode: Literal["grid", "list", "random"] = "grid"
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    points: list[dict[str, Any]] = Field(default_factory=list)
    samples: int = Field(default=16, gt=0, le=1_000_000)
    seed: int = 0
    _source: str = PrivateAttr(default="<sweep>")  # the file it came from, for messages


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep TOML file; workload and base paths resolve next to it."""
    path = Path(path)
    source = str(path)
    spec = parse_spec(read_toml(path, allow_empty=True), source)  # empty: names what is missing

    def here(p: str) -> str:
        return p if Path(p).is_absolute() else str(path.parent / p)

    base = here(spec.base) if spec.base.endswith((".toml", ".cfg")) else spec.base
    return spec.model_copy(update={"workloads": [here(w) for w in spec.workloads],
                                   "base": base})


def parse_spec(data: Mapping[str, Any], source: str = "<sweep>") -> SweepSpec:
    """Validate a decoded spec, including that every swept key names a config field."""
    try:
        spec = SweepSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise_input_error(source, exc)
        raise
    if spec.mode in ("grid", "random") and not spec.grid:
        raise InputError(source, "grid", f"mode {spec.mode!r} needs a [grid] table")
    if spec.mode == "list" and not spec.points:
        raise InputError(source, "points", "mode 'list' needs [[points]] tables")
    for where, key in [(f"grid.{k!r}", k) for k in spec.grid] + [
            (f"points[{i}].{k!r}", k) for i, p in enumerate(spec.points) for k in p]:
        if key in RUN_FIELDS:
            continue
        tied = [part.strip() for part in key.split("+") if part.strip() in RUN_FIELDS]
        if tied:
            raise InputError(source, where, f"{tied[0]!r} is a run field, not a hardware "
                             "field: sweep it on its own, not tied with '+'")
        for dotted in key.split("+"):
            problem = _field_problem(dotted.strip())
            if problem:
                raise InputError(source, where, problem)
    _refuse_clashes(spec, source)
    _check_values(spec, source)
    for key, values in spec.grid.items():
        if not values:
            raise InputError(source, f"grid.{key!r}", "no values to sweep")
        _refuse_twins(source, [f"grid.{key!r}[{i}]" for i in range(len(values))], values,
                      functools.partial(normal_value, key))
    _refuse_twins(source, [f"points[{i}]" for i in range(len(spec.points))], spec.points,
                  lambda point: {k: normal_value(k, v) for k, v in point.items()})
    _check_samples(spec, source)
    _refuse_twins(source, [f"workloads[{i}]" for i in range(len(spec.workloads))],
                  spec.workloads)
    spec._source = source
    return spec


def _refuse_clashes(spec: SweepSpec, source: str) -> None:
    """Refuse two keys of one point that set one field (`simaccel.hardware_keys`): every
    grid key is in every point of a grid; a list point has its own keys."""
    tables = [("grid.{!r}", list(spec.grid))] if spec.mode != "list" else [
        (f"points[{i}].{{!r}}", list(p)) for i, p in enumerate(spec.points)]
    for where, keys in tables:
        found = clash(keys)
        if found is not None:
            raise InputError(source, where.format(found.second),
                             found.message(where.format(found.first)))


def _check_samples(spec: SweepSpec, source: str) -> None:
    """Refuse ``random`` asked for more distinct points than its grid holds (it ran the
    grid's points, fewer rows than asked, without a word)."""
    size = math.prod(len(values) for values in spec.grid.values())
    if spec.mode == "random" and spec.samples > size:
        given = "" if "samples" in spec.model_fields_set else " (the default)"
        raise InputError(source, "samples", f"{spec.samples}{given} is more than the "
                         f"{size:,} points of the grid: draw at most {size:,}, or run them "
                         "all with mode = 'grid'")


def _refuse_twins(source: str, fields: list[str], values: list[Any],
                  normal: Callable[[Any], Any] = lambda value: value) -> None:
    """Refuse a value listed twice (it would make two rows of one point), comparing the
    values as ``normal`` reads them (`normal_value`: ``8`` and ``8.0`` are one real)."""
    seen: dict[str, tuple[str, str]] = {}
    for where, value in zip(fields, values, strict=True):
        text = json.dumps(normal(value), default=str, sort_keys=True)
        shown = json.dumps(value, default=str, sort_keys=True)[:60]
        if text in seen:
            first, first_shown = seen[text]
            same = shown if shown == first_shown else f"{first_shown} and {shown} read the same"
            raise InputError(source, where, f"the same as {first} ({same}); list each once")
        seen[text] = (where, shown)


def _check_values(spec: SweepSpec, source: str) -> None:
    """Refuse, naming where it is, a run field's value that is not one it may take
    (``parallel``, ``batch``: `simaccel.sweep_parallel`) and a hardware field's value that
    its field alone does not accept — a type (``true`` for ``array.rows``) or a bound
    (``array.rows = 0``) — before any point runs (it made every point that used it an error
    row). Rules that tie fields together (dtypes that must agree, sizes against
    ``[[memories]]``) are checked per point, where the other fields' values are known."""
    values = [(f"grid.{k!r}[{i}]", k, v) for k in spec.grid for i, v in enumerate(spec.grid[k])]
    values += [(f"points[{i}].{k!r}", k, v) for i, p in enumerate(spec.points)
               for k, v in p.items()]
    for where, key, value in values:
        problem = value_problem(key, value) if key in RUN_FIELDS else \
            key_value_problem(key, value)
        if problem:
            raise InputError(source, where, problem)


def normal_value(key: str, value: Any) -> Any:
    """``value`` as the config reads it for the swept ``key``, so that two spellings of
    one value compare equal (``8`` and ``8.0`` for a real field; a tie: one value a
    field). Run fields (`RUN_FIELDS`) are taken as given. ``value`` must be one the key
    accepts (`key_value_problem` is None)."""
    if key in RUN_FIELDS:
        return value
    return tuple(_adapter(dotted).validate_python(value) for dotted in tied_fields(key))


def key_value_problem(key: str, value: object) -> str | None:
    """Why ``value`` cannot be swept as the hardware ``key`` (a dotted field, or ``a+b``
    tying several) on its own — a type or a bound — or None. The message names the field
    only for a tie (a message's place already names ``key``)."""
    fields = tied_fields(key)
    for dotted in fields:
        problem = _value_problem(dotted, value)
        if problem:
            return f"{dotted}: {problem}" if len(fields) > 1 else problem
    return None


def _value_problem(dotted: str, value: object) -> str | None:
    """Why ``value`` is not one the hardware field ``dotted`` accepts on its own, or None."""
    try:
        _adapter(dotted).validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"{first['msg']} (got {value!r})"[:300]
    return None


@functools.lru_cache(maxsize=256)
def _adapter(dotted: str):
    """A validator of the hardware field ``dotted`` alone (its type and bounds)."""
    model: type[BaseModel] = Hardware
    *parents, leaf = dotted.split(".")
    for part in parents:
        model = model.model_fields[part].annotation
    info = model.model_fields[leaf]
    return TypeAdapter(Annotated[info.annotation, *info.metadata]) if info.metadata \
        else TypeAdapter(info.annotation)


def _field_problem(dotted: str) -> str | None:
    """Why ``dotted`` is not a field of a hardware config, or None."""
    model: type[BaseModel] | None = Hardware
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if model is None or part not in model.model_fields:
            known = sorted(model.model_fields) if model else []
            return f"{'.'.join(parts[:i + 1])!r} is not a hardware config field" + (
                f" (fields here: {', '.join(known)})" if known else "")
        annotation = model.model_fields[part].annotation
        model = annotation if isinstance(annotation, type) and issubclass(
            annotation, BaseModel) else None
    if model is not None:
        return f"{dotted!r} is a table; sweep one of its fields ({', '.join(model.model_fields)})"
    return None


def count_points(spec: SweepSpec) -> int:
    """How many design points the spec makes, counted without making them."""
    if spec.mode == "list":
        return len(spec.points)
    size = math.prod(len(values) for values in spec.grid.values())
    return min(size, spec.samples) if spec.mode == "random" else size


def iter_points(spec: SweepSpec) -> Iterator[dict[str, Any]]:
    """The parameter assignments of the sweep, in a stable order, one at a time (``random``
    draws its grid indices without building the grid)."""
    if spec.mode == "list":
        yield from (dict(p) for p in spec.points)
        return
    keys = sorted(spec.grid)
    size = math.prod(len(spec.grid[k]) for k in keys)
    if spec.mode == "random" and spec.samples < size:
        for index in sorted(random.Random(spec.seed).sample(range(size), spec.samples)):
            yield _grid_point(spec, keys, index)
        return
    for values in itertools.product(*(spec.grid[k] for k in keys)):
        yield dict(zip(keys, values, strict=True))


def _grid_point(spec: SweepSpec, keys: list[str], index: int) -> dict[str, Any]:
    """Point ``index`` of the grid in `itertools.product` order (the last key fastest)."""
    point = {}
    for key in reversed(keys):
        index, digit = divmod(index, len(spec.grid[key]))
        point[key] = spec.grid[key][digit]
    return {k: point[k] for k in keys}


def design_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """The parameter assignments of the sweep, in a stable order."""
    return list(iter_points(spec))
