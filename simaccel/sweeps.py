"""Design-space sweeps: hardware points × workloads, on a local process pool or a Dask
cluster, one row per point × workload.

A sweep spec (``sweep.toml``)::

    name = "array_and_sram"
    base = "scalesim_default"            # shipped config name or a .toml/.cfg path
    workloads = ["../workloads/resnet18.json", "../workloads/mobilenet_v2.json"]
    mode = "grid"                        # grid | list | random
    [grid]                               # dotted config fields -> values to try
    "array.rows+array.cols" = [16, 32, 64]     # '+' sets several fields to one value
    "sram.ifmap_kib" = [32, 64, 128]
    "dram.bytes_per_cycle" = [8, 16]

``mode = "list"`` takes ``[[points]]`` tables instead of a grid; ``mode = "random"`` draws
``samples`` distinct points of the grid with ``seed`` (at most the grid's size). Paths are
relative to the spec. A point sets each field once: two keys that reach one field (a ``+``
tie and the field alone, or ``dram.bandwidth_gbps`` and ``dram.bytes_per_cycle``) are
refused, naming both.

Each row holds the point's parameters, the workload, the report's totals (`METRICS`), the
energy and the area estimate; a point that fails (a buffer too small for one fold, a value
the config refuses, a worker killed under it, a run past the point timeout) has its error in
``error`` and the sweep goes on. The workloads are
parsed, shaped and lowered once, in the parent; each task ships the small lowered form
(tens of KB) to a worker, which only tiles, simulates and reports.

The spec and its points are `simaccel.sweep_spec`; the fault-tolerant local pool
`simaccel.sweep_pool`; the CSV journal a rerun resumes from `simaccel.sweep_journal`.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simaccel import sweep_journal, sweep_parallel
from simaccel.errors import InputError
from simaccel.hardware import Hardware, vary
from simaccel.sweep_spec import (  # noqa: F401 - the spec's API, here as before
    SweepSpec,
    _field_problem,
    count_points,
    design_points,
    iter_points,
    load_spec,
    parse_spec,
)

#: Totals copied from each report into a row (units as in the report: cycles, bytes, s).
METRICS = ("cycles", "compute_cycles", "stall_cycles", "macs", "utilization",
           "mapping_efficiency", "dram_read_bytes", "dram_write_bytes", "latency_s",
           "inferences_per_s", "tops", "tops_per_w", "average_power_w")
#: How long to wait for a Dask scheduler to answer, seconds.
CONNECT_TIMEOUT_S = 10
#: Columns after the metrics: energy (pJ), area (mm²), and the error of a failed point.
EXTRA = ("energy_pj", "energy_dram_pj", "area_mm2", "array_mm2", "sram_mm2", "error")
#: A sweep of more rows (points × workloads) than this runs only when asked (``--yes``).
LARGE_SWEEP_ROWS = 10_000
#: A sweep of more rows than this is refused: split it, or sample it (``mode = "random"``).
MAX_SWEEP_ROWS = 1_000_000


def point_key(params: Mapping[str, Any], workload: str, base: str = "") -> str:
    """A row's identity, what a resumed sweep skips by: ``base=<base>;<field>=<JSON value>
    ...|<workload>``. The base and the workload are ids, ``<escaped path or name>@<content
    hash>``; in the ids' paths and in the fields and values ``% ; = | @`` and line breaks
    are percent-escaped, so that no two rows can share a key."""
    parts = ([f"base={base}"] if base else []) + [
        f"{_escape(k)}={_escape(json.dumps(params[k], default=str))}" for k in sorted(params)]
    return ";".join(parts) + f"|{workload}"


def _escape(text: str) -> str:
    for char in "%;=|@\r\n":
        text = text.replace(char, f"%{ord(char):02X}")
    return text


# -- one point ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """One row to make: its key, the workload (path, and its label in the ``workload``
    column) and the point's parameters."""

    key: str
    workload: str
    label: str
    params: Mapping[str, Any]
    #: whether the spec sweeps ``parallel`` or ``batch`` at some point (so this point gets
    #: the partition's columns too, its missing run fields at their defaults)
    partition: bool = False


