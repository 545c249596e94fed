"""Lab 05's expected answers (model parallelism), on the lab's system ``tpu_v4_like_x8``
(eight chips on a ring of links), from the lab's parameters: the all-reduce's
``vector_bytes``, the CNN pipeline's ``micro_batches`` (with the ``model`` it splits), the LLM
runs' ``batch``, ``prompt`` and ``generate``, and the 70B model's ``sequences`` and
``context``.

Every figure comes from the simulator (the link engine, the partitioner, ``simaccel.llm``);
none is typed in.
"""

from __future__ import annotations

from simaccel.grading import exercise
from simaccel.teaching import Tolerance

SYSTEM = "tpu_v4_like_x8"
#: Llama 2 70B's config.json values (section 4 of the lab).
LLAMA2_70B = {
    "model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672,
    "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
    "vocab_size": 32000, "max_position_embeddings": 4096, "hidden_act": "silu"}


def _system():
    from simaccel import load_hardware
    return load_hardware(SYSTEM)


def _all_reduce_cycles(network, algorithm, chips: int, vector_bytes: int) -> int:
    from simaccel import link_engine
    from simaccel.collectives import Collective, plan
    return link_engine.run(network, plan(Collective.ALL_REDUCE, algorithm, chips,
                                         vector_bytes)).cycles


@exercise("05.1", hint="2(p − 1) steps, each a hop's latency plus one chunk of n/p bytes")
def ring_all_reduce_cycles(vector_bytes: int) -> int:
    """Cycles of a ring all-reduce of ``vector_bytes`` over the system's chips."""
    from simaccel.collectives import Algorithm
    from simaccel.network import system_network
    system = _system()
    return _all_reduce_cycles(system_network(system), Algorithm.RING, system.system.chips,
                              vector_bytes)


@exercise("05.2", hint="count the hop latencies each algorithm pays on each topology: on a "
                       "ring the tree's partners are 1, 2, 4 hops away")
def faster_algorithms(vector_bytes: int) -> tuple[str, str]:
    """(the faster all-reduce algorithm on the ring, the faster behind a switch), "ring" or
    "tree", for ``vector_bytes``."""
    from simaccel.collectives import Algorithm
    from simaccel.hardware import vary
    from simaccel.network import system_network
    system = _system()
    chips = system.system.chips
    winners = []
    for hw in (system, vary(system, {"system.topology": "switch"})):
        network = system_network(hw)
        cycles = {a: _all_reduce_cycles(network, a, chips, vector_bytes) for a in Algorithm}
        winners.append(min(Algorithm, key=cycles.get).value)
    return tuple(winners)


@exercise("05.3", tolerance=Tolerance(rel=1e-9),
          hint="stages − 1 slots fill, stages − 1 drain")
def pipeline_bubble(model, micro_batches: int) -> float:
    """Bubble share of ``model`` pipelined over the system's chips (at the stage count
    that finishes the batch first, a stage a chip) with ``micro_batches`` micro-batches."""
    from simaccel.partition import pipeline_parallel
    from simaccel.pipeline import simulate
    system = _system()
    one_chip = simulate(model, system, check=False)
    return pipeline_parallel(one_chip, system.system.chips, micro_batches=micro_batches).bubble


def _llm_runs(batch: int, prompt: int, generate: int, kinds):
    from simaccel import llm
    from simaccel.frontends.hf_config import load_llm
    spec, system = load_llm("llama2-7b"), _system()
    return {kind: llm.infer(spec, system, kind, batch=batch, prompt=prompt, generate=generate)
            for kind in kinds}


@exercise("05.4", hint="the all-reduces grow with the tokens, but so does the compute")
def comm_heavier_phase(batch: int, prompt: int, generate: int) -> str:
    """"prefill" or "decode": the phase of Llama 2 7B under tensor parallelism whose time has
    the larger communication share."""
    from simaccel.llm_parallel import Parallel
    run = _llm_runs(batch, prompt, generate, [Parallel.TENSOR])[Parallel.TENSOR]
    prefill = run.prefill.comm.cycles / run.prefill.cycles
    decode = run.decode.mean.comm.cycles / run.decode.mean.cycles
    return "prefill" if prefill > decode else "decode"


@exercise("05.5", hint="auto keeps the layout with the fewest cycles over prefill and every "
                       "decode step")
def auto_layout(batch: int, prompt: int, generate: int) -> str:
    """The layout ("data", "tensor" or "pipeline") ``auto`` chooses for Llama 2 7B."""
    from simaccel.llm_parallel import Parallel
    run = _llm_runs(batch, prompt, generate, [Parallel.AUTO])[Parallel.AUTO]
    return run.layout.parallel.value


@exercise("05.6", hint="the weights over the chips' DRAM, plus each chip's KV cache and "
                       "activations")
def fewest_chips_70b(sequences: int, context: int) -> int:
    """The fewest chips (1 … 64) on which Llama 2 70B fits under tensor parallelism, for
    ``sequences`` sequences of ``context`` prompt tokens generating ``context`` more."""
    from simaccel.frontends.hf_config import parse_hf_config
    from simaccel.hardware import vary
    from simaccel.llm_parallel import Parallel, footprint, layout
    spec = parse_hf_config(LLAMA2_70B, "llama2-70b config.json", "llama2-70b")
    system = _system()
    for chips in range(1, 65):
        hw = vary(system, {"system.chips": chips})
        lay = layout(spec, hw, Parallel.TENSOR, sequences)
        if footprint(spec, hw, lay, prompt=context, generate=context).fits:
            return chips
    raise ValueError(f"Llama 2 70B does not fit on 64 chips for {sequences} sequences")


@exercise("05.7", hint="only the β term of each step scales with the link's speed; α does not")
def faster_links_all_reduce_cycles(vector_bytes: int, link_factor: float) -> int:
    """Cycles of a ring all-reduce of ``vector_bytes`` with every link ``link_factor`` times
    as fast (``system.link_gbps``)."""
    from simaccel.collectives import Algorithm
    from simaccel.hardware import vary
    from simaccel.network import system_network
    system = _system()
    faster = vary(system, {"system.link_gbps": system.system.link_gbps * link_factor})
    return _all_reduce_cycles(system_network(faster), Algorithm.RING, system.system.chips,
                              vector_bytes)
