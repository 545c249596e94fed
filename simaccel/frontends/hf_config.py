"""Frontend for LLMs: a HuggingFace ``config.json`` (only the config, never weights) or a
shipped name, to an `LlmSpec`.

Read by ``model_type``: ``gpt2`` (GPT-2 and GPT-3-shaped configs: ``n_embd``, ``n_layer``,
``n_head``, ``n_inner``), ``llama`` and ``mistral`` (``hidden_size``,
``intermediate_size``, ``num_key_value_heads`` for GQA, ``head_dim``, ``sliding_window``)
and ``opt`` (``ffn_dim``). Key names are transformers' own (``configuration_*.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from simaccel.errors import InputError
from simaccel.frontends.files import read_json
from simaccel.llm_spec import Ffn, LlmSpec

#: Shipped configs, by name, as their config.json says (published key names and values):
#: Llama 2 7B (meta-llama/Llama-2-7b-hf), Llama 3 8B (meta-llama/Meta-Llama-3-8B),
#: OPT-66B (facebook/opt-66b), and GPT-3 175B, which has no HuggingFace release, in GPT-2's
#: keys from Brown et al. 2020, Table 2.1 (96 layers, d_model 12,288, 96 heads of 128,
#: context 2048, GPT-2's 50,257-token vocabulary).
SHIPPED: dict[str, dict[str, Any]] = {
    "llama2-7b": {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008,
                  "num_hidden_layers": 32, "num_attention_heads": 32,
                  "num_key_value_heads": 32, "vocab_size": 32000,
                  "max_position_embeddings": 4096, "hidden_act": "silu",
                  "tie_word_embeddings": False},
    "llama3-8b": {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
                  "num_hidden_layers": 32, "num_attention_heads": 32,
                  "num_key_value_heads": 8, "vocab_size": 128256,
                  "max_position_embeddings": 8192, "hidden_act": "silu",
                  "tie_word_embeddings": False},
    "opt-66b": {"model_type": "opt", "hidden_size": 9216, "ffn_dim": 36864,
                "num_hidden_layers": 64, "num_attention_heads": 72, "vocab_size": 50272,
                "max_position_embeddings": 2048, "activation_function": "relu",
                "word_embed_proj_dim": 9216},
    "gpt3-175b": {"model_type": "gpt2", "n_embd": 12288, "n_layer": 96, "n_head": 96,
                  "n_positions": 2048, "vocab_size": 50257, "activation_function": "gelu_new"},
}

#: HuggingFace activation names → simaccel's (SiLU is x·sigmoid(x): a sigmoid and a mul)
_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu",
                "relu": "relu", "silu": "sigmoid", "swish": "sigmoid"}


class _Reader:
    """Typed access to a config's keys; errors name the file and the key."""

    def __init__(self, data: dict, source: str) -> None:
        self.data, self.source = data, source

    def get(self, key: str, kind: type, default: Any = None, required: bool = True) -> Any:
        if key not in self.data or self.data[key] is None:
            if required and default is None:
                raise InputError(self.source, key, "missing: a decoder LLM's config.json "
                                 "gives it")
            return default
        value = self.data[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)
                            or not 0 < value <= 1 << 24):
            raise InputError(self.source, key, f"expected a positive whole number up to "
                             f"{1 << 24}, got {value!r}")
        if kind is bool and not isinstance(value, bool):
            raise InputError(self.source, key, f"expected true or false, got {value!r}")
        if kind is str and not isinstance(value, str):
            raise InputError(self.source, key, f"expected a string, got {value!r}")
        return value

    def activation(self, key: str, default: str) -> str:
        name = self.get(key, str, default)
        if name not in _ACTIVATIONS:
            raise InputError(self.source, key, f"activation {name!r} is not modelled; "
                             f"known: {', '.join(sorted(_ACTIVATIONS))}")
        return _ACTIVATIONS[name]


def _gpt2(r: _Reader, name: str) -> LlmSpec:
    hidden, heads = r.get("n_embd", int), r.get("n_head", int)
    return _spec(r, name, layers=r.get("n_layer", int), hidden=hidden, heads=heads,
                 kv_heads=heads, intermediate=r.get("n_inner", int, 4 * hidden),
                 max_positions=r.get("n_positions", int), ffn=Ffn.MLP,
                 activation=r.activation("activation_function", "gelu_new"),
                 tied=r.get("tie_word_embeddings", bool, True))