def run_point(base: Hardware, task: Task, prepared) -> dict[str, Any]:
    """Simulate one point × workload (``prepared``: the workload's `Prepared` graph and
    kernels). A failure is recorded in the row's ``error``, never raised."""
    from simaccel.pipeline import run

    row = _row(task)
    try:
        hardware, runs = sweep_parallel.split(task.params)
        full = run(prepared, vary(base, hardware), check=False, trace=False)
        if runs or task.partition:  # the model laid over its chips (`sweep_parallel`)
            runs = {**sweep_parallel.RUN_DEFAULTS, **runs}
            row.update(runs)
            row.update(sweep_parallel.partition_row(full, runs))
        report = full.to_dict()
        total, area_mm2 = report["total"], report["hardware"]["area_mm2"]
        row.update({k: total[k] for k in METRICS})
        row.update(energy_pj=total["energy_pj"]["total"],
                   energy_dram_pj=total["energy_pj"]["dram"], area_mm2=area_mm2["total"],
                   array_mm2=area_mm2["array"], sram_mm2=area_mm2["sram"], error="")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        row["error"] = f"{where}: {first['msg']}"
    except InputError as exc:
        row["error"] = f"{exc.field}: {exc.message}" if exc.field else exc.message
    except Exception as exc:  # noqa: BLE001 - a broken point must not stop the sweep
        row["error"] = _one_line(f"{type(exc).__name__}: {exc}")
    return row


def _row(task: Task, error: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"key": task.key, "workload": task.label, **task.params}
    if error is not None:
        row["error"] = _one_line(error)
    return row


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")[:300]


def _run_task(base: Hardware, prepared: dict, runner: Callable[..., dict], task: Task) -> dict:
    """What a pool worker runs: ``runner`` (`run_point`) on one task."""
    return runner(base, task, prepared[task.workload])


# -- running a sweep ----------------------------------------------------------------------

@dataclass
class SweepRun:
    """What a sweep did: the rows made now, how many were already in the output, how many
    of the output's were lost by an earlier run (a point timeout, a dead worker) and run
    again, and whether it was interrupted (Ctrl-C) before the end."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    interrupted: bool = False
    rerun: int = 0  # rows of an earlier run lost to a timeout or a dead worker, run again


def _swept(spec: SweepSpec) -> list[Mapping[str, Any]]:
    """The tables whose keys are the swept fields: the list's points, or the grid."""
    return spec.points if spec.mode == "list" else [spec.grid]


def sweeps_runs(spec: SweepSpec) -> tuple[str, ...]:
    """The partition's columns when a point of ``spec`` sweeps ``parallel`` or ``batch``,
    else none."""
    return sweep_parallel.COLUMNS if any(map(sweep_parallel.sweeps_runs, _swept(spec))) \
        else ()


def columns(spec: SweepSpec) -> list[str]:
    """The output's columns: key, workload, parameters, metrics, the partition's (when
    the spec sweeps ``parallel`` or ``batch``), energy, area, error."""
    params = sorted({k for p in _swept(spec) for k in p})
    runs = sweeps_runs(spec)
    return ["key", "workload", *params, *METRICS, *runs, *EXTRA]


def prepare_workloads(spec: SweepSpec) -> dict[str, Any]:
    """Each workload parsed, shaped and lowered once (without its weights: sweeps do not
    check numerics), by its path."""
    import simaccel
    from simaccel.pipeline import prepare

    prepared = {}
    for workload in spec.workloads:
        model = simaccel.load_model(workload)
        prepared[workload] = prepare(dataclasses.replace(model, weights=None))
    return prepared


