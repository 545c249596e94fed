"""Keys that set hardware config fields, as `simaccel.hardware.vary` and the sweeps take
them: a dotted field (``"array.rows"``) or several tied to one value with ``+``
(``"array.rows+array.cols"``). One point may set each field once: two keys that reach the
same field — directly, through a tie, or as two spellings of one quantity (the DRAM
bandwidth in GB/s or in bytes per cycle) — would leave the point's row saying a value that
was never applied, so `clash` finds them and the callers refuse the point naming both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Fields by the quantity they set, where that is not the field itself; a quantity holds
#: those named beneath it (``a`` holds ``a.b``), as a table holds its fields.
#: `simaccel.hardware.DramConfig` takes exactly one of ``bandwidth_gbps`` (GB/s) and
#: ``bytes_per_cycle`` (at the array clock), two spellings of one bandwidth, and `vary`
#: setting either drops the other. `simaccel.hardware.EnergyConfig`'s ``static_mw``, when
#: given, is the static power instead of the leakage that ``pe_leakage_uw`` and
#: ``sram_leakage_nw_per_byte`` add up to (`simaccel.energy.energy_table`), so it holds both.
SPELLINGS: dict[str, str] = {
    "dram.bandwidth_gbps": "dram.bandwidth",
    "dram.bytes_per_cycle": "dram.bandwidth",
    "energy.static_mw": "energy.static_power",
    "energy.pe_leakage_uw": "energy.static_power.pe_leakage",
    "energy.sram_leakage_nw_per_byte": "energy.static_power.sram_leakage",
}


def fields(key: str) -> list[str]:
    """The dotted fields a key sets: ``"array.rows + array.cols"`` -> both, stripped."""
    return [part.strip() for part in key.split("+")]


def quantity(field: str) -> str:
    """What setting ``field`` sets: its spellings' shared name (`SPELLINGS`), else itself."""
    return SPELLINGS.get(field, field)


def other_spellings(field: str) -> list[str]:
    """The other fields that spell ``field``'s quantity (``dram.bytes_per_cycle`` for
    ``dram.bandwidth_gbps``): setting one replaces them."""
    return [other for other in SPELLINGS
            if other != field and SPELLINGS[other] == SPELLINGS.get(field)]


def _overlap(a: str, b: str) -> bool:
    """Whether quantities ``a`` and ``b`` are one, or one is a table holding the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


@dataclass(frozen=True)
class Clash:
    """Two keys of one point that set one quantity: ``first`` (through its field
    ``first_field``) and ``second`` (through ``second_field``); the two keys are the same
    key when a tie names a field twice (``"array.rows+array.rows"``)."""

    first: str
    first_field: str
    second: str
    second_field: str

    def message(self, first_where: str) -> str:
        """What is wrong with the second key, on one line, naming the first as
        ``first_where`` (how the caller names keys: ``grid.'array.rows'``)."""
        a, b = self.first_field, self.second_field
        if self.first == self.second:
            what = (f"names {b} twice" if a == b else f"ties {a} and {b}, two spellings of "
                    f"{quantity(b)}" if quantity(a) == quantity(b)
                    else f"ties {a} and {b}: one overrides the other")
        elif a == b:
            what = f"sets {b}, as {first_where} does"
        elif quantity(a) == quantity(b):
            what = (f"sets {quantity(b)}, as {first_where} does ({b} and {a} are two "
                    "spellings of it)")
        else:
            whole, part = (a, b) if quantity(b).startswith(quantity(a) + ".") else (b, a)
            what = f"sets {b}, and {first_where} sets {a}: {whole} overrides {part}"
        return f"{what}; one of the values would not be applied: set each field once"


def clash(keys: Iterable[str]) -> Clash | None:
    """The first two of one point's ``keys`` (in order) that set one quantity, or None.
    Keys that are not hardware fields (``parallel``, ``batch``) are plain names here."""
    seen: list[tuple[str, str]] = []  # (key, field)
    for key in keys:
        for field in fields(key):
            for other_key, other_field in seen:
                if _overlap(quantity(other_field), quantity(field)):
                    return Clash(other_key, other_field, key, field)
            seen.append((key, field))
    return None
