"""One chip's share of an LLM's decoder layer (and of its LM head) as a simaccel `Model`, so
that the normal pipeline (graph → kernels → tiles → Program → engine) times it.

A `Shard` says what one chip computes: its sequences, the tokens each brings this step (the
prompt in prefill, one in decode), the keys each token attends to, and its share of the
attention heads, KV heads and FFN columns (tensor parallelism splits those, Megatron-style:
Q/K/V and FFN-up by output columns, O and FFN-down by input rows). Within the chip the share
is split again over the cores as independent chains (one per core), whose partial outputs an
``add`` sums through memory (attention with fewer heads than cores splits its sequences or
tokens over the cores instead, their rows joined by a ``concat``); the sum across chips is
the all-reduce the caller times on the links. The KV cache is a model input per core (it
lives in DRAM and is streamed: read in full by every step's attention); the new tokens' K
and V are the output of the ``kv`` dense layer, written to DRAM. Attention is computed dense
(no causal skipping), grouped query heads stacked on the rows of their KV head's GEMM, so a
KV head is read once. RMSNorm is costed as a LayerNorm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simaccel.frontends.model_json import parse_model
from simaccel.llm_spec import Ffn, LlmSpec
from simaccel.model import Model


@dataclass(frozen=True)
class Shard:
    """One chip's work in one decoder layer: ``batch`` sequences of ``tokens`` new tokens
    each attending to ``context`` keys, with ``heads`` query heads over ``kv_heads`` KV
    heads and ``intermediate`` FFN columns, spread over ``cores`` cores."""

    batch: int
    tokens: int
    context: int
    heads: int
    kv_heads: int
    intermediate: int
    cores: int


def split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` near-equal whole shares, larger first, zeros dropped:
    split(10, 4) = [3, 3, 2, 2]."""
    base, extra = divmod(total, parts)
    return [s for s in [base + 1] * extra + [base] * (parts - extra) if s]