def execute(spec: SweepSpec, out: str | Path | None = None, workers: int = 1,
            scheduler: str | Callable[[], Any] | None = None,
            progress: Callable[[int, int], None] | None = None, *,
            point_timeout_s: float | None = None, allow_large: bool = False,
            runner: Callable[..., dict[str, Any]] = run_point) -> SweepRun:
    """Run the sweep. With ``out`` (a CSV path) each row is appended as it finishes, the
    points already there are skipped, and a spec that changed since is refused (see
    `simaccel.sweep_journal`). ``scheduler`` is a Dask scheduler address, or a callable
    returning a ``distributed.Client``; otherwise a local process pool of ``workers``
    processes (1 and no timeout: in this process), where a worker that dies or runs a point
    longer than ``point_timeout_s`` seconds costs that point only (its row's ``error``;
    a rerun with the same ``out`` runs such rows again, as `SweepRun.rerun` counts).
    Over `LARGE_SWEEP_ROWS` rows needs ``allow_large``. ``progress(done, total)`` follows
    along; ``runner(base, task, prepared)`` makes one row (tests swap it)."""
    import simaccel

    _check_timeout(point_timeout_s, scheduler)
    _check_size(spec, allow_large)
    base = simaccel.load_hardware(spec.base)
    base_input = _base_input(spec.base, base)
    workloads = _identify(spec.workloads, spec._source)
    prepared = prepare_workloads(spec)
    path = Path(out) if out is not None else None
    partition = bool(sweeps_runs(spec))
    tasks = [Task(point_key(params, w.id, base_input.id), w.path, w.label, params, partition)
             for params in iter_points(spec) for w in workloads]
    # one connection for the sweep, made before any write: an unreachable scheduler is
    # refused with nothing written
    connected = _connect(scheduler) if isinstance(scheduler, str) else None
    if connected is not None:
        scheduler = lambda: connected  # noqa: E731 - the client, as a caller-owned one
    result, handle = SweepRun(), None
    try:
        done = sweep_journal.resume(path, _fingerprint(spec, base_input, workloads),
                                    columns(spec)) if path is not None else set()
        if path is not None and done:
            from simaccel.sweep_pool import lost

            again = sweep_journal.forget(path, lambda row: lost(row.get("error") or ""))
            done, result.rerun = done - again, len(again & done)
        todo = [t for t in tasks if t.key not in done]
        result.skipped = len(tasks) - len(todo)
        if progress:
            progress(0, len(todo))
        handle = path.open("a", newline="", encoding="utf-8") if path is not None else None
        writer = csv.DictWriter(handle, fieldnames=columns(spec), extrasaction="ignore") \
            if handle is not None else None
        for row in _rows(base, prepared, todo, workers, scheduler, point_timeout_s, runner):
            result.rows.append(row)
            if writer is not None:
                writer.writerow(row)
                handle.flush()
            if progress:
                progress(len(result.rows), len(todo))
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        if handle is not None:
            handle.close()
        if connected is not None:
            connected.close()
    return result


def _check_size(spec: SweepSpec, allow_large: bool) -> None:
    points = count_points(spec)
    rows = points * len(spec.workloads)
    where = "points" if spec.mode == "list" else "grid"
    what = f"{rows:,} rows ({points:,} points × {len(spec.workloads)} workloads)"
    if rows > MAX_SWEEP_ROWS:
        raise InputError(spec._source, where, f"{what} is over the limit of "
                         f"{MAX_SWEEP_ROWS:,}; split the sweep or draw some with "
                         "mode = 'random'")
    if rows > LARGE_SWEEP_ROWS and not allow_large:
        raise InputError(spec._source, where, f"{what} is over {LARGE_SWEEP_ROWS:,}; pass "
                         "--yes (allow_large=True in Python) to run them all, or draw some "
                         "with mode = 'random'")


#: The smallest point timeout, s: the smallest positive normal IEEE 754 double
#: (``sys.float_info.min``). A subnormal one is as meaningless as 0 — added to a monotonic
#: clock's reading it changes nothing — and is refused as 0 is.
MIN_POINT_TIMEOUT_S = sys.float_info.min


def _check_timeout(point_timeout_s: float | None, scheduler: object) -> None:
    if point_timeout_s is None:
        return
    if not (isinstance(point_timeout_s, int | float) and math.isfinite(point_timeout_s)
            and point_timeout_s >= MIN_POINT_TIMEOUT_S):
        raise InputError("--point-timeout", "", f"must be a positive number of seconds, at "
                         f"least {MIN_POINT_TIMEOUT_S:g} (a normal double), not "
                         f"{point_timeout_s!r}")
    if scheduler is not None:
        raise InputError("--point-timeout", "", "works on the local process pool, not with "
                         "--scheduler (Dask cannot stop a running task)")


