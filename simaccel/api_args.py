"""Argument checks shared by the public functions of ``simaccel`` (`simaccel.api_models`,
`simaccel.api_systems`, `simaccel.api_training`): a model or hardware given as an object or
a path/name, whole numbers in bounds and choices from a list, each refusal an `InputError`
naming the function (as the source) and the parameter (as the field), as the CLI names its
flags. Values are read strictly, as everywhere in simaccel: ``True`` is not 1."""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from pathlib import Path

from simaccel.errors import InputError


def hardware(value: object, where: str):
    """``value`` as a `Hardware`: one already loaded, or a shipped name or a .toml/.cfg path
    (`simaccel.load_hardware`). Anything else, an empty name or an unknown one is an
    `InputError` naming ``where`` and ``hw``; a bad config file names the file and field."""
    from simaccel.hardware import Hardware

    if isinstance(value, Hardware):
        return value
    if isinstance(value, str | Path) and str(value).strip():
        from simaccel.frontends.hardware_toml import load_hardware

        label = f"{where} hw"  # a shipped config's messages: "simaccel.f hw tpu_v1: ..."
        try:
            return load_hardware(value, label=label)
        except InputError as exc:
            if exc.source != label:
                raise
            raise InputError(where, "hw", exc.message) from None
    raise InputError(where, "hw", f"expected a Hardware or a config name or path, got "
                     f"{_shown(value)}")


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str | Path) else type(value).__name__


def model(value: object, where: str, field: str = "model"):
    """``value`` as a `Model`: one already loaded, or a model.json / ONNX / SCALE-Sim path
    (`simaccel.load_model`). Anything else, or a path to no file, is an `InputError`
    naming ``where`` and ``field``; a bad model file names the file and field."""
    from simaccel.model import Model

    if isinstance(value, Model):
        return value
    if isinstance(value, str | Path) and str(value).strip():
        from simaccel.frontends import load_model

        if not Path(value).exists():  # the call's problem, not a file's: name the call
            raise InputError(where, field, f"no such file: {value}")
        return load_model(value)
    raise InputError(where, field, f"expected a Model or a model file path, got "
                     f"{_shown(value)}")


def count(value: object, where: str, field: str, low: int, high: int) -> int:
    """``value`` as a whole number in ``low..high``: an int or a numpy integer (a bool or a
    float is refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(where, field, f"expected a whole number, got {value!r}")
    if not low <= value <= high:
        raise InputError(where, field, f"{value} is outside {low}..{high}")
    return int(value)


def choice(value: object, where: str, field: str, options: Iterable[str]) -> str:
    """``value`` if it is one of ``options`` (strings; an enum member counts by its value)."""
    names = list(options)
    text = getattr(value, "value", value)
    if not isinstance(text, str) or text not in names:
        raise InputError(where, field, f"{value!r} is not one of {', '.join(names)}")
    return text


def flag(value: object, where: str, field: str) -> bool:
    """``value`` if it is a bool (``"yes"`` or 1 is refused: the API reads values strictly)."""
    if not isinstance(value, bool):
        raise InputError(where, field, f"expected True or False, got {value!r}")
    return value