def _attention(spec: LlmSpec, shard: Shard, core: int, heads: int, rows_of: tuple[int, int],
               source: str) -> tuple[list, list, str]:
    """Layers, inputs and output name of one core's attention chain: ``heads`` query heads
    for ``rows_of`` = (sequences, tokens each) of the normalized input ``source``."""
    group = max(1, shard.heads // shard.kv_heads)
    kv = math.ceil(heads / group)
    rows = heads // kv  # query heads per KV head in this chain
    (b, s), hd, c = rows_of, spec.head_dim, shard.context
    p = f"c{core}."
    inputs = [{"name": f"{p}k_cache", "shape": [b, kv, c, hd]},
              {"name": f"{p}v_cache", "shape": [b, kv, c, hd]}]
    layers = [
        {"name": f"{p}q", "op": "dense", "inputs": [source], "units": heads * hd},
        {"name": f"{p}kv", "op": "dense", "inputs": [source], "units": 2 * kv * hd},
        {"name": f"{p}q.split", "op": "reshape", "inputs": [f"{p}q"],
         "shape": [b, s, kv, rows, hd]},
        {"name": f"{p}q.heads", "op": "transpose", "inputs": [f"{p}q.split"],
         "perm": [0, 2, 1, 3, 4]},
        {"name": f"{p}q.rows", "op": "reshape", "inputs": [f"{p}q.heads"],
         "shape": [b, kv, s * rows, hd]},
        {"name": f"{p}scores", "op": "matmul", "inputs": [f"{p}q.rows", f"{p}k_cache"],
         "transpose_b": True, "scale": 1 / math.sqrt(hd)},
        {"name": f"{p}softmax", "op": "softmax", "inputs": [f"{p}scores"]},
        {"name": f"{p}context", "op": "matmul", "inputs": [f"{p}softmax", f"{p}v_cache"]},
        {"name": f"{p}context.split", "op": "reshape", "inputs": [f"{p}context"],
         "shape": [b, kv, s, rows, hd]},
        {"name": f"{p}context.tokens", "op": "transpose", "inputs": [f"{p}context.split"],
         "perm": [0, 2, 1, 3, 4]},
        {"name": f"{p}context.flat", "op": "reshape", "inputs": [f"{p}context.tokens"],
         "shape": [b, s, heads * hd]},
        {"name": f"{p}o", "op": "dense", "inputs": [f"{p}context.flat"],
         "units": spec.hidden, "bias": False},
    ]
    return layers, inputs, f"{p}o"


def _ffn(spec: LlmSpec, core: int, columns: int) -> tuple[list, str]:
    """Layers and output name of one core's FFN chain."""
    p = f"c{core}."
    if spec.ffn is Ffn.MLP:
        layers = [{"name": f"{p}up", "op": "dense", "inputs": ["ln2"], "units": columns,
                   "activation": spec.activation}]
        last = f"{p}up"
    else:  # gated: SiLU(gate) × up = gate × sigmoid(gate) × up
        layers = [
            {"name": f"{p}gate", "op": "dense", "inputs": ["ln2"], "units": columns},
            {"name": f"{p}gate.act", "op": spec.activation, "inputs": [f"{p}gate"]},
            {"name": f"{p}up", "op": "dense", "inputs": ["ln2"], "units": columns},
            {"name": f"{p}gated", "op": "mul",
             "inputs": [f"{p}gate", f"{p}gate.act", f"{p}up"]},
        ]
        last = f"{p}gated"
    layers.append({"name": f"{p}down", "op": "dense", "inputs": [last],
                   "units": spec.hidden, "bias": False})
    return layers, f"{p}down"


def _attention_block(spec: LlmSpec, shard: Shard) -> tuple[list, list, str]:
    """Layers, extra inputs and output name of the chip's attention: its heads split over
    the cores, or — with fewer heads than cores — its sequences (or, for one sequence, its
    tokens) split, each core then running every head for its rows and reading the whole KV
    cache of its sequences."""
    b, s = shard.batch, shard.tokens
    if shard.heads >= shard.cores or b * s < 2:
        layers: list[dict] = [{"name": "ln1", "op": "layernorm", "inputs": ["x"]}]
        inputs, partial = [], []
        for core, heads in enumerate(split(shard.heads, shard.cores)):
            chain, cache, out = _attention(spec, shard, core, heads, (b, s), "ln1")
            layers += chain
            inputs += cache
            partial.append(out)
        return layers + [{"name": "attn.sum", "op": "add", "inputs": ["x", *partial]}], \
            inputs, "attn.sum"
    by_batch = b >= shard.cores
    layers, inputs, parts = [], [], []
    for core, share in enumerate(split(b if by_batch else s, shard.cores)):
        rows = (share, s) if by_batch else (b, share)
        inputs.append({"name": f"c{core}.x", "shape": [*rows, spec.hidden]})
        layers.append({"name": f"c{core}.ln1", "op": "layernorm", "inputs": [f"c{core}.x"]})
        chain, cache, out = _attention(spec, shard, core, shard.heads, rows, f"c{core}.ln1")
        layers += chain
        inputs += cache
        parts.append(out)
    layers += [{"name": "attn.rows", "op": "concat", "inputs": parts,
                "axis": 0 if by_batch else 1},
               {"name": "attn.sum", "op": "add", "inputs": ["x", "attn.rows"]}]
    return layers, inputs, "attn.sum"


def layer_model(spec: LlmSpec, shard: Shard) -> Model:
    """One chip's share of one decoder layer (pre-norm: x + attention(norm(x)), then
    + FFN(norm(·))). Input ``x`` is [batch, tokens, hidden]."""
    attention, cache, attended = _attention_block(spec, shard)
    inputs = [{"name": "x", "shape": [shard.batch, shard.tokens, spec.hidden]}, *cache]
    layers = [*attention, {"name": "ln2", "op": "layernorm", "inputs": [attended]}]
    partial = []
    for core, columns in enumerate(split(shard.intermediate, shard.cores)):
        chain, out = _ffn(spec, core, columns)
        layers += chain
        partial.append(out)
    layers.append({"name": "ffn.sum", "op": "add", "inputs": [attended, *partial]})
    return _model(f"{spec.name}.layer", inputs, layers)


def head_model(spec: LlmSpec, batch: int, vocab: int, cores: int) -> Model:
    """One chip's share (``vocab`` columns) of the final norm and LM head, for the last
    token of each of ``batch`` sequences."""
    inputs = [{"name": "x", "shape": [batch, 1, spec.hidden]}]
    layers: list[dict] = [{"name": "ln_f", "op": "layernorm", "inputs": ["x"]}]
    for core, columns in enumerate(split(vocab, cores)):
        layers.append({"name": f"c{core}.logits", "op": "dense", "inputs": ["ln_f"],
                       "units": columns, "bias": False})
    return _model(f"{spec.name}.head", inputs, layers)


def _model(name: str, inputs: list[dict], layers: list[dict]) -> Model:
    doc = {"format": "simaccel-model/1", "name": name,
           "inputs": [{**i, "dtype": "fp32"} for i in inputs], "layers": layers}
    return parse_model(doc, source=f"<{name}>")