@dataclass(frozen=True)
class _Input:
    """The base config or a workload, as the row keys and the journal name it."""

    name: str    # a shipped config's name, or the file's resolved path
    sha256: str  # of the file (of the config's values when it has none)
    path: str = ""   # a workload's path as the spec gives it (`prepare_workloads`' key)
    label: str = ""  # a workload's ``workload`` column: its stem, or its path if stems clash

    @property
    def id(self) -> str:
        """``<escaped name>@<12 hex digits of the hash>``, as in the row keys."""
        return f"{_escape(self.name)}@{self.sha256[:12]}"


def _identify(paths: list[str], source: str = "<sweep>") -> list[_Input]:
    """Each workload by resolved path and content; the same file or the same content twice
    is refused, naming both and the spec ``source`` they are listed in."""
    seen: dict[str, int] = {}
    found = []
    stems = [Path(p).stem for p in paths]
    for j, path in enumerate(paths):
        digest = _file_sha256(path)
        resolved = str(Path(path).resolve())
        for twin in (resolved, digest):
            if twin in seen:
                i = seen[twin]
                same = "file" if twin == resolved else "content"
                raise InputError(source, f"workloads[{j}]", f"{path} is the same {same} as "
                                 f"workloads[{i}] ({paths[i]}); list each workload once")
            seen[twin] = j
        label = stems[j] if stems.count(stems[j]) == 1 else path
        found.append(_Input(resolved, digest, path, label))
    return found


