"""Public functions for systems of chips, named after the CLI verbs they share their logic
with: the links (``interconnect``), one collective on them (``collective``: ``simaccel
collective``), any model spread over the chips (``partition_model``: ``simaccel partition``)
and decoder LLMs (``load_llm``, ``simulate_llm``: ``simaccel llm``; ``llm_footprint``: the
memory check ``llm`` makes). Each is a thin, checked entry to `simaccel.network`,
`simaccel.link_engine`, `simaccel.partition`, `simaccel.frontends.hf_config`,
`simaccel.llm` and `simaccel.llm_parallel`; bad arguments raise `InputError` naming the
function and the parameter. Reached as ``simaccel.<name>``.

(``llm`` and ``partition`` are module names inside the package, so the functions are
``simulate_llm`` and ``partition_model``: a submodule import would otherwise shadow them.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from simaccel import api_args
from simaccel.domain import MAX_BATCH, MAX_COLLECTIVE_BYTES, MAX_TOKENS, PARALLEL
from simaccel.errors import InputError

__all__ = ["PartitionRun", "collective", "interconnect", "llm_footprint", "load_llm",
           "partition_model", "simulate_llm"]

#: Where a collective runs: the chips of ``[system]`` or one chip's cores (``[chip]``).
LEVELS = ("system", "chip")


def interconnect(hw, level: str = "system"):
    """The links of ``hw`` (a `Hardware`, shipped name or config path) as a `Network`:
    ``topology``, ``nodes``, ``links`` (directed pairs), ``bytes_per_cycle`` per link and
    direction and ``latency_cycles`` per hop, in the chip's clock. ``level="system"``: the
    chip-to-chip links of ``[system]``; ``"chip"``: the on-chip ring between the cores.
    Raises `InputError` naming ``hw`` or ``level``."""
    return _network(hw, level, "simaccel.interconnect")


def _network(hw: object, level: object, where: str):
    from simaccel.network import chip_network, system_network

    loaded = api_args.hardware(hw, where)
    if api_args.choice(level, where, "level", LEVELS) == "system":
        return system_network(loaded)
    return chip_network(loaded)


def collective(kind: str, nbytes: int, hw, *, algorithm: str = "ring",
               level: str = "system"):
    """Time one collective (``"all_reduce"``, ``"all_gather"``, ``"reduce_scatter"``,
    ``"all_to_all"``) of ``nbytes`` bytes a node by ``algorithm`` (``"ring"`` or ``"tree"``)
    on `interconnect` (``hw``, ``level``), as ``simaccel collective`` does: a `LinkRun` with
    ``cycles``, ``link_busy_cycles`` and ``link_bytes`` per link and the messages' ``trace``.
    Raises `InputError` naming ``kind``, ``nbytes``, ``algorithm``, ``level`` or ``hw``."""
    from simaccel import link_engine
    from simaccel.collectives import Algorithm, Collective, TooManyMessages, plan

    where = "simaccel.collective"
    kind_ = Collective(api_args.choice(kind, where, "kind", [c.value for c in Collective]))
    nbytes = api_args.count(nbytes, where, "nbytes", 1, MAX_COLLECTIVE_BYTES)
    loaded = api_args.hardware(hw, where)
    algorithm_ = Algorithm(api_args.choice(algorithm, where, "algorithm",
                                           [a.value for a in Algorithm]))
    network = _network(loaded, level, where)
    try:
        return link_engine.run(network, plan(kind_, algorithm_, network.nodes, nbytes))
    except TooManyMessages as exc:  # the system is too large to time message by message
        raise InputError(where, "hw", str(exc)) from None
    except ValueError as exc:
        raise InputError(where, "algorithm", str(exc)) from None


@dataclass(frozen=True)
class PartitionRun:
    """A model spread over a system's chips (`simaccel.partition`): ``parallel`` (data,
    pipeline, tensor or per_layer) over ``chips``; ``stages`` (`Stage`: ``first`` and
    ``last`` kernel index into ``layers``, compute ``cycles``, ``send_bytes`` to the next
    stage and ``send_cycles`` on the link); one inference's ``latency_cycles``, a new one
    every ``interval_cycles`` in steady state, ``batch`` inferences in ``batch_cycles``;
    ``bubble`` the pipeline's idle share of stage slots (0 for data); ``why`` the choice
    ``auto`` made ("" otherwise). A tensor or per-layer plan also gives, per kernel, its
    ``plan`` (`Choice`: ``strategy``, ``cycles``, ``candidates``, the collectives that
    ``convert`` its inputs and their ``convert_cycles``), and ``final_cycles`` of the
    collectives ``final_convert`` that make the model's outputs whole after the last kernel
    (so the plan's cycles and convert_cycles plus final_cycles add to ``batch_cycles``).
    ``comm_share``: the share of ``batch_cycles`` spent communicating (0..1; pipeline: its
    sends on the batch's critical path; data: 0; `simaccel.partition.comm_share`);
    ``energy_pj`` of the batch: its dynamic energy plus every chip's static power for
    ``batch_cycles``. A pipeline's ``chips`` is its number of stages, the fastest (or
    least-energy) of 1 … the system's chips. ``batch`` counts runs of the model (one
    inference above is one run); ``inferences``: the batch's inferences, ``batch`` × the
    model's input batch (its first input's first dimension), served ``inferences_per_s``
    a second (1/s; on one chip `simaccel.simulate`'s; `simaccel.partition.inferences_per_s`)."""

    parallel: str
    chips: int
    batch: int
    stages: tuple
    latency_cycles: int
    interval_cycles: int
    batch_cycles: int
    bubble: float
    why: str
    layers: tuple[str, ...]
    plan: tuple = ()
    comm_share: float = 0.0
    energy_pj: float = 0.0
    final_cycles: int = 0
    final_convert: tuple[str, ...] = ()
    inferences: int = 0
    inferences_per_s: float = 0.0


def partition_model(model, hw, parallel: str = "auto", batch: int = 1,
                    objective: str = "latency") -> PartitionRun:
    """Simulate ``model`` (a `Model` or model file) on one chip of ``hw``'s system, then lay
    it over the system's chips as ``simaccel partition`` does: ``"data"`` (a copy a chip),
    ``"pipeline"`` (contiguous stages, ``batch`` micro-batches), ``"tensor"`` (every GEMM
    split over the chips by N or K, with its collectives) or ``"auto"`` (of those and a
    per-layer plan, whichever finishes ``batch`` inferences first, or with ``objective``
    ``"energy"`` spends least). ``model`` may also be the `Report` of that one-chip
    simulation (``simaccel.simulate(model, hw)``), which is then not repeated. Raises
    `InputError` naming ``parallel``, ``batch``, ``objective``, ``model`` or ``hw``."""
    import simaccel
    from simaccel.layer_plan import Objective
    from simaccel.partition import (
        batch_cycles,
        batch_energy_pj,
        choose,
        comm_share,
        inferences_per_s,
        model_batch,
    )
    from simaccel.report import Report

    where = "simaccel.partition_model"
    parallel = api_args.choice(parallel, where, "parallel", PARALLEL)
    goal = Objective(api_args.choice(objective, where, "objective",
                                     [o.value for o in Objective]))
    batch = api_args.count(batch, where, "batch", 1, MAX_BATCH)
    loaded = api_args.hardware(hw, where)
    if isinstance(model, Report):
        if model.hardware != loaded:
            raise InputError(where, "model", f"the report was simulated on "
                             f"{model.hardware.name}, not on {loaded.name}")
        report = model
    else:
        report = simaccel.simulate(api_args.model(model, where), loaded, check=False)
    part, why = choose(report, parallel, batch, goal)
    cycles = batch_cycles(part, batch)
    return PartitionRun(part.parallel, part.chips, batch, part.stages, part.latency_cycles,
                        part.interval_cycles, cycles, part.bubble, why,
                        tuple(r.work.kernel.name for r in report.results.layers),
                        part.layers, comm_share(part, batch), batch_energy_pj(part, batch),
                        part.final_cycles, part.final_convert, batch * model_batch(report),
                        inferences_per_s(report, part, batch))


def load_llm(config):
    """A decoder LLM's shape as an `LlmSpec` (``layers``, ``hidden``, ``heads``,
    ``kv_heads``, ``vocab``, ``params``, ...) from a shipped name (``"llama2-7b"``,
    ``"llama3-8b"``, ``"gpt3-175b"``, ``"opt-66b"``), a HuggingFace config.json path, or a
    dict as config.json decodes (``model_type`` gpt2, llama, mistral or opt). Never weights.
    Raises `InputError` naming the missing or bad key."""
    return _llm(config, "simaccel.load_llm")


def _llm(config: object, where: str):
    from simaccel.frontends.hf_config import load_llm as _load
    from simaccel.frontends.hf_config import parse_hf_config
    from simaccel.llm_spec import LlmSpec

    if isinstance(config, LlmSpec):
        return config
    if isinstance(config, Mapping):
        name = str(config.get("_name_or_path") or config.get("model_type") or "llm")
        return parse_hf_config(dict(config), f"{where}(config)", name)
    if isinstance(config, str) and config.strip() or hasattr(config, "__fspath__"):
        try:
            return _load(str(config))
        except InputError as exc:
            if exc.field or exc.source != str(config):
                raise  # a bad file names the file and its key
            raise InputError(where, "config", exc.message) from None
    raise InputError(where, "config", "expected a shipped name, a config.json "
                     f"path or a dict, got {type(config).__name__}")


def _llm_arguments(where: str, batch: object, prompt: object, generate: object
                   ) -> tuple[int, int, int]:
    return (api_args.count(batch, where, "batch", 1, MAX_BATCH),
            api_args.count(prompt, where, "prompt", 1, MAX_TOKENS),
            api_args.count(generate, where, "generate", 1, MAX_TOKENS))


def simulate_llm(config, hw, parallel: str = "auto", *, batch: int = 1, prompt: int = 128,
                 generate: int = 32):
    """Simulate inference of ``batch`` sequences of ``prompt`` tokens generating
    ``generate`` tokens each, as ``simaccel llm`` does, for ``config`` (see `load_llm`) on
    ``hw``'s chips by ``parallel`` (``"data"``, ``"tensor"``, ``"pipeline"`` or ``"auto"``:
    the fastest layout that fits). Returns an `LlmRun`: ``prefill`` and ``decode.mean``
    (`Step`: ``cycles``, ``compute_cycles``, ``comm.cycles``, ``macs``, ``dram_bytes``,
    ``bubble``), ``decode.steps``, ``layout``, ``footprint`` (bytes per chip) and ``why``.
    Times are cycles of ``hw``'s clock. Raises `InputError` naming ``parallel`` (including
    when no layout fits the chips' memory), ``batch``, ``prompt``, ``generate`` or the
    config's bad key."""
    from simaccel.llm import infer
    from simaccel.llm_parallel import Parallel

    where = "simaccel.simulate_llm"
    spec, loaded = _llm(config, where), api_args.hardware(hw, where)
    kind = Parallel(api_args.choice(parallel, where, "parallel", [p.value for p in Parallel]))
    batch, prompt, generate = _llm_arguments(where, batch, prompt, generate)
    return infer(spec, loaded, kind, batch, prompt, generate)


def llm_footprint(config, hw, parallel: str = "tensor", *, batch: int = 1,
                  prompt: int = 128, generate: int = 32):
    """The memory the busiest chip needs to run ``config`` (see `load_llm`) by ``parallel``
    (``"data"``, ``"tensor"`` or ``"pipeline"``) on ``hw``'s chips, without simulating: a
    `Footprint` with ``weights_bytes``, ``kv_cache_bytes`` (at ``prompt + generate``),
    ``activation_bytes``, ``total_bytes``, ``capacity_bytes`` and ``fits``. Raises
    `InputError` naming ``parallel``, ``batch``, ``prompt``, ``generate`` or the config's
    bad key."""
    from simaccel.llm_parallel import Parallel, footprint, layout

    where = "simaccel.llm_footprint"
    spec, loaded = _llm(config, where), api_args.hardware(hw, where)
    kind = Parallel(api_args.choice(parallel, where, "parallel", ("data", "tensor",
                                                                  "pipeline")))
    batch, prompt, generate = _llm_arguments(where, batch, prompt, generate)
    return footprint(spec, loaded, layout(spec, loaded, kind, batch), prompt, generate)
