"""How an LLM is laid out on a system of chips: data, tensor or pipeline parallelism, what
each chip then computes (`Layout`) and the memory it needs (`Footprint`).

* **data**: every chip holds the whole model and serves ⌈batch / chips⌉ of the sequences;
  no communication during inference.
* **tensor** (Megatron-LM, Shoeybi et al. 2019): each decoder layer's attention heads, KV
  heads and FFN columns are split over the chips (Q/K/V and FFN-up split their GEMM's N,
  O and FFN-down their K), so each chip holds 1/chips of the weights and of the KV cache;
  the partial sums of O and FFN-down are combined by two all-reduces per layer, and the
  LM head's logits by an all-gather. KV heads fewer than chips are replicated.
* **pipeline** (GPipe, Huang et al. 2019): the layers are cut into ``chips`` stages of
  ⌈layers / chips⌉ layers; the batch is cut into micro-batches (as many as stages, at most
  one a sequence) that follow each other through the stages, each stage boundary a
  point-to-point transfer of the activations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from simaccel.hardware import Hardware
from simaccel.llm_layers import Shard
from simaccel.llm_spec import LlmSpec


class Parallel(StrEnum):
    """How the model is spread over the system's chips; ``auto`` times each that fits and
    keeps the fastest."""

    DATA = "data"
    TENSOR = "tensor"
    PIPELINE = "pipeline"
    AUTO = "auto"


@dataclass(frozen=True)
class Layout:
    """What each chip runs: ``tensor`` ways of tensor parallelism, ``stages`` pipeline
    stages of ``stage_layers`` layers, ``micro_batches`` in flight, ``batch`` sequences per
    chip (per micro-batch under pipelining); ``chips`` busy of the system's."""

    parallel: Parallel
    chips: int
    tensor: int
    stages: int
    stage_layers: int
    micro_batches: int
    batch: int

    def shard(self, spec: LlmSpec, hw: Hardware, tokens: int, context: int) -> Shard:
        """One chip's share of a decoder layer for ``tokens`` new tokens a sequence, each
        attending to ``context`` keys (the window applied)."""
        t = self.tensor
        return Shard(batch=self.batch, tokens=tokens, context=spec.attended(context),
                     heads=math.ceil(spec.heads / t), kv_heads=math.ceil(spec.kv_heads / t),
                     intermediate=math.ceil(spec.intermediate / t), cores=hw.chip.cores)


def layout(spec: LlmSpec, hw: Hardware, parallel: Parallel, batch: int) -> Layout:
    """The `Layout` of ``parallel`` (not ``auto``) for ``batch`` sequences on ``hw``'s
    system."""
    chips = hw.system.chips
    if parallel is Parallel.DATA:
        used = min(chips, batch)
        return Layout(parallel, used, 1, 1, spec.layers, 1, math.ceil(batch / used))
    if parallel is Parallel.TENSOR:
        return Layout(parallel, chips, chips, 1, spec.layers, 1, batch)
    if parallel is Parallel.PIPELINE:
        stages = min(chips, spec.layers)
        micro = min(batch, stages)
        return Layout(parallel, stages, 1, stages, math.ceil(spec.layers / stages), micro,
                      math.ceil(batch / micro))
    raise ValueError(f"no single layout for {parallel.value}: auto chooses among the others")


@dataclass(frozen=True)
class Footprint:
    """Bytes of DRAM/HBM the busiest chip needs: weights, the KV cache at the longest
    context, and the largest activation tensor of a layer (prefill's attention scores
    usually), against ``capacity_bytes`` (None: the config gives none)."""

    weights_bytes: int
    kv_cache_bytes: int
    activation_bytes: int
    capacity_bytes: int | None
    weights_read_bytes: int = 0  #: weights a step reads (all but the embedding table)

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.activation_bytes

    @property
    def fits(self) -> bool:
        return self.capacity_bytes is None or self.total_bytes <= self.capacity_bytes


def footprint(spec: LlmSpec, hw: Hardware, lay: Layout, prompt: int, generate: int
              ) -> Footprint:
    """Memory per chip of ``lay`` for a ``prompt``-token prompt and ``generate`` tokens."""
    size = hw.dtypes.weight.bytes
    shard = lay.shard(spec, hw, prompt, prompt + generate)
    layers = lay.stage_layers
    per_layer = spec.hidden * (shard.heads + 2 * shard.kv_heads) * spec.head_dim \
        + shard.heads * spec.head_dim * spec.hidden \
        + (3 if spec.ffn.value == "gated" else 2) * spec.hidden * shard.intermediate
    table = math.ceil(spec.vocab / lay.tensor) * spec.hidden
    ends = table * (1 if spec.tied_embeddings else 2)
    if lay.stages > 1:  # the first stage holds the embedding, the last the head
        ends = table
    weights = (layers * per_layer + ends) * size
    read = (layers * per_layer + table) * size  # the LM head, not the embedding lookup
    sequences = lay.batch * lay.micro_batches if lay.stages > 1 else lay.batch
    kv = sequences * shard.context * 2 * layers * shard.kv_heads * spec.head_dim * size
    scores = lay.batch * shard.heads * prompt * shard.context
    ffn = lay.batch * prompt * max(shard.intermediate, spec.hidden)
    activations = max(scores, ffn) * hw.dtypes.input.bytes
    return Footprint(weights, kv, activations, hw.dram_capacity_bytes, read)
