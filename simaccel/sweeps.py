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
``samples`` distinct points of the grid with ``seed``. Paths are relative to the spec.

Each row holds the point's parameters, the workload, the report's totals (`METRICS`), the
energy and the area estimate; a point that fails (a buffer too small for one fold, a value
the config refuses) has its error in ``error`` and the sweep goes on. The workloads are
parsed, shaped and lowered once, in the parent; each task ships the small lowered form
(tens of KB) to a worker, which only tiles, simulates and reports.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import random
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simaccel.errors import InputError
from simaccel.frontends.validation import raise_input_error
from simaccel.hardware import Hardware, vary

#: Totals copied from each report into a row (units as in the report: cycles, bytes, s).
METRICS = ("cycles", "compute_cycles", "stall_cycles", "macs", "utilization",
           "mapping_efficiency", "dram_read_bytes", "dram_write_bytes", "latency_s",
           "inferences_per_s", "tops", "tops_per_w", "average_power_w")
#: How long to wait for a Dask scheduler to answer, seconds.
CONNECT_TIMEOUT_S = 10
#: Columns after the metrics: energy (pJ), area (mm²), and the error of a failed point.
EXTRA = ("energy_pj", "energy_dram_pj", "area_mm2", "array_mm2", "sram_mm2", "error")


class SweepSpec(BaseModel):
    """A validated sweep description (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = "sweep"
    base: str = "scalesim_default"
    workloads: list[str] = Field(min_length=1)
    mode: Literal["grid", "list", "random"] = "grid"
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    points: list[dict[str, Any]] = Field(default_factory=list)
    samples: int = Field(default=16, gt=0, le=1_000_000)
    seed: int = 0


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep TOML file; workload and base paths resolve next to it."""
    path = Path(path)
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(source, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(source, "", f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, "", f"not valid TOML: {exc}") from None
    spec = parse_spec(data, source)

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
        for dotted in key.split("+"):
            problem = _field_problem(dotted.strip())
            if problem:
                raise InputError(source, where, problem)
    for key, values in spec.grid.items():
        if not values:
            raise InputError(source, f"grid.{key!r}", "no values to sweep")
    return spec


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


def design_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """The parameter assignments of the sweep, in a stable order."""
    if spec.mode == "list":
        return [dict(p) for p in spec.points]
    keys = sorted(spec.grid)
    grid = [dict(zip(keys, values, strict=True))
            for values in itertools.product(*(spec.grid[k] for k in keys))]
    if spec.mode == "random" and spec.samples < len(grid):
        chosen = sorted(random.Random(spec.seed).sample(range(len(grid)), spec.samples))
        return [grid[i] for i in chosen]
    return grid


def point_key(params: Mapping[str, Any], workload: str) -> str:
    """A row's identity: its parameters and workload (what a resumed sweep skips by)."""
    return ";".join(f"{k}={params[k]}" for k in sorted(params)) + f"|{Path(workload).stem}"


# -- one point ------------------------------------------------------------------------------

def run_point(base: Hardware, params: Mapping[str, Any], workload: str,
              prepared) -> dict[str, Any]:
    """Simulate one point × workload (``prepared``: the workload's `Prepared` graph and
    kernels). A failure is recorded in the row's ``error``, never raised."""
    from simaccel.pipeline import run

    row: dict[str, Any] = {"key": point_key(params, workload),
                           "workload": Path(workload).stem, **params}
    try:
        report = run(prepared, vary(base, params), check=False).to_dict()
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
        row["error"] = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]
    return row


# -- running a sweep ----------------------------------------------------------------------

@dataclass
class SweepRun:
    """What a sweep did: the rows made now, how many were already in the output, and
    whether it was interrupted (Ctrl-C) before the end."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    interrupted: bool = False


def columns(spec: SweepSpec) -> list[str]:
    """The output's columns: key, workload, parameters, metrics, energy, area, error."""
    params = sorted({k for p in design_points(spec) for k in p})
    return ["key", "workload", *params, *METRICS, *EXTRA]


