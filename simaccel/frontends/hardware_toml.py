"""Frontend for hardware configs: ``hw_configs/NAME.toml`` files, and lookup of shipped ones."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from simaccel.errors import InputError
from simaccel.frontends.files import read_toml
from simaccel.frontends.validation import raise_input_error
from simaccel.hardware import Hardware

#: The config used when the user names none: SCALE-Sim's default scale.cfg, as TOML.
DEFAULT_HARDWARE = "scalesim_default"


def shipped_configs() -> dict[str, Path]:
    """Shipped hardware configs by name (the TOML file stem)."""
    folder = resources.files("simaccel") / "hw_configs"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir()
            if str(p).endswith(".toml")}


def parse_hardware(data: dict, source: str) -> Hardware:
    """Validate a decoded hardware table."""
    try:
        return Hardware.model_validate(data)
    except ValidationError as exc:
        raise_input_error(source, exc)
        raise  # unreachable: raise_input_error always raises


def load_hardware_toml(path: Path) -> Hardware:
    """Load and validate one hardware TOML file."""
    source = str(path)
    return parse_hardware(read_toml(path), source).with_source(source)


def load_hardware(path_or_name: str | Path | None = None, label: str = "--hw") -> Hardware:
    """A hardware config from a ``.toml`` or SCALE-Sim ``.cfg`` path, or a shipped config's
    name; None gives `DEFAULT_HARDWARE`. ``label`` is how messages name where a shipped
    name came from (the CLI's ``--hw``; the public API names its function)."""
    if path_or_name is None:
        path_or_name = DEFAULT_HARDWARE
    text = str(path_or_name)
    path = Path(text)
    if path.suffix.lower() == ".cfg":
        from simaccel.frontends.scalesim_cfg import load_scalesim_cfg

        return load_scalesim_cfg(path)
    if path.suffix.lower() == ".toml" or path.exists():
        return load_hardware_toml(path)
    shipped = shipped_configs()
    if text in shipped:  # messages name the config as the user gave it
        return load_hardware_toml(shipped[text]).with_source(f"{label} {text}")
    raise InputError(label, "", f"no file and no shipped config named {text!r}; shipped: "
                     f"{', '.join(sorted(shipped))}")
