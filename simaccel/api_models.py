"""Public functions on one model and one chip, beyond ``simulate`` and ``compile``: what a
network lowers to, its batch, pruning, a sweep's design points, the area and energy tables
and the fold formula. Each is a thin, checked entry to the module that holds the logic
(`simaccel.pipeline`, `simaccel.training_run`, `simaccel.pruning`, `simaccel.sweep_spec`,
`simaccel.area`, `simaccel.energy`, `simaccel.systolic`); bad arguments raise `InputError`
naming the function and the parameter. Reached as ``simaccel.<name>`` (docs/teaching.md,
"What students may use").

The tables are the modules' own objects, exported under public names:

* ``DATAFLOW_MAPPING``: per `Dataflow`, the GEMM dimensions (of m, k, n) on the array's rows,
  on its columns, and streamed (`simaccel.systolic.MAPPING`; SCALE-Sim 3.0.0's convention);
* ``AREA_PRESETS``: mm² per PE, per KiB of SRAM and per vector lane (`simaccel.area.PRESETS`,
  from the TPU v1 floor plan, Jouppi et al., ISCA 2017);
* ``ENERGY_PRESETS``: pJ per action (`simaccel.energy.PRESETS`: Horowitz, ISSCC 2014, and
  Eyeriss's ratios, Chen et al., ISCA 2016).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simaccel import api_args
from simaccel.area import PRESETS as AREA_PRESETS
from simaccel.domain import MAX_BATCH
from simaccel.energy import PRESETS as ENERGY_PRESETS
from simaccel.errors import InputError
from simaccel.model import MAX_DIM
from simaccel.systolic import MAPPING as DATAFLOW_MAPPING

__all__ = ["AREA_PRESETS", "DATAFLOW_MAPPING", "ENERGY_PRESETS", "design_points",
           "energy_table", "estimate_area", "fold_cycles", "lower", "prune", "with_batch"]

#: The largest batch, fold stream and array side accepted: the bound the model loader puts
#: on a tensor dimension (`simaccel.model.MAX_DIM`, 2²⁰).
MAX_DIMENSION = MAX_DIM


def lower(model) -> tuple:
    """The kernels ``model`` (a `Model` or a model file) lowers to, in execution order:
    `GemmKernel` (``m``, ``k``, ``n``, ``groups``, ``macs``, element counts of ifmap, filter and
    ofmap, ``sparsity`` of its weights) and `VectorKernel` (``elements``, ``ops_per_element``),
    as ``simaccel show`` lists them. Raises `InputError` for a bad model."""
    from simaccel.pipeline import prepare

    return prepare(api_args.model(model, "simaccel.lower")).kernels


def with_batch(model, batch: int):
    """``model`` with its inputs' first (batch) dimension set to ``batch`` (sequences or
    images), reshapes along with it. Raises `InputError` naming ``model``, or ``batch``
    unless it is a whole number in 1..65536 (`simaccel.domain.MAX_BATCH`, the CLI's bound)."""
    from simaccel.training_run import with_batch as _with_batch

    where = "simaccel.with_batch"
    return _with_batch(api_args.model(model, where),
                       api_args.count(batch, where, "batch", 1, MAX_BATCH))


def prune(model, method: str, *, sparsity: float | None = None, pattern: str | None = None):
    """``model`` with its conv and dense kernels pruned, as ``simaccel prune`` writes it:
    ``method="magnitude"`` zeroes the share ``sparsity`` (0 ≤ s < 1) of the smallest |w| of each
    layer; ``method="nm"`` keeps the ``pattern`` (``"2:4"``) largest of every run along K. The
    weights are the model's (its .npz) or drawn from its seed. Raises `InputError` naming
    ``method``, ``sparsity`` or ``pattern``."""
    from simaccel.graph import build_graph
    from simaccel.pruning import Pruning, parse_pattern, with_weight_density

    where = "simaccel.prune"
    loaded = api_args.model(model, where)
    if api_args.choice(method, where, "method", ("magnitude", "nm")) == "magnitude":
        if pattern is not None or isinstance(sparsity, bool) \
                or not isinstance(sparsity, int | float) or not 0 <= sparsity < 1:
            raise InputError(where, "sparsity", f"magnitude pruning needs a sparsity in "
                             f"[0, 1) and no pattern, got sparsity={sparsity!r}")
        how = Pruning("magnitude", sparsity=float(sparsity))
    else:
        if sparsity is not None or not isinstance(pattern, str):
            raise InputError(where, "pattern", f"N:M pruning needs a pattern such as '2:4' "
                             f"and no sparsity, got pattern={pattern!r}")
        try:
            how = Pruning("nm", pattern=parse_pattern(pattern))
        except ValueError as exc:
            raise InputError(where, "pattern", str(exc)) from None
    return with_weight_density(loaded, build_graph(loaded), how)


def design_points(spec: Mapping[str, Any] | str | Path) -> list[dict[str, Any]]:
    """The design points a sweep spec (a dict as the TOML decodes, or a TOML path) runs, in
    its order: each a dict of dotted config field -> value, as `simaccel.vary` takes it.
    Raises `InputError` naming the spec's bad field."""
    from simaccel.sweep_spec import design_points as _points
    from simaccel.sweep_spec import load_spec, parse_spec

    if isinstance(spec, str | Path):
        return _points(load_spec(spec))
    if not isinstance(spec, Mapping):
        raise InputError("simaccel.design_points", "spec", "expected a dict or a TOML path, "
                         f"got {type(spec).__name__}")
    return _points(parse_spec(spec, "simaccel.design_points(spec)"))


def estimate_area(hw):
    """The estimated area of ``hw`` (a `Hardware`, a shipped name or a config path) as an
    `Area`: ``array_mm2``, ``sram_mm2``, ``vector_mm2`` and ``total_mm2`` (mm², every core),
    from its ``[area]`` figures (`AREA_PRESETS`). Raises `InputError` for a bad ``hw``."""
    from simaccel.area import area

    return area(api_args.hardware(hw, "simaccel.estimate_area"))


def energy_table(hw):
    """The energy figures ``hw`` (a `Hardware`, a shipped name or a config path) is priced
    with, as an `EnergyTable`: ``mac_pj`` (pJ per MAC in its input type),
    ``dram_pj_per_byte``, ``memory_pj_per_byte`` (pJ per byte of each on-chip memory),
    ``vector_pj_per_op`` and ``static_mw`` (mW of leakage). Raises `InputError` for a bad
    ``hw``."""
    from simaccel.energy import energy_table as _table

    return _table(api_args.hardware(hw, "simaccel.energy_table"))


def fold_cycles(dataflow, stream: int, rows: int, cols: int) -> int:
    """Cycles of one fold on a ``rows`` × ``cols`` array under ``dataflow`` (``"os"``,
    ``"ws"``, ``"is"`` or a `Dataflow`) streaming ``stream`` elements: the stream plus fill and
    drain (OS: ``stream + rows + cols − 2``; WS and IS: ``stream + 2·rows + cols − 2``;
    README, "How time is modelled"). Raises `InputError` naming the bad argument."""
    from simaccel.domain import Dataflow
    from simaccel.systolic import fold_cycles as _fold

    where = "simaccel.fold_cycles"
    flow = Dataflow(api_args.choice(dataflow, where, "dataflow", [d.value for d in Dataflow]))
    return _fold(flow, api_args.count(stream, where, "stream", 1, MAX_DIMENSION),
                 api_args.count(rows, where, "rows", 1, MAX_DIMENSION),
                 api_args.count(cols, where, "cols", 1, MAX_DIMENSION))
