"""Partitioning as swept fields of a sweep spec (`simaccel.sweeps`): ``parallel`` (data,
tensor, pipeline or auto: how each point's model is laid over its system's chips,
`simaccel.partition.choose`) and ``batch`` (the inferences it serves, 1 unless given).
The chips are the hardware field ``system.chips``.

A spec that sweeps either gets the `COLUMNS` after the one-chip metrics; a spec that
sweeps neither has exactly the columns and row keys it had before (so its journals still
resume).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simaccel.domain import MAX_BATCH, PARALLEL

#: The fields a spec may sweep that are not hardware fields.
RUN_FIELDS = ("parallel", "batch")
#: Their values for a point that does not give them (in a spec where others do).
RUN_DEFAULTS = {"parallel": "auto", "batch": 1}
#: Columns of a spec that sweeps a run field: the kind chosen (auto: which won), the
#: chips, the batch's time (s), inferences per second (``batch`` runs of the model, each of
#: its input's batch: `simaccel.partition.inferences_per_s`), the communication's share of the
#: time (0..1) and the batch's energy (pJ, all chips).
COLUMNS = ("parallel_chosen", "parallel_chips", "parallel_batch_s",
           "parallel_inferences_per_s", "parallel_comm_share", "parallel_energy_pj")


def value_problem(key: str, value: Any) -> str | None:
    """Why ``value`` cannot be swept as run field ``key``, or None."""
    if key == "parallel":
        if value not in PARALLEL:
            return f"{value!r} is not one of {', '.join(PARALLEL)}"
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BATCH:
        return f"{value!r} is not a whole number of inferences in 1..{MAX_BATCH}"
    return None


def sweeps_runs(params: Mapping[str, Any]) -> bool:
    """Whether a point's ``params`` name a run field."""
    return any(k in RUN_FIELDS for k in params)


def split(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A point's ``params`` as (hardware fields, run fields)."""
    hardware = {k: v for k, v in params.items() if k not in RUN_FIELDS}
    return hardware, {k: v for k, v in params.items() if k in RUN_FIELDS}


def partition_row(report, run: Mapping[str, Any]) -> dict[str, Any]:
    """The `COLUMNS` of one point: ``report`` (one chip) laid over its system as ``run``
    says (``parallel``, default auto; ``batch``, default 1; `RUN_DEFAULTS`)."""
    from simaccel.partition import (
        batch_cycles,
        batch_energy_pj,
        choose,
        comm_share,
        inferences_per_s,
    )

    batch = run.get("batch", RUN_DEFAULTS["batch"])
    part, _ = choose(report, run.get("parallel", RUN_DEFAULTS["parallel"]), batch)
    cycles = batch_cycles(part, batch)
    seconds = cycles / (report.hardware.clock_mhz * 1e6)
    return {"parallel_chosen": part.parallel, "parallel_chips": part.chips,
            "parallel_batch_s": seconds,
            "parallel_inferences_per_s": inferences_per_s(report, part, batch),
            "parallel_comm_share": comm_share(part, batch),
            "parallel_energy_pj": batch_energy_pj(part, batch)}
