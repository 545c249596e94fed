"""Every section and key of a SCALE-Sim ``.cfg`` and what simaccel does with it, in one
table (`KEYS`): the rule is the same as for topology columns — nothing that would change
the result is dropped silently.

Each key SCALE-Sim 3.0.0 ships in its sample configs (``configs/scale.cfg``,
``configs/google.cfg``, ``configs/google_ramulator.cfg``; its parser
``scalesim/scale_config.py``), and v2's ``[network_presets]``, is one of:

- `Use.READ`: read into the `Hardware` (`scalesim_cfg.load_scalesim_cfg`);
- `Use.NO_EFFECT`: accepted with any value, because no value changes what simaccel
  reports (``why`` says so: SRAM address offsets only label SCALE-Sim's trace addresses);
- `Use.DEFAULT_ONLY`: a feature simaccel does not model, accepted only at the value that
  turns it off (``default``: ``SparsitySupport: false``); any other value is refused,
  naming the file, section and key.

A section or key not in the table is refused: simaccel cannot know that it changes
nothing. Section names are case-sensitive and keys are not, as in SCALE-Sim's
``configparser``.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from enum import Enum

from simaccel.errors import InputError


class Use(Enum):
    """What simaccel does with a .cfg key."""

    READ = "read"
    NO_EFFECT = "no_effect"
    DEFAULT_ONLY = "default_only"


@dataclass(frozen=True)
class Key:
    """One .cfg key: its spelling in SCALE-Sim's sample configs, its `Use`, the one value
    accepted for `Use.DEFAULT_ONLY` (``"false"`` / ``"1"``, compared as a boolean or a whole
    number), and why."""

    name: str
    use: Use
    why: str = ""
    default: str | None = None


_OFFSET = "an address offset that only labels SCALE-Sim's SRAM traces"
_BANK = "a bank parameter SCALE-Sim reads only for a custom layout, which is refused"
_SPARSE = "a sparsity parameter SCALE-Sim reads only with SparsitySupport: true, refused"
_RAMULATOR = "a Ramulator request queue, used only with UseRamulatorTrace: True, refused"

#: section → keys (lower case, as configparser keys them) → `Key`
KEYS: dict[str, dict[str, Key]] = {section: {k.name.lower(): k for k in keys} for section, keys
                                   in {
    "general": [Key("run_name", Use.READ)],
    "architecture_presets": [
        Key("ArrayHeight", Use.READ), Key("ArrayWidth", Use.READ),
        Key("IfmapSramSzkB", Use.READ), Key("FilterSramSzkB", Use.READ),
        Key("OfmapSramSzkB", Use.READ), Key("Dataflow", Use.READ),
        Key("Bandwidth", Use.READ),
        Key("IfmapOffset", Use.NO_EFFECT, _OFFSET), Key("FilterOffset", Use.NO_EFFECT, _OFFSET),
        Key("OfmapOffset", Use.NO_EFFECT, _OFFSET),
        Key("MemoryBanks", Use.DEFAULT_ONLY, "banked DRAM is not modelled by simaccel", "1"),
        Key("ReadRequestBuffer", Use.NO_EFFECT, _RAMULATOR),
        Key("WriteRequestBuffer", Use.NO_EFFECT, _RAMULATOR),
    ],
    "layout": [
        Key("IfmapCustomLayout", Use.DEFAULT_ONLY,
            "custom SRAM layouts (bank conflicts) are not modelled by simaccel", "false"),
        Key("FilterCustomLayout", Use.DEFAULT_ONLY,
            "custom SRAM layouts (bank conflicts) are not modelled by simaccel", "false"),
        *(Key(f"{operand}SRAMBank{what}", Use.NO_EFFECT, _BANK)
          for operand in ("Ifmap", "Filter") for what in ("Bandwidth", "Num", "Port")),
    ],
    "sparsity": [
        Key("SparsitySupport", Use.DEFAULT_ONLY, "SCALE-Sim's sparse compute is not modelled "
            "from a .cfg (simaccel's own: `simaccel sparsity`, hardware [sparsity])", "false"),
        *(Key(name, Use.NO_EFFECT, _SPARSE) for name in (
            "SparseRep", "OptimizedMapping", "BlockSize", "RandomNumberGeneratorSeed")),
    ],
    "run_presets": [
        Key("InterfaceBandwidth", Use.READ),
        Key("UseRamulatorTrace", Use.DEFAULT_ONLY, "Ramulator's DRAM timing is not modelled by "
            "simaccel", "false"),
    ],
    "network_presets": [
        Key("TopologyCsvLoc", Use.NO_EFFECT, "simaccel takes the topology on its command line"),
    ],
}.items()}


def check_keys(parser: configparser.ConfigParser, source: str, text: str) -> None:
    """Refuse (`InputError` naming ``source`` and ``section.Key``) a section or key not in
    `KEYS`, and a `Use.DEFAULT_ONLY` key at another value than its default. ``text`` is the
    file's, for an unknown key's spelling (configparser lowers it)."""
    for section in parser.sections():
        if section not in KEYS:
            raise InputError(source, section, f"unknown section; SCALE-Sim's are "
                             f"{', '.join(KEYS)}: simaccel cannot tell it changes nothing")
        for option in parser.options(section):
            key = KEYS[section].get(option)
            if key is None:
                raise InputError(source, f"{section}.{_spelled(option, text)}", "unknown key in "
                                 "this section; "
                                 f"simaccel reads or accepts {_names(section)}")
            if key.use is Use.DEFAULT_ONLY:
                _check_default(key, parser.get(section, option), source, f"{section}.{key.name}")


def _check_default(key: Key, value: str, source: str, field: str) -> None:
    """``value`` of a `Use.DEFAULT_ONLY` key must mean its default (booleans as
    configparser reads them: true/false, yes/no, on/off, 1/0)."""
    text = value.strip().lower()
    if key.default in ("true", "false"):
        states = configparser.ConfigParser.BOOLEAN_STATES
        if text not in states:
            raise InputError(source, field, f"expected true or false, got {value.strip()!r}")
        same = states[text] == states[key.default]
    else:
        same = text == key.default
    if not same:
        raise InputError(source, field, f"{value.strip()!r} cannot be simulated: {key.why}; "
                         f"only {key.default} is accepted")


def _spelled(option: str, text: str) -> str:
    """``option`` as the file spells it (the first line that sets it)."""
    found = re.search(rf"^[ \t]*({re.escape(option)})[ \t]*[:=]", text,
                      re.IGNORECASE | re.MULTILINE)
    return found[1] if found else option


def _names(section: str) -> str:
    return ", ".join(key.name for key in KEYS[section].values())
