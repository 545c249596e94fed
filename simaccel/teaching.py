"""Helpers for the teaching labs (``notebooks/``): judging a student's answer against an
expected figure without ever showing that figure, and the building blocks the labs use.

``check(answer, expected)`` says *correct* or raises ``AssertionError`` saying how the answer
is wrong: for a number, the direction (too high / too low) and a rough band of how far (within
10%, 10–50%, 50–100%, a factor of 2–10, more than 10); for anything else, only that it is not right.
The expected value never appears in the message, so a lab's grader (``simaccel.grading``) can
hand it to ``check`` without giving the answer away.

Answers are compared type-robustly: numpy scalars and 0-d arrays count as the Python numbers
they hold, strings compare case- and surrounding-space-insensitively (``"WS"`` is ``"ws"``),
and any sequence (tuple, list, numpy array) compares element by element with the others, each
element under the same rules.

The building blocks (``gemm_model``, ``conv_model``, ``model_from_dict``, ``ideal_hardware``,
``first_layer``, ``tile_plan``, ``tile_budget``, ``cycles_with_plan``, ``with_resident``,
``memory_traffic``) are public: students call them, and they keep the notebooks off the
pipeline's internals.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

#: The bands of relative error a wrong number is reported in (upper edge, words). Coarse on
#: purpose: a student learns whether a correction is small or large, not the value.
_BANDS = ((0.1, "within 10%"), (0.5, "off by 10–50%"), (1.0, "off by 50–100%"),
          (10.0, "off by a factor of 2–10"), (math.inf, "off by more than a factor of 10"))


@dataclass(frozen=True)
class Tolerance:
    """How close a numeric answer must be: ``|answer − expected| ≤ max(abs, rel·|expected|)``.

    ``Tolerance()`` is an exact match (integers: folds, cycles, bytes). Non-numeric answers
    ignore it."""

    rel: float = 0.0
    abs: float = 0.0

    def accepts(self, answer: float, expected: float) -> bool:
        """True when ``answer`` is within this tolerance of ``expected`` (both finite reals)."""
        return abs(answer - expected) <= max(self.abs, self.rel * abs(expected))


def normalise(value: object) -> object:
    """``value`` in the form answers compare in: a numpy scalar or 0-d array becomes the
    Python ``bool``/``int``/``float`` it holds, a string is stripped and lower-cased, any other
    sequence (tuple, list, n-d array) becomes a tuple of normalised elements."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    elif hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, Sequence):
        return tuple(normalise(v) for v in value)
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def verdict(answer: object, expected: object, tolerance: Tolerance | None = None) -> str | None:
    """``None`` when ``answer`` matches ``expected`` under ``tolerance``; otherwise a short
    phrase saying how it is wrong that never contains the expected value."""
    tolerance = tolerance or Tolerance()
    answer, expected = normalise(answer), normalise(expected)
    if _is_number(answer) and _is_number(expected):
        if math.isfinite(answer) and tolerance.accepts(answer, expected):
            return None
        return _how_far(float(answer), float(expected))
    if isinstance(answer, tuple) and isinstance(expected, tuple):
        if len(answer) != len(expected):
            return f"not right: your answer has {len(answer)} entries, it needs a different number"
        wrong = [i for i, (a, e) in enumerate(zip(answer, expected, strict=True))
                 if verdict(a, e, tolerance) is not None]
        return None if not wrong else (
            f"not right: {len(wrong)} of {len(expected)} entries are wrong")
    return None if answer == expected else "not right"


def _how_far(answer: float, expected: float) -> str:
    if not math.isfinite(answer):
        return "not right: your answer is not a finite number"
    direction = "too high" if answer > expected else "too low"
    if expected == 0:
        return f"not right: {direction}"
    if (answer > 0) != (expected > 0) and answer != 0:
        return f"not right: {direction}, and the sign is wrong"
    ratio = max(abs(answer), abs(expected)) / max(min(abs(answer), abs(expected)), 1e-300)
    error = ratio - 1
    band = next(words for edge, words in _BANDS if error <= edge)
    return f"not right: {direction}, {band}"


def check(answer: object, expected: object, *, rel: float = 0.0, abs: float = 0.0,  # noqa: A002
          hint: str = "") -> None:
    """Print ``correct`` when ``answer`` matches ``expected`` (numbers within
    ``Tolerance(rel, abs)``, strings and sequences as :func:`verdict` says); otherwise raise
    ``AssertionError`` with the direction and rough size of the error and ``hint`` — never
    the expected value. ``None`` or ``...`` (no answer yet) raises ``AssertionError`` too."""
    if answer is None or answer is Ellipsis:
        raise AssertionError("no answer yet: replace the ... with yours"
                             + (f" (hint: {hint})" if hint else ""))
    wrong = verdict(answer, expected, Tolerance(rel=rel, abs=abs))
    if wrong is not None:
        raise AssertionError(wrong + (f" (hint: {hint})" if hint else ""))
    print("correct")


# --- Building blocks the labs use (public: students may call these) -----------------------

