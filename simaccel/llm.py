"""LLM inference on a system of chips: prefill and decode of a decoder-only model under data,
tensor or pipeline parallelism (docs/architecture.md, "LLM inference").

Each distinct piece of work is simulated once by the normal pipeline (`simaccel.simulate`):
one chip's share of one decoder layer — all layers of a decoder are identical, so a
phase's layer time is that one layer's cycles × the layers a chip runs, never 96
simulations — and one chip's share of the LM head. Communication is timed by the link engine
on the system's topology (each collective by the faster of the ring and the tree
algorithm): two all-reduces per layer under tensor parallelism, the logits' all-gather, a
point-to-point transfer per stage boundary under pipelining; it does not overlap compute
(synchronous, as in Megatron-LM's inference).

Decode: step j (1 … generate − 1) processes one token per sequence against a context of
prompt + j keys. Only attention depends on the context, linearly in both MACs and KV bytes,
so a step's time is close to affine in the context: the steps are timed at the first and the
last context and summed by the trapezoid rule (exact for an affine step time), and a third
simulation at the middle context measures the error of that assumption
(``decode_interpolation_error``: |t(mid) − (t(first) + t(last)) / 2| / t(mid)).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import lru_cache

from simaccel import link_engine
from simaccel.collectives import Algorithm, Collective, Message, TooManyMessages, plan
from simaccel.engine import TraceEvent
from simaccel.errors import InputError
from simaccel.hardware import Hardware
from simaccel.llm_layers import Shard, head_model, layer_model
from simaccel.llm_parallel import Footprint, Layout, Parallel, footprint, layout
from simaccel.llm_spec import LlmSpec
from simaccel.network import Network, system_network
from simaccel.pipeline import simulate


@dataclass(frozen=True)
class Piece:
    """One simulated model on one chip: its cycles, MACs, DRAM bytes, per core the cycles
    its array was busy, and its engine trace."""

    cycles: int
    macs: int
    dram_bytes: int
    core_busy: tuple[int, ...]
    trace: tuple[TraceEvent, ...]


@dataclass(frozen=True)
class Comm:
    """Communication of one step on the links: cycles on the critical path, and per link
    (in `Network.links` order) busy cycles and bytes; a trace of one instance. A sum
    runs its terms one after the other: the second's trace starts where the first's
    ends (``times`` keeps one instance's trace, so a sum's trace shows one of each)."""

    cycles: int = 0
    link_busy: tuple[int, ...] = ()
    link_bytes: tuple[int, ...] = ()
    trace: tuple[TraceEvent, ...] = ()

    def times(self, n: int) -> Comm:
        return Comm(self.cycles * n, tuple(b * n for b in self.link_busy),
                    tuple(b * n for b in self.link_bytes), self.trace)

    def __add__(self, other: Comm) -> Comm:
        def add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
            return tuple(x + y for x, y in zip(a or (0,) * len(b), b or (0,) * len(a),
                                               strict=True))
        # the timing adds ``other`` after ``self``: so does the trace (one track a link
        # never holds two slices at once), from where the instance traced ends
        after = max((e.end for e in self.trace), default=self.cycles)
        later = tuple(dataclasses.replace(e, start=e.start + after, end=e.end + after)
                      for e in other.trace)
        return Comm(self.cycles + other.cycles, add(self.link_busy, other.link_busy),
                    add(self.link_bytes, other.link_bytes), self.trace + later)


@dataclass(frozen=True)
class Step:
    """One prefill or one decode step on the busiest chip: ``cycles`` in all, of which
    ``comm`` on the links; ``compute_cycles`` the chip's own work; MACs of the whole system;
    the DRAM bytes one chip reads and writes; per core the array's busy cycles."""

    cycles: int
    compute_cycles: int
    comm: Comm
    macs: int
    dram_bytes: int
    core_busy: tuple[int, ...]
    bubble: float = 0.0  #: pipeline: the share of stage-slots idle
    layer: Piece | None = field(default=None, compare=False)


#: Simulated pieces by (spec, hardware as JSON, shard, head): configs are not hashable.
_PIECES: dict[tuple, Piece] = {}


def _simulate(spec: LlmSpec, hw: Hardware, shard: Shard | None, head: tuple | None) -> Piece:
    """The `Piece` of a layer shard or of the head (batch, vocab, cores), simulated once
    per hardware and shape."""
    key = (spec, hw.model_dump_json(), shard, head)
    if key not in _PIECES:
        model = layer_model(spec, shard) if shard is not None else head_model(spec, *head)
        report = simulate(model, hw, check=False)
        total = report.results.total
        busy = [0] * hw.chip.cores
        for e in report.results.trace:
            core, _, unit = e.unit.rpartition(".")
            if unit == "array":
                busy[int(core[1:]) if core else 0] += e.end - e.start
        _PIECES[key] = Piece(total.cycles, total.macs,
                             total.traffic.dram_read_bytes + total.traffic.dram_write_bytes,
                             tuple(busy), report.results.trace)
    return _PIECES[key]


