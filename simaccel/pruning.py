"""Pruning: zero some of a model's conv and dense weights, magnitude or N:M structured.

* **magnitude**: in each layer, the fraction ``sparsity`` of its weights with the smallest
  |w| become 0 (ties broken by position; biases and batchnorm parameters are kept). Han et
  al., "Learning both weights and connections", NeurIPS 2015, prune this way per layer.
* **N:M**: in every run of M consecutive weights along the GEMM's K (kh, kw, channel: the
  im2col order; runs start at K = 0, a final short run counts as one), only the n largest
  |w| are kept: what NVIDIA's 2:4 sparse tensor cores execute (A100 whitepaper, 2020).

`prune_params` prunes a model's parameters (from its .npz, or drawn from its seed when it has
none); `with_weight_density` gives a weight-less model synthetic sparse weights, so timing,
bytes, energy and numerics all see the same zeros.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from simaccel.graph import Graph
from simaccel.model import Conv2d, Dense, Model
from simaccel.sparse_formats import NM_PATTERNS
from simaccel.sparsity import gemm_view


@dataclass(frozen=True)
class Pruning:
    """What to prune: ``method`` ``"magnitude"`` with ``sparsity`` (0..1, the share zeroed
    per layer) or ``"nm"`` with ``pattern`` (n, m)."""

    method: str
    sparsity: float = 0.0
    pattern: tuple[int, int] = (2, 4)


def parse_pattern(text: str) -> tuple[int, int]:
    """``"2:4"`` → (2, 4); one of `NM_PATTERNS`, else ValueError naming them."""
    parts = text.split(":")
    pattern = tuple(int(p) for p in parts) if len(parts) == 2 and all(
        p.isdigit() for p in parts) else None
    if pattern not in NM_PATTERNS:
        known = ", ".join(f"{n}:{m}" for n, m in NM_PATTERNS)
        raise ValueError(f"{text!r} is not an N:M pattern simaccel knows ({known})")
    return pattern  # type: ignore[return-value]


#: The smallest density `--weight-density` takes: below it not one weight of a billion
#: stays, and a subnormal density would reach the arithmetic.
MIN_DENSITY = 1e-9


def parse_density(text: str) -> Pruning:
    """``--weight-density``: a density in (0, 1] (magnitude pruning to it) or an N:M
    pattern (``"2:4"``). Raises ValueError saying what is wrong."""
    if ":" in text:
        return Pruning("nm", pattern=parse_pattern(text))
    try:
        density = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither a density in (0, 1] nor an N:M pattern "
                         "such as 2:4") from None
    if not 0 < density <= 1:
        raise ValueError(f"density {text} is outside (0, 1]")
    if density < MIN_DENSITY:
        raise ValueError(f"density {text} leaves no weight of any layer: give at least "
                         f"{MIN_DENSITY:g}")
    return Pruning("magnitude", sparsity=1.0 - density)


def magnitude(weights: np.ndarray, sparsity: float) -> np.ndarray:
    """``weights`` with its round(sparsity × size) smallest |w| set to 0 (first positions
    first among equal magnitudes)."""
    flat = np.array(weights, dtype=np.float64).reshape(-1)
    count = int(round(sparsity * flat.size))
    flat[np.argsort(np.abs(flat), kind="stable")[:count]] = 0.0
    return flat.reshape(np.shape(weights))


def nm(b: np.ndarray, pattern: tuple[int, int]) -> np.ndarray:
    """``b [g, K, N]`` with only the n largest |w| of every run of M along K kept (first
    positions first among equals)."""
    keep, run = pattern
    g, k, n = b.shape
    padded = np.zeros((g, math.ceil(k / run) * run, n))
    padded[:, :k] = b
    blocks = padded.reshape(g, -1, run, n)
    order = np.argsort(-np.abs(blocks), axis=2, kind="stable")
    mask = np.zeros(blocks.shape, dtype=bool)
    np.put_along_axis(mask, order[:, :, :keep, :], True, axis=2)
    return np.where(mask, blocks, 0.0).reshape(g, -1, n)[:, :k]


def _prune_layer(weights: np.ndarray, groups: int, how: Pruning) -> np.ndarray:
    if how.method == "magnitude":
        return magnitude(weights, how.sparsity)
    if how.method != "nm":
        raise ValueError(f"unknown pruning method {how.method!r}")
    pruned = nm(gemm_view(np.asarray(weights, dtype=np.float64), groups), how.pattern)
    if weights.ndim == 2:
        return pruned[0]
    kh, kw, cg, f = weights.shape
    return pruned.reshape(groups, kh * kw, cg, f // groups).transpose(1, 2, 0, 3).reshape(
        kh, kw, cg, f)


def prune_params(graph: Graph, how: Pruning) -> dict[str, np.ndarray]:
    """All of the model's parameters by .npz key (``"<layer>.<name>"``), with every conv
    and dense kernel pruned by ``how``; from its weights file, else drawn from its seed.
    Raises `InputError` when its weights file lacks a parameter."""
    from simaccel.numerics.weights import model_params  # numerics: a later stage's reader

    params = model_params(graph, graph.model.weights)
    out = {}
    for layer, values in params.items():
        spec = graph.layer(layer)
        for key, value in values.items():
            if key == "kernel" and isinstance(spec, Conv2d | Dense):
                groups = spec.groups if isinstance(spec, Conv2d) else 1
                value = _prune_layer(value, groups, how)
            out[f"{layer}.{key}"] = value
    return out


def with_weight_density(model: Model, graph: Graph, how: Pruning) -> Model:
    """``model`` holding its parameters pruned by ``how`` (synthetic sparsity for a model
    without weights: drawn from its seed, then pruned)."""
    return replace(model, weights=prune_params(graph, how))