def _file_sha256(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        raise InputError(path, "", "no such file") from None
    except OSError as exc:
        raise InputError(path, "", f"cannot read: {exc}") from None


def _base_input(config: str, base: Hardware) -> _Input:
    """The base config: a file by resolved path, a shipped config by name, each with the
    hash of its file (of its values when it has none)."""
    from simaccel.frontends.hardware_toml import shipped_configs

    if Path(config).is_file():
        return _Input(str(Path(config).resolve()), _file_sha256(config))
    shipped = shipped_configs().get(config)
    if shipped is not None and shipped.is_file():
        return _Input(config, _file_sha256(str(shipped)))
    return _Input(config, hashlib.sha256(base.model_dump_json().encode()).hexdigest())


def _fingerprint(spec: SweepSpec, base: _Input, workloads: list[_Input]) -> dict[str, Any]:
    """What the journal's rows depend on (see `simaccel.sweep_journal`)."""
    doc: dict[str, Any] = {
        "schema": sweep_journal.SCHEMA, "base": {"config": base.name, "sha256": base.sha256},
        "workloads": [{"path": w.name, "sha256": w.sha256} for w in workloads],
        "mode": spec.mode}
    if spec.mode == "list":
        doc["points"] = spec.points
    else:
        doc["grid"] = spec.grid
    if spec.mode == "random":
        doc.update(samples=spec.samples, seed=spec.seed)
    return doc


def _rows(base: Hardware, prepared: dict, tasks: list[Task], workers: int,
          scheduler: str | Callable[[], Any] | None, point_timeout_s: float | None,
          runner: Callable[..., dict[str, Any]]) -> Iterator[dict[str, Any]]:
    if scheduler is not None:
        yield from _dask_rows(base, prepared, tasks, scheduler, runner)
    elif point_timeout_s is None and (workers <= 1 or len(tasks) <= 1):
        for task in tasks:
            yield runner(base, task, prepared[task.workload])
    else:
        from simaccel.sweep_pool import Lost, run_tasks

        outcomes = run_tasks(_run_task, (base, prepared, runner), [(t,) for t in tasks],
                             workers, point_timeout_s)
        for index, outcome in outcomes:
            yield _row(tasks[index], outcome.reason) if isinstance(outcome, Lost) else outcome


def _dask_rows(base: Hardware, prepared: dict, tasks: list[Task],
               scheduler: str | Callable[[], Any],
               runner: Callable[..., dict[str, Any]]) -> Iterator[dict[str, Any]]:
    from distributed import as_completed

    client = scheduler() if callable(scheduler) else _connect(scheduler)
    try:
        # hash=False: keys of this sweep's own, which no other client's release can drop
        shared = {w: client.scatter(p, broadcast=True, hash=False) for w, p in prepared.items()}
        futures = {client.submit(runner, base, task, shared[task.workload], pure=False): task
                   for task in tasks}
        try:
            for future in as_completed(futures):
                try:
                    row = future.result()
                except Exception as exc:  # noqa: BLE001 - a killed worker (KilledWorker)
                    row = _row(futures[future], f"{type(exc).__name__}: {exc}")
                yield row
        finally:
            client.cancel([*futures, *shared.values()])
    finally:
        if not callable(scheduler):
            client.close()


def _connect(address: str):
    """A Dask client of the scheduler at ``address``. Raises `InputError` naming
    ``--scheduler`` without Dask, for an unreachable scheduler or for a bad address."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler", "", "needs Dask: pip install 'simaccel[sweep]'") \
            from None
    try:
        return Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, ValueError) as exc:  # unreachable, or not an address ("bogus")
        raise InputError("--scheduler", "", f"cannot reach the Dask scheduler at "
                         f"{address!r}: {exc}") from None


# -- results ------------------------------------------------------------------------------

def read_results(path: str | Path):
    """A sweep's output (CSV or Parquet) as a pandas DataFrame sorted by key, ``error``
    empty for points that ran."""
    import pandas as pd

    path = Path(path)
    return _tidy(pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path))


def to_frame(rows: Iterable[dict[str, Any]], spec: SweepSpec):
    """Rows as a pandas DataFrame with the spec's columns, sorted by key."""
    import pandas as pd

    return _tidy(pd.DataFrame(list(rows), columns=columns(spec)))


def _tidy(frame):
    """Rows sorted by key, ``error`` empty (not NaN) for points that ran."""
    frame["error"] = frame["error"].astype(object).fillna("").astype(str)
    return frame.sort_values("key", kind="stable").reset_index(drop=True)


def _parse_argument(spec: Mapping[str, Any], where: str) -> SweepSpec:
    """``spec``, a dict given to ``where``, parsed; its problems name ``where`` and the
    parameter (``simaccel.sweep: spec.workloads: missing``)."""
    label = f"{where} spec"
    try:
        return parse_spec(spec, label)
    except InputError as exc:
        if exc.source != label:
            raise
        raise InputError(where, f"spec.{exc.field}" if exc.field else "spec",
                         exc.message) from None


def sweep(spec: SweepSpec | Mapping[str, Any] | str | Path, out: str | Path | None = None,
          workers: int = 1, scheduler: str | Callable[[], Any] | None = None, *,
          point_timeout_s: float | None = None, allow_large: bool = False):
    """Run a sweep (a `SweepSpec`, a dict as the TOML would decode, or a TOML path) and
    return its rows as a pandas DataFrame; with ``out``, the rows of earlier runs of the
    same output too. ``point_timeout_s`` and ``allow_large`` as in `execute`."""
    where = "simaccel.sweep"
    if isinstance(spec, str | Path):
        spec = load_spec(spec)
    elif isinstance(spec, Mapping):
        spec = _parse_argument(spec, where)
    elif not isinstance(spec, SweepSpec):
        raise InputError(where, "spec", "expected a sweep TOML path, a dict as the TOML "
                         f"decodes or a SweepSpec, got {type(spec).__name__}")
    if out is not None and (not isinstance(out, str | Path) or Path(out).suffix != ".csv"):
        raise InputError(where, "out", f"expected a .csv path (the sweep's journal), got "
                         f"{out!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(where, "workers", f"expected a whole number of processes ≥ 1, got "
                         f"{workers!r}")
    result = execute(spec, out, workers, scheduler, point_timeout_s=point_timeout_s,
                     allow_large=allow_large)
    if out is not None and Path(out).exists():
        return read_results(out)
    return to_frame(result.rows, spec)


def pareto_front(frame, objectives: list[str]):
    """The rows of ``frame`` that no other row beats on every objective (all minimised; to
    maximise a metric, minimise its negative). Failed points (NaN objectives) are left out."""
    import numpy as np

    ok = frame.dropna(subset=objectives)
    values = ok[objectives].to_numpy(dtype=float)
    dominated = np.zeros(len(values), dtype=bool)
    for i, row in enumerate(values):
        better_or_equal = (values <= row).all(axis=1)
        strictly_better = (values < row).any(axis=1)
        dominated[i] = (better_or_equal & strictly_better).any()
    return ok[~dominated]