def gemm_model(m: int, k: int, n: int, *, bias: bool = False, name: str = "fc"):
    """A one-layer ``Model`` that is exactly one GEMM: an ``m × k`` input times a ``k × n``
    dense layer (int8 on the accelerator, so the operands are m·k and k·n bytes).

    Raises ``InputError`` (naming the field) for a non-positive extent."""
    from simaccel.frontends.model_json import parse_model
    return parse_model({
        "format": "simaccel-model/1", "name": f"{name}_{m}x{k}x{n}",
        "inputs": [{"name": "a", "shape": [m, k]}],
        "layers": [{"name": name, "op": "dense", "inputs": ["a"], "units": n, "bias": bias}],
    }, source="<teaching.gemm_model>")


def conv_model(h: int, w: int, c_in: int, filters: int, kernel: int | list[int], *,
               padding: str = "same", name: str = "conv", batch: int = 1):
    """A one-layer ``Model``: a stride-1 conv2d of ``filters`` filters of size ``kernel`` on a
    ``batch × h × w × c_in`` input (NHWC). Its GEMM is M = batch · output pixels,
    K = kh·kw·c_in, N = filters. Raises ``InputError`` for a bad shape."""
    from simaccel.frontends.model_json import parse_model
    return parse_model({
        "format": "simaccel-model/1", "name": name,
        "inputs": [{"name": "x", "shape": [batch, h, w, c_in]}],
        "layers": [{"name": name, "op": "conv2d", "inputs": ["x"], "filters": filters,
                    "kernel": kernel, "padding": padding}],
    }, source="<teaching.conv_model>")


def ideal_hardware(rows: int, cols: int, dataflow: str = "os"):
    """A ``rows × cols`` array with memory out of the way: unlimited DRAM bandwidth, no DRAM
    latency and 8 MiB buffers, so every cycle simulated is a cycle of the array's own
    arithmetic (fill + stream + drain). Raises ``InputError`` for a bad size or dataflow."""
    from simaccel.frontends.hardware_toml import parse_hardware
    return parse_hardware({
        "name": f"ideal_{rows}x{cols}", "clock_mhz": 1000,
        "array": {"rows": rows, "cols": cols, "dataflow": dataflow},
        "sram": {"ifmap_kib": 8192, "filter_kib": 8192, "ofmap_kib": 8192},
        "dram": {"bytes_per_cycle": float("inf"), "latency_ns": 0},
        "vector": {"lanes": 8},
    }, "<teaching.ideal_hardware>")


def first_layer(model, hw) -> dict:
    """The report row (``report.json``'s ``layers[0]``) of ``model`` simulated on ``hw``,
    without the numerics check (it does not change timing). ``model`` is a `Model` or model
    file path, ``hw`` a `Hardware`, shipped name or config path (as for every function here);
    a bad one is an ``InputError`` naming the function and the parameter."""
    from simaccel.pipeline import simulate
    loaded, chip = _model_and_hardware(model, hw, "first_layer")
    return simulate(loaded, chip, check=False).to_dict()["layers"][0]


def _model_and_hardware(model: object, hw: object, name: str):
    """``model`` and ``hw`` checked and loaded in that order (`simaccel.api_args`), refusals
    naming ``simaccel.teaching.<name>``."""
    from simaccel import api_args
    where = f"simaccel.teaching.{name}"
    return api_args.model(model, where), api_args.hardware(hw, where)


def memory_traffic(model, hw) -> dict[str, dict[str, int]]:
    """Bytes the first layer of ``model`` moves at each level of ``hw``'s memory, by operand:
    ``{"ifmap": {"read": …, "write": …}, "filter": …, "ofmap": …, "dram": …}``. An operand's
    ``read`` is what the array reads from the on-chip memory holding it (the ofmap's: partial
    sums read back and outputs drained), its ``write`` what is written there (DMA fills;
    partial sums and outputs); ``dram`` is the layer's DRAM reads and writes. These are the
    byte counts the energy model prices (``energy_pj.sram`` = Σ bytes × pJ/byte)."""
    from simaccel.domain import Operand
    from simaccel.pipeline import simulate
    loaded, chip = _model_and_hardware(model, hw, "memory_traffic")
    traffic = simulate(loaded, chip, check=False).results.layers[0].traffic
    levels = {op.value: dict(zip(("read", "write"), traffic.sram_bytes(op), strict=True))
              for op in Operand}
    levels["dram"] = {"read": traffic.dram_read_bytes, "write": traffic.dram_write_bytes}
    return levels


def model_from_dict(doc: dict, name: str = "<lab>", base_dir=None):
    """A ``Model`` from a ``simaccel-model/1`` document given as a dict (the contents of a
    model.json, ``docs/formats.md``); ``base_dir`` is the folder a relative ``weights`` path
    is read from. Raises ``InputError`` naming ``name`` and the field."""
    from simaccel.frontends.model_json import parse_model
    return parse_model(doc, source=name, base_dir=base_dir)


