"""Sweeps of LLM inference: a grid of hardware fields and ``parallel`` (data, tensor,
pipeline, auto) over one LLM, one row per point (the model-file sweeps are
`simaccel.sweeps`; this is their counterpart for `simaccel.llm`).

    sweep_llm("llama2-7b", "tpu_v4_like_x8",
              {"parallel": ["data", "tensor", "pipeline"], "system.chips": [2, 4, 8]},
              batch=16, prompt=512, generate=64)

Keys other than ``parallel`` are dotted hardware fields, as `simaccel.hardware.vary` takes
them (``a+b`` sets both); a point that cannot run (a value the config refuses, a model that
fits no chip) keeps its message in ``error`` and the sweep goes on. Rows are in grid order
(keys sorted, the last varying fastest).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from simaccel.errors import InputError
from simaccel.hardware import Hardware, vary
from simaccel.llm_spec import LlmSpec

#: The special swept key: how the model is spread over the chips.
PARALLEL = "parallel"
#: Figures copied into each row (seconds, tokens/s, fractions, bytes).
METRICS = ("ttft_s", "tpot_s", "tokens_per_s", "total_s", "prefill_utilization",
           "decode_utilization", "prefill_comm_share", "decode_comm_share",
           "memory_per_chip_bytes")


def check_grid(grid: Mapping[str, Sequence[Any]], source: str = "grid") -> None:
    """Refuse an empty grid, a key that is neither ``parallel`` nor a hardware field, a
    key with no values, a value its field alone does not accept — a type or a bound, as a
    sweep spec's are (`simaccel.sweep_spec.key_value_problem`) — a value given twice, and
    two keys that set one field (`simaccel.hardware_keys`), before any point runs
    (`InputError` naming ``source`` and the key)."""
    from simaccel.hardware_keys import clash

    if not grid:
        raise InputError(source, "", "nothing to sweep")
    for key, values in grid.items():
        problem = _values_problem(key, values)
        if problem:
            raise InputError(source, key, problem)
    found = clash(grid)
    if found is not None:
        raise InputError(source, found.second, found.message(repr(found.first)))


def _values_problem(key: str, values: Sequence[Any]) -> str | None:
    """Why ``values`` cannot be swept as ``key`` on their own, or None."""
    from simaccel.llm_parallel import Parallel
    from simaccel.sweep_spec import _field_problem, key_value_problem

    if not values:
        return "no values to sweep"
    if key == PARALLEL:
        names = [p.value for p in Parallel]
        problems = [f"{v!r} is not one of {', '.join(names)}" for v in values
                    if v not in names]
    else:
        problems = [_field_problem(dotted.strip()) for dotted in key.split("+")]
        if not any(problems):  # a field's values are checked once the field is known
            problems += [key_value_problem(key, v) for v in values]
    # then, as the sweep spec refuses: the same point twice is a typo (8 and 8.0 are one:
    # the values checked above compare as their fields read them)
    problems += [f"{v!r} is given twice" for i, v in enumerate(values) if v in values[:i]]
    return next((p for p in problems if p), None)


def _check_parallel(parallel: str, grid: Mapping[str, Sequence[Any]], source: str) -> None:
    """Refuse a ``parallel`` that is no layout, or one given beside a swept ``parallel``
    (`InputError` naming ``parallel``: the CLI's ``--parallel``)."""
    from simaccel.llm_parallel import Parallel

    names = [p.value for p in Parallel]
    if parallel not in names:
        raise InputError("parallel", "", f"{parallel!r} is not one of {', '.join(names)}")
    if PARALLEL in grid and parallel != "auto":
        raise InputError("parallel", "", f"{parallel!r} beside a swept {PARALLEL} (in "
                         f"{source}): give the layouts once, as {PARALLEL}=...")


def _row(spec: LlmSpec, hw: Hardware, point: dict[str, Any], batch: int, prompt: int,
         generate: int, parallel: str = "auto") -> dict[str, Any]:
    from simaccel import llm, llm_report
    from simaccel.llm_parallel import Parallel

    row: dict[str, Any] = {**point, **dict.fromkeys(METRICS), "chosen": None, "error": ""}
    try:
        changes = {k: v for k, v in point.items() if k != PARALLEL}
        run = llm.infer(spec, vary(hw, changes) if changes else hw,
                        Parallel(point.get(PARALLEL, parallel)), batch, prompt, generate)
    except ValidationError as exc:
        first = exc.errors()[0]
        row["error"] = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        return row
    except InputError as exc:
        row["error"] = str(exc)[:300]
        return row
    d = llm_report.to_dict(run)
    decode = d["decode"] or {}
    row.update(ttft_s=d["ttft_s"], tpot_s=d["tpot_s"], tokens_per_s=d["tokens_per_s"],
               total_s=d["total_s"], prefill_utilization=d["prefill"]["utilization"],
               decode_utilization=decode.get("utilization"),
               prefill_comm_share=d["prefill"]["comm_share"],
               decode_comm_share=decode.get("comm_share"),
               memory_per_chip_bytes=d["memory"]["total_bytes"], chosen=d["parallel"])
    return row


def sweep_llm(config: str | LlmSpec, base: str | Hardware,
              grid: Mapping[str, Sequence[Any]], batch: int = 1, prompt: int = 128,
              generate: int = 32, *, source: str = "grid", parallel: str = "auto"):
    """One row per grid point (a pandas DataFrame): the point's values, `METRICS`, the
    layout ``chosen`` (what ``auto`` picked) and ``error``. ``parallel``: the layout of
    every point when the grid does not sweep ``parallel`` (data, tensor, pipeline, auto).
    ``config``: a config.json path, a shipped LLM name or an `LlmSpec`; ``base``: a
    shipped config name, a .toml path or a `Hardware`; ``source``: what a bad grid's
    message names (the CLI: ``--sweep``). Raises
    `InputError` for a bad grid (`check_grid`), config or base, or without pandas."""
    try:
        import pandas as pd
    except ImportError:
        raise InputError("--sweep", "", "a sweep's table needs pandas: pip install "
                         "'simaccel[sweep]'") from None

    import simaccel
    from simaccel.frontends.hf_config import load_llm

    check_grid(grid, source)
    _check_parallel(parallel, grid, source)
    spec = load_llm(config) if isinstance(config, str) else config
    hw = simaccel.load_hardware(base) if isinstance(base, str) else base
    keys = sorted(grid)
    rows = [_row(spec, hw, dict(zip(keys, values, strict=True)), batch, prompt, generate,
                 parallel)
            for values in itertools.product(*(grid[k] for k in keys))]
    return pd.DataFrame(rows)


def to_records(frame) -> list[dict[str, Any]]:
    """The rows of a `sweep_llm` frame as JSON-ready dicts (RFC 8259: a figure a failed
    point lacks, NaN in the frame, is None; numpy scalars are Python numbers)."""
    def plain(value: Any) -> Any:
        value = value.item() if hasattr(value, "item") else value
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