def _llama(r: _Reader, name: str) -> LlmSpec:
    heads = r.get("num_attention_heads", int)
    return _spec(r, name, layers=r.get("num_hidden_layers", int),
                 hidden=r.get("hidden_size", int), heads=heads,
                 kv_heads=r.get("num_key_value_heads", int, heads),
                 intermediate=r.get("intermediate_size", int),
                 max_positions=r.get("max_position_embeddings", int), ffn=Ffn.GATED,
                 activation=r.activation("hidden_act", "silu"),
                 tied=r.get("tie_word_embeddings", bool, False), gated=True,
                 window=r.get("sliding_window", int, required=False))


def _opt(r: _Reader, name: str) -> LlmSpec:
    hidden = r.get("hidden_size", int)
    projection = r.get("word_embed_proj_dim", int, hidden)
    if projection != hidden:
        raise InputError(r.source, "word_embed_proj_dim", f"{projection} ≠ hidden_size "
                         f"{hidden}: OPT-350m's projected embeddings are not modelled")
    heads = r.get("num_attention_heads", int)
    return _spec(r, name, layers=r.get("num_hidden_layers", int), hidden=hidden,
                 heads=heads, kv_heads=heads, intermediate=r.get("ffn_dim", int),
                 max_positions=r.get("max_position_embeddings", int), ffn=Ffn.MLP,
                 activation=r.activation("activation_function", "relu"),
                 tied=r.get("tie_word_embeddings", bool, True))


def _spec(r: _Reader, name: str, *, layers: int, hidden: int, heads: int, kv_heads: int,
          intermediate: int, max_positions: int, ffn: Ffn, activation: str, tied: bool,
          gated: bool = False, window: int | None = None) -> LlmSpec:
    head_dim = r.get("head_dim", int, hidden // heads) if gated else hidden // heads
    if hidden % heads and not (gated and "head_dim" in r.data):
        raise InputError(r.source, "num_attention_heads" if gated else "n_head",
                         f"{heads} heads do not divide the hidden size {hidden}")
    if heads % kv_heads:
        raise InputError(r.source, "num_key_value_heads", f"{kv_heads} KV heads do not "
                         f"divide the {heads} attention heads")
    return LlmSpec(name=name, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads,
                   head_dim=head_dim, intermediate=intermediate,
                   vocab=r.get("vocab_size", int), max_positions=max_positions, ffn=ffn,
                   activation=activation, tied_embeddings=tied, window=window)


_FAMILIES: dict[str, Callable[[_Reader, str], LlmSpec]] = {
    "gpt2": _gpt2, "llama": _llama, "mistral": _llama, "opt": _opt}


def parse_hf_config(data: object, source: str, name: str) -> LlmSpec:
    """An `LlmSpec` from a decoded config.json. Raises `InputError` naming ``source`` and
    the key for a missing or bad key or an unknown ``model_type``."""
    if not isinstance(data, dict):
        raise InputError(source, "", "expected a JSON object (a HuggingFace config.json)")
    model_type = data.get("model_type")
    if model_type not in _FAMILIES:
        raise InputError(source, "model_type", f"{model_type!r} is not a modelled decoder "
                         f"LLM; known: {', '.join(sorted(_FAMILIES))}")
    return _FAMILIES[model_type](_Reader(data, source), name)


def load_llm(path_or_name: str) -> LlmSpec:
    """An `LlmSpec` from a config.json path or a shipped name (`SHIPPED`). Raises
    `InputError` for an unreadable file, bad JSON or a bad key."""
    if path_or_name in SHIPPED:
        return parse_hf_config(SHIPPED[path_or_name], path_or_name, path_or_name)
    path = Path(path_or_name)
    if not path.exists():
        raise InputError(path_or_name, "", "no such file and no shipped LLM of that name; "
                         f"shipped: {', '.join(sorted(SHIPPED))}")
    return parse_hf_config(read_json(path), path_or_name, path.stem)