def _collective(hw: Hardware, collective: Collective, p: int, nbytes: int) -> Comm:
    """``collective`` of ``nbytes`` among the first ``p`` chips of the ring order, by the
    faster of the ring and the tree algorithm (as NCCL chooses by size: the tree's
    2⌈log₂p⌉ latencies win for small messages, the ring's bandwidth for large)."""
    if p < 2 or nbytes == 0:
        return Comm()
    network = system_network(hw)
    timed, too_big = [], None
    for algorithm in Algorithm:
        try:
            timed.append(_collective_cached(network, collective, algorithm, p, nbytes))
        except TooManyMessages as exc:  # too large to time message by message
            too_big = exc
        except ValueError:  # no such algorithm for this collective or node count
            continue
    if not timed:
        raise InputError(*hw.where("system.chips"), str(too_big) if too_big else
                         f"no algorithm times {collective.value} among {p} chips") from None
    return min(timed, key=lambda comm: comm.cycles)


@lru_cache(maxsize=512)
def _collective_cached(network: Network, collective: Collective, algorithm: Algorithm,
                       p: int, nbytes: int) -> Comm:
    messages = plan(collective, algorithm, p, nbytes)
    run = link_engine.run(network, messages, order=network.ring_order()[:p])
    return Comm(run.cycles, run.link_busy_cycles, run.link_bytes, run.trace)


def clear_cache() -> None:
    """Forget the simulated pieces and collectives (benchmarks time a cold run)."""
    _PIECES.clear()
    _collective_cached.cache_clear()


def _point_to_point(hw: Hardware, nbytes: int) -> Comm:
    """One stage boundary: chip 0 to its neighbour (every boundary alike on a ring)."""
    network = system_network(hw)
    order = network.ring_order()
    if len(order) < 2 or nbytes == 0:
        return Comm()
    run = link_engine.run(network, [Message(0, 0, 1, nbytes)], order=order)
    return Comm(run.cycles, run.link_busy_cycles, run.link_bytes, run.trace)


def step(spec: LlmSpec, hw: Hardware, lay: Layout, tokens: int, context: int) -> Step:
    """One step — the prefill (``tokens`` = the prompt) or one decode step (``tokens`` = 1)
    — of every sequence, attending to ``context`` keys."""
    shard = lay.shard(spec, hw, tokens, context)
    piece = _simulate(spec, hw, shard, None)
    vocab = math.ceil(spec.vocab / lay.tensor)
    head = _simulate(spec, hw, None, (lay.batch, vocab, hw.chip.cores))
    size = hw.dtypes.input.bytes
    activations = lay.batch * tokens * spec.hidden * size
    per_layer = _collective(hw, Collective.ALL_REDUCE, lay.tensor, activations).times(2)
    logits = _collective(hw, Collective.ALL_GATHER, lay.tensor, lay.batch * spec.vocab * size)
    stage = piece.cycles * lay.stage_layers
    if lay.stages > 1:
        hop = _point_to_point(hw, activations)
        slots = (lay.micro_batches + lay.stages - 1) if tokens > 1 else max(
            lay.micro_batches, lay.stages)
        comm = hop.times(slots)
        compute = slots * stage + lay.micro_batches * head.cycles  # the last stage's head
        work = lay.micro_batches * lay.stages
        bubble = 1 - work / (slots * lay.stages)
    else:
        comm = per_layer.times(spec.layers) + logits
        compute, bubble = stage + head.cycles, 0.0
    # MACs of the whole system: every micro-batch through every layer, or every chip's share
    copies = lay.micro_batches if lay.stages > 1 else lay.chips
    macs = (piece.macs * spec.layers + head.macs) * copies
    core_busy = tuple(b * lay.stage_layers * (lay.micro_batches if lay.stages > 1 else 1) + h
                      for b, h in zip(piece.core_busy, head.core_busy, strict=True))
    return Step(cycles=compute + comm.cycles, compute_cycles=compute, comm=comm, macs=macs,
                dram_bytes=piece.dram_bytes * lay.stage_layers + head.dram_bytes,
                core_busy=core_busy, bubble=bubble, layer=piece)


@dataclass(frozen=True)
class Decode:
    """The decode phase: ``steps`` steps of ``mean`` (a `Step` with the mean cycles and
    MACs of the first and last), and the measured error of the trapezoid rule."""

    steps: int
    mean: Step | None
    interpolation_error: float