def tile_plan(model, hw):
    """The ``TilePlan`` (``tm``, ``tk``, ``tn`` elements, loop ``order`` "mnk"/"nmk") the tiler
    chooses on ``hw`` for the first GEMM of ``model``: what ``simulate`` runs.
    Raises ``InputError`` naming ``model`` (also if it has no GEMM) or ``hw``."""
    from simaccel.errors import InputError
    from simaccel.kernels import GemmKernel
    from simaccel.pipeline import prepare
    from simaccel.tiling import plan_gemm_tiles
    model, hw = _model_and_hardware(model, hw, "tile_plan")
    gemm = next((k for k in prepare(model).kernels if isinstance(k, GemmKernel)), None)
    if gemm is None:
        raise InputError("simaccel.teaching.tile_plan", "model",
                         f"model {model.name!r} has no GEMM layer")
    return plan_gemm_tiles(gemm, hw)


def tile_budget(hw) -> dict[str, int]:
    """Bytes one tile may use of each SRAM buffer (``"ifmap"``, ``"filter"``, ``"ofmap"``):
    the buffer, or half of it when double-buffered. ``hw``: a `Hardware`, shipped name or
    config path; raises ``InputError`` naming ``hw`` otherwise."""
    from simaccel import api_args
    from simaccel.domain import Operand
    from simaccel.tiling import buffer_bytes
    hw = api_args.hardware(hw, "simaccel.teaching.tile_budget")
    return {op.value: buffer_bytes(hw, op) for op in Operand}


def cycles_with_plan(model, hw, tm: int, tk: int, tn: int, order: str = "mnk") -> int:
    """Cycles of ``model``'s single GEMM layer on ``hw`` when tiled ``tm × tk × tn`` (elements)
    in loop ``order``, instead of the plan the tiler would choose: to time a plan it turned
    down. Raises ``InputError`` naming ``model`` (also one that is not one GEMM layer),
    ``hw``, ``tm``, ``tk``, ``tn`` (whole numbers in 1..2²⁰) or ``order``."""
    from simaccel import api_args, engine
    from simaccel.errors import InputError
    from simaccel.kernels import GemmKernel
    from simaccel.mapping import compile_program
    from simaccel.model import MAX_DIM
    from simaccel.pipeline import input_elements, prepare
    from simaccel.schedule import LayerSchedule, Schedule, Unit, gemm_tiles
    from simaccel.systolic import plan_folds
    from simaccel.tiling import ORDERS, TilePlan
    where = "simaccel.teaching.cycles_with_plan"
    model, hw = _model_and_hardware(model, hw, "cycles_with_plan")
    tm, tk, tn = (api_args.count(v, where, f, 1, MAX_DIM)
                  for f, v in (("tm", tm), ("tk", tk), ("tn", tn)))
    order = api_args.choice(order, where, "order", ORDERS)
    prepared = prepare(model)
    if len(prepared.kernels) != 1 or not isinstance(prepared.kernels[0], GemmKernel):
        raise InputError(where, "model", f"model {model.name!r} is not one GEMM layer")
    kernel, plan = prepared.kernels[0], TilePlan(1, tm, tk, tn, order)
    work = LayerSchedule(kernel=kernel, unit=Unit.ARRAY, plan=plan_folds(kernel, hw.array),
                         tiles=gemm_tiles(kernel, plan, hw), tiling=plan)
    program, _ = compile_program(Schedule(hw, (work,)), input_elements(prepared.graph),
                                 [kernel.name])
    return engine.run(program, trace=False).cycles


def with_resident(hw, kib: float):
    """``hw`` (split ``[sram]`` buffers) with the same streaming buffers plus ``kib`` KiB in
    the input memory where activations may stay between layers (``[[memories]]`` in
    docs/formats.md: a resident ``unified_buffer`` holding ifmap tiles, a ``weight_buffer``,
    ``accumulators``). Raises ``InputError`` naming ``hw`` or ``kib`` (a number of KiB
    ≥ 0), or a size the config refuses."""
    import math

    from simaccel import api_args
    from simaccel.errors import InputError
    from simaccel.frontends.hardware_toml import parse_hardware
    where = "simaccel.teaching.with_resident"
    hw = api_args.hardware(hw, where)
    if isinstance(kib, bool) or not isinstance(kib, int | float) or not (
            math.isfinite(kib) and kib >= 0):
        raise InputError(where, "kib", f"expected a size in KiB (a number ≥ 0), got {kib!r}")
    config = hw.model_dump(mode="json", exclude_none=True)
    config.update(
        name=f"{hw.name} + {kib:g} KiB resident",
        sram={"double_buffered": hw.sram.double_buffered},   # sizes come from the memories
        memories=[
            {"name": "unified_buffer", "kib": hw.sram.ifmap_kib + kib, "holds": ["ifmap"],
             "resident": True, "stream_kib": hw.sram.ifmap_kib},
            {"name": "weight_buffer", "kib": hw.sram.filter_kib, "holds": ["filter"]},
            {"name": "accumulators", "kib": hw.sram.ofmap_kib, "holds": ["ofmap"]},
        ])
    return parse_hardware(config, "<teaching.with_resident>")
