"""A decoder-only transformer LLM as simaccel models it: the shapes that set its cost, read
from a HuggingFace ``config.json`` (`simaccel.frontends.hf_config`) or a shipped name.

Counts are in elements (parameters), bytes follow from the hardware's datatype. The
embedding table is counted in the footprint; the LM head is its own matrix unless tied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Ffn(StrEnum):
    """The feed-forward block: ``mlp`` (up, activation, down: GPT-2, OPT) or ``gated``
    (gate and up, SiLU(gate) × up, down: Llama, Mistral)."""

    MLP = "mlp"
    GATED = "gated"


@dataclass(frozen=True)
class LlmSpec:
    """Shapes of a decoder-only LLM. ``kv_heads`` < ``heads`` is grouped-query attention;
    ``window`` caps the context a token attends to (Mistral's sliding window), None for
    full attention."""

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    max_positions: int
    ffn: Ffn
    activation: str  #: the FFN activation as simaccel names it (gelu_tanh, relu, sigmoid)
    tied_embeddings: bool
    window: int | None = None

    @property
    def layer_params(self) -> int:
        """Weights of one decoder layer (biases and norms excluded: < 0.1%)."""
        attention = self.hidden * (self.heads + 2 * self.kv_heads) * self.head_dim \
            + self.heads * self.head_dim * self.hidden
        matrices = 3 if self.ffn is Ffn.GATED else 2
        return attention + matrices * self.hidden * self.intermediate

    @property
    def head_params(self) -> int:
        """Weights of the LM head (the vocab × hidden projection to logits)."""
        return self.vocab * self.hidden

    @property
    def params(self) -> int:
        """All weights: layers, the embedding table and (untied) the LM head."""
        embedding = self.vocab * self.hidden
        return self.layers * self.layer_params + embedding + (
            0 if self.tied_embeddings else self.head_params)

    def kv_elements_per_token(self) -> int:
        """KV-cache elements one token adds: K and V of every KV head of every layer."""
        return 2 * self.layers * self.kv_heads * self.head_dim

    def attended(self, context: int) -> int:
        """Tokens a query at ``context`` attends to (the window caps it)."""
        return min(context, self.window) if self.window else context