def decode(spec: LlmSpec, hw: Hardware, lay: Layout, prompt: int, generate: int) -> Decode:
    """The ``generate − 1`` decode steps after the prefill (which yields the first token)."""
    steps = generate - 1
    if steps <= 0:
        return Decode(0, None, 0.0)
    first = step(spec, hw, lay, 1, prompt + 1)
    if steps == 1:
        return Decode(1, first, 0.0)
    last = step(spec, hw, lay, 1, prompt + steps)
    mean = _average(first, last)
    error = 0.0
    if steps > 2:
        mid = step(spec, hw, lay, 1, prompt + (1 + steps) // 2)
        error = abs(mid.cycles - mean.cycles) / mid.cycles
    return Decode(steps, mean, error)


def _average(a: Step, b: Step) -> Step:
    def mid(x: float, y: float) -> int:
        return round((x + y) / 2)
    comm = Comm(mid(a.comm.cycles, b.comm.cycles),
                tuple(mid(x, y) for x, y in zip(a.comm.link_busy, b.comm.link_busy,
                                                strict=True)),
                tuple(mid(x, y) for x, y in zip(a.comm.link_bytes, b.comm.link_bytes,
                                                strict=True)), b.comm.trace)
    return Step(cycles=mid(a.cycles, b.cycles), compute_cycles=mid(a.compute_cycles,
                b.compute_cycles), comm=comm, macs=mid(a.macs, b.macs),
                dram_bytes=mid(a.dram_bytes, b.dram_bytes),
                core_busy=tuple(mid(x, y) for x, y in zip(a.core_busy, b.core_busy,
                                                          strict=True)),
                bubble=(a.bubble + b.bubble) / 2, layer=b.layer)


@dataclass(frozen=True)
class LlmRun:
    """An LLM inference run: the model, the system, the chosen layout (and, for ``auto``,
    why), the prefill step, the decode phase and the memory per chip."""

    spec: LlmSpec
    hardware: Hardware
    layout: Layout
    batch: int
    prompt: int
    generate: int
    prefill: Step
    decode: Decode
    footprint: Footprint
    why: str = ""


def run_layout(spec: LlmSpec, hw: Hardware, lay: Layout, batch: int, prompt: int,
               generate: int) -> LlmRun:
    """Simulate prefill and decode under ``lay``."""
    return LlmRun(spec, hw, lay, batch, prompt, generate,
                  prefill=step(spec, hw, lay, prompt, prompt),
                  decode=decode(spec, hw, lay, prompt, generate),
                  footprint=footprint(spec, hw, lay, prompt, generate))


def candidates(spec: LlmSpec, hw: Hardware, parallel: Parallel, batch: int, prompt: int,
               generate: int) -> list[tuple[Layout, Footprint]]:
    """The layouts ``parallel`` names (all three for ``auto``; one on a single chip) with
    their footprints."""
    kinds = [Parallel.TENSOR, Parallel.PIPELINE, Parallel.DATA] \
        if parallel is Parallel.AUTO else [parallel]
    if hw.system.chips == 1:
        kinds = kinds[:1]
    out = []
    for kind in kinds:
        lay = layout(spec, hw, kind, batch)
        out.append((lay, footprint(spec, hw, lay, prompt, generate)))
    return out


def infer(spec: LlmSpec, hw: Hardware, parallel: Parallel, batch: int, prompt: int,
          generate: int) -> LlmRun:
    """Simulate inference of ``batch`` sequences of a ``prompt``-token prompt generating
    ``generate`` tokens each. ``auto`` runs every layout that fits in memory and keeps the
    one with the least total time (prefill + decode), saying why. Raises `InputError`
    naming what does not fit any chip's memory (``--parallel``). A prompt and generation
    longer than the model's trained context are simulated all the same (the report says
    so)."""
    options = candidates(spec, hw, parallel, batch, prompt, generate)
    fitting = [(lay, fp) for lay, fp in options if fp.fits]
    if not fitting:
        raise InputError("--parallel", parallel.value, "; ".join(
            (f"{lay.parallel.value}: " if len(options) > 1 else "")
            + f"{_gib(fp.total_bytes)} per chip (weights "
            f"{_gib(fp.weights_bytes)}, KV cache {_gib(fp.kv_cache_bytes)}, activations "
            f"{_gib(fp.activation_bytes)})" for lay, fp in options)
            + f" exceed {hw.name}'s {_gib(hw.dram_capacity_bytes or 0)} of DRAM per chip")
    runs = [run_layout(spec, hw, lay, batch, prompt, generate) for lay, _ in fitting]
    best = min(runs, key=total_cycles)
    if parallel is not Parallel.AUTO or len(options) == 1:
        return best
    timed = ", ".join(f"{r.layout.parallel.value} {total_cycles(r) / hw.clock_mhz / 1e3:.1f} "
                      "ms" for r in sorted(runs, key=total_cycles))
    left = [f"{lay.parallel.value} needs {_gib(fp.total_bytes)} per chip"
            for lay, fp in options if not fp.fits]
    why = f"fastest of {timed}" + (f"; {', '.join(left)}" if left else "")
    return LlmRun(**{**best.__dict__, "why": why})


def total_cycles(run: LlmRun) -> int:
    """Prefill plus every decode step, in cycles."""
    decode_cycles = run.decode.mean.cycles * run.decode.steps if run.decode.mean else 0
    return run.prefill.cycles + decode_cycles


def _gib(nbytes: int) -> str:
    return f"{nbytes / (1 << 30):.1f} GiB"