def _done_keys(out: Path | None) -> set[str]:
    """Keys of the rows already in ``out`` (failed ones too: they would fail again)."""
    if out is None or not out.exists() or out.stat().st_size == 0:
        return set()
    with out.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "key" not in reader.fieldnames:
            raise InputError(str(out), "", "exists but is not a simaccel sweep CSV (no 'key' "
                             "column); choose another --out")
        return {row["key"] for row in reader}


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
            progress: Callable[[int, int], None] | None = None) -> SweepRun:
    """Run the sweep. With ``out`` (a CSV path) each row is appended as it finishes and the
    points already there are skipped. ``scheduler`` is a Dask scheduler address, or a
    callable returning a ``distributed.Client``; otherwise a local process pool of
    ``workers`` processes (1: in this process). ``progress(done, total)`` follows along."""
    import simaccel

    base = simaccel.load_hardware(spec.base)
    prepared = prepare_workloads(spec)
    path = Path(out) if out is not None else None
    done = _done_keys(path)
    everything = [(params, w) for params in design_points(spec) for w in spec.workloads]
    tasks = [(p, w) for p, w in everything if point_key(p, w) not in done]
    result = SweepRun(skipped=len(everything) - len(tasks))
    if progress:
        progress(0, len(tasks))
    handle = None
    try:
        if path is not None:
            new = not path.exists() or path.stat().st_size == 0
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = path.open("a", newline="", encoding="utf-8")
            writer = csv.DictWriter(handle, fieldnames=columns(spec), extrasaction="ignore")
            if new:
                writer.writeheader()
        for row in _rows(base, prepared, tasks, workers, scheduler):
            result.rows.append(row)
            if handle is not None:
                writer.writerow(row)
                handle.flush()
            if progress:
                progress(len(result.rows), len(tasks))
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        if handle is not None:
            handle.close()
    return result


def _rows(base: Hardware, prepared: dict, tasks: list, workers: int,
          scheduler: str | Callable[[], Any] | None) -> Iterator[dict[str, Any]]:
    if scheduler is not None:
        yield from _dask_rows(base, prepared, tasks, scheduler)
    elif workers <= 1 or len(tasks) <= 1:
        for params, workload in tasks:
            yield run_point(base, params, workload, prepared[workload])
    else:
        yield from _pool_rows(base, prepared, tasks, workers)


def _pool_rows(base: Hardware, prepared: dict, tasks: list,
               workers: int) -> Iterator[dict[str, Any]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # forkserver/spawn: a fork of a process that runs threads (Dask, a notebook) may hang
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(max_workers=workers,
                               mp_context=multiprocessing.get_context(method))
    futures = [pool.submit(run_point, base, params, w, prepared[w]) for params, w in tasks]
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:  # on Ctrl-C: drop what has not started, keep what finished
        pool.shutdown(wait=True, cancel_futures=True)


def _dask_rows(base: Hardware, prepared: dict, tasks: list,
               scheduler: str | Callable[[], Any]) -> Iterator[dict[str, Any]]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InputError("--scheduler", "", "needs Dask: pip install 'simaccel[sweep]'") \
            from None
    try:
        client = scheduler() if callable(scheduler) else Client(
            scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    except OSError as exc:
        raise InputError("--scheduler", "", f"cannot reach the Dask scheduler at "
                         f"{scheduler!r}: {exc}") from None
    try:
        # hash=False: keys of this sweep's own, which no other client's release can drop
        shared = {w: client.scatter(p, broadcast=True, hash=False) for w, p in prepared.items()}
        futures = [client.submit(run_point, base, params, w, shared[w], pure=False)
                   for params, w in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            client.cancel([*futures, *shared.values()])
    finally:
        if not callable(scheduler):
            client.close()


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


def sweep(spec: SweepSpec | Mapping[str, Any] | str | Path, out: str | Path | None = None,
          workers: int = 1, scheduler: str | Callable[[], Any] | None = None):
    """Run a sweep (a `SweepSpec`, a dict as the TOML would decode, or a TOML path) and
    return its rows as a pandas DataFrame; with ``out``, the rows of earlier runs of the
    same output too."""
    if isinstance(spec, str | Path):
        spec = load_spec(spec)
    elif not isinstance(spec, SweepSpec):
        spec = parse_spec(spec)
    result = execute(spec, out, workers, scheduler)
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
