"""A sweep's journal: the CSV its rows are appended to as they finish, and beside it
(``<name>.sweep.json``) the spec those rows came from, so that a rerun with the same output
skips the rows already made, re-runs a torn last line, and refuses a spec that changed.
Rows a run lost (`forget`: a point timeout or a dead worker, a property of that run rather
than of the point) are dropped so that a rerun makes them again.

The spec is kept as a fingerprint: the base config and every workload by path and content
hash, and the mode's grid, points, samples and seed. Two fingerprints differ only where a
row could differ; the sweep's ``name`` and the workloads' order do not count.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simaccel.errors import InputError

SCHEMA = "simaccel-sweep-spec/1"
#: How many changes a refusal lists before "and N more".
SHOWN_CHANGES = 3


def sidecar(journal: Path) -> Path:
    """Where the spec of ``journal``'s rows is kept."""
    return journal.with_name(journal.stem + ".sweep.json")


def resume(journal: Path, fingerprint: dict[str, Any], columns: list[str]) -> set[str]:
    """Get ``journal`` ready for appending rows of the sweep ``fingerprint``: return the keys
    of its complete rows (failed ones too: they would fail again). A missing or row-less
    journal starts afresh with a header; a torn last line (a run killed mid-write) is cut
    off so that its point runs again. Refused with `InputError`: a file that is not a sweep
    journal, rows without their spec, and rows of another spec (naming what changed)."""
    fingerprint = _normal(fingerprint)
    data = journal.read_bytes() if journal.exists() else b""
    whole = data[:data.rfind(b"\n") + 1]  # up to the last complete line
    if not whole and data and not data.startswith(b"key,"):
        raise InputError(str(journal), "", "exists but is not a simaccel sweep CSV; choose "
                         "another --out")
    reader = csv.DictReader(io.StringIO(whole.decode("utf-8", errors="replace"), newline=""))
    if whole and "key" not in (reader.fieldnames or []):
        raise InputError(str(journal), "", "exists but is not a simaccel sweep CSV (no 'key' "
                         "column); choose another --out")
    lines = list(reader)
    if not lines:
        try:  # the journal's own folder, as `simulate --out` makes its folder; no parents
            journal.parent.mkdir(exist_ok=True)
        except FileNotFoundError:
            raise InputError(str(journal), "", f"the folder above {str(journal.parent)!r} "
                             "does not exist") from None
        except OSError as exc:
            raise InputError(str(journal), "", f"cannot make its folder: "
                             f"{exc.strerror or exc}") from None
        _write(sidecar(journal), json.dumps(fingerprint, indent=1, sort_keys=True) + "\n")
        with journal.open("w", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, fieldnames=columns).writeheader()
        return set()
    _check_same_spec(journal, fingerprint)
    if reader.fieldnames != columns:
        raise InputError(str(journal), "", "its columns are not the ones this simaccel "
                         "writes (made by another version?); choose another --out")
    if len(whole) < len(data):
        with journal.open("r+b") as handle:
            handle.truncate(len(whole))
    return {row["key"] for row in lines if None not in row and None not in row.values()}


def forget(journal: Path, which: Callable[[dict[str, str]], bool]) -> set[str]:
    """Drop from ``journal`` (one `resume` made ready) the rows for which ``which(row)``
    holds, so that their points run again; return their keys. The journal is rewritten
    whole or not at all; with no such row it is left as it is."""
    with journal.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows, columns = list(reader), list(reader.fieldnames or [])
    dropped = [row for row in rows if which(row)]
    if not dropped:
        return set()
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(row for row in rows if not which(row))
    _write(journal, text.getvalue(), newline="")
    return {row["key"] for row in dropped}


def _check_same_spec(journal: Path, fingerprint: dict[str, Any]) -> None:
    kept = sidecar(journal)
    try:
        old = json.loads(kept.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(journal), "", f"has rows but no {kept.name} saying which spec "
                         "made them (an older simaccel?); choose another --out") from None
    except (OSError, ValueError) as exc:
        raise InputError(str(kept), "", f"cannot read the spec of {journal.name}'s rows: "
                         f"{exc}; choose another --out") from None
    changed = changes(old, fingerprint) if isinstance(old, dict) else ["unreadable"]
    if changed:
        more = len(changed) - SHOWN_CHANGES
        listed = "; ".join(changed[:SHOWN_CHANGES]) + (f"; and {more} more" if more > 0 else "")
        raise InputError(str(journal), "", f"the sweep spec changed since its rows were made "
                         f"({listed}); choose another --out, or delete {journal.name} and "
                         f"{kept.name} to start over")


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two fingerprints, one phrase per change."""
    if old.get("schema") != new.get("schema"):
        return [f"written as {old.get('schema')!r}, not {new.get('schema')!r}"]
    out = _base_changes(old.get("base"), new.get("base"))
    out += _workload_changes(old.get("workloads") or [], new.get("workloads") or [])
    for field in ("mode", "samples", "seed"):
        if old.get(field) != new.get(field):
            out.append(f"{field} was {_short(old.get(field))}, now {_short(new.get(field))}")
    old_grid, new_grid = old.get("grid") or {}, new.get("grid") or {}
    for key in sorted({*old_grid, *new_grid}):
        if key not in old_grid:
            out.append(f"grid.{key!r} added")
        elif key not in new_grid:
            out.append(f"grid.{key!r} removed")
        elif old_grid[key] != new_grid[key]:
            out.append(f"grid.{key!r} was {_short(old_grid[key])}, now "
                       f"{_short(new_grid[key])}")
    old_points, new_points = old.get("points") or [], new.get("points") or []
    if len(old_points) != len(new_points):
        out.append(f"{len(old_points)} points, now {len(new_points)}")
    else:
        out += [f"points[{i}] was {_short(a)}, now {_short(b)}"
                for i, (a, b) in enumerate(zip(old_points, new_points, strict=True)) if a != b]
    return out


def _base_changes(old: Any, new: Any) -> list[str]:
    old, new = old or {}, new or {}
    before, after = _short(old.get("config"), 200), _short(new.get("config"), 200)
    if before != after:
        return [f"base was {before}, now {after}"]
    if old.get("sha256") != new.get("sha256"):
        return [f"base config {after} has changed"]
    return []


def _workload_changes(old: list, new: list) -> list[str]:
    before = {w.get("path"): w.get("sha256") for w in old if isinstance(w, dict)}
    after = {w["path"]: w["sha256"] for w in new}
    out = [f"workload {p} added" for p in after if p not in before]
    out += [f"workload {p} removed" for p in before if p not in after]
    out += [f"workload {p} has changed" for p in after
            if p in before and before[p] != after[p]]
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _normal(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples as lists, TOML dates as strings)."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def _write(path: Path, text: str, newline: str | None = None) -> None:
    """Write ``text`` to ``path`` whole or not at all."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8", newline=newline)
    os.replace(temporary, path)
