"""Model parameters: loaded from the model's .npz or drawn from its seed.

Layouts: conv kernels HWIO ``[kh, kw, C/groups, filters]``, dense ``[in, units]``, biases
``[filters]``; batchnorm ``gamma``, ``beta``, ``mean``, ``var`` per channel; layernorm
``gamma``, ``beta`` over the normalised axis. Keys in the .npz are ``"<layer>.<name>"``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping

import numpy as np

from simaccel.errors import InputError
from simaccel.frontends.model_json import check_weights, may_be_infinite
from simaccel.graph import Graph
from simaccel.model import BatchNorm, Conv2d, Dense, LayerNorm, OnnxOp


def _shapes(graph: Graph) -> dict[str, dict[str, tuple[int, ...]]]:
    """Every parameter each layer needs, with its shape."""
    out: dict[str, dict[str, tuple[int, ...]]] = {}
    for name in graph.order:
        layer = graph.layer(name)
        ins = graph.input_shapes(name)
        if isinstance(layer, Conv2d):
            shapes = {"kernel": (*layer.kernel, ins[0][3] // layer.groups, layer.filters)}
            if layer.bias:
                shapes["bias"] = (layer.filters,)
            out[name] = shapes
        elif isinstance(layer, Dense):
            shapes = {"kernel": (ins[0][-1], layer.units)}
            if layer.bias:
                shapes["bias"] = (layer.units,)
            out[name] = shapes
        elif isinstance(layer, BatchNorm):
            c = ins[0][-1]
            out[name] = {"gamma": (c,), "beta": (c,), "mean": (c,), "var": (c,)}
        elif isinstance(layer, LayerNorm):
            c = ins[0][layer.axis]
            out[name] = {"gamma": (c,), "beta": (c,)}
        elif isinstance(layer, OnnxOp) and layer.consts:
            out[name] = {f"c{pos}": tuple(shape) for pos, shape in layer.consts}
    return out


def _draw(rng: np.random.Generator, key: str, shape: tuple[int, ...]) -> np.ndarray:
    """He initialisation, so activations neither vanish nor explode through a deep network
    (He et al., ICCV 2015: variance 2 / fan_in), in its uniform form U(±√(6 / fan_in)) —
    Keras's ``he_uniform``, PyTorch's ``kaiming_uniform_`` for ReLU — which numpy draws
    about 4× faster than the normal form (ResNet-50's 25 M weights); batchnorm statistics
    near identity."""
    if key == "kernel":
        bound = math.sqrt(6.0 / math.prod(shape[:-1]))
        return rng.uniform(-bound, bound, size=shape)
    if key in ("bias", "beta", "mean"):
        return rng.normal(0.0, 0.05, size=shape)
    if key == "gamma":
        return rng.uniform(0.8, 1.2, size=shape)
    return rng.uniform(0.5, 1.5, size=shape)  # var


def named_rng(seed: int, name: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and ``name`` together: what is drawn for a layer or an
    input depends on its name, never on where the file lists it."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()
    words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng([seed, *words])


def model_params(graph: Graph, stored: Mapping[str, np.ndarray] | None = None) -> dict:
    """Parameters per layer (float64): all from ``stored`` (an .npz's arrays; a missing one
    is an error, never silently drawn), or without it drawn from the model's seed and each
    layer's name (`named_rng`), so the listing order of the layers changes nothing."""
    return dict(layer_params(graph, stored))


def param_layers(graph: Graph) -> tuple[str, ...]:
    """The layers that have parameters, in execution order (the keys of `model_params`)."""
    return tuple(_shapes(graph))


def layer_params(graph: Graph, stored: Mapping[str, np.ndarray] | None = None
                 ) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """`model_params` layer by layer, in execution order: (layer, its parameters). A stored
    set is checked whole before the first layer is given."""
    shapes = _shapes(graph)
    if stored is not None:
        loaded = {layer: _stored(graph, stored, layer, each) for layer, each in shapes.items()}
        yield from loaded.items()
        return
    for layer, each in shapes.items():
        rng = named_rng(graph.model.seed, layer)
        yield layer, {key: _draw(rng, key, shape) for key, shape in each.items()}


def _stored(graph: Graph, stored: Mapping[str, np.ndarray], layer: str,
            shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """One layer's parameters from an .npz's arrays, checked (present, finite, shaped)."""
    where = graph.model.weights_path or graph.model.source
    out = {}
    for key, shape in shapes.items():
        full = f"{layer}.{key}"
        if full not in stored:
            raise InputError(where, full, f"missing from the weights (shape {list(shape)}); "
                             "a model with a weights file must give every parameter")
        # an ONNX op's constant (a mask) may be ±inf; GEMM weights may not
        check_weights(stored[full], where, full, infinite_ok=may_be_infinite(graph.layer(layer)))
        value = np.asarray(stored[full], dtype=np.float64)
        if value.shape != shape:
            raise InputError(where, full, f"shape {list(value.shape)} does not match the "
                             f"layer's {list(shape)}")
        out[key] = value
    return out


def input_tensors(graph: Graph, seed: int | None = None) -> dict[str, np.ndarray]:
    """A random input per model input (float64) from ``seed`` (the model's seed + 1 by
    default) and the input's name: standard normal, or 0 and 1 for an integer input (token
    ids, masks: valid indices into any table)."""
    base = graph.model.seed + 1 if seed is None else seed
    return {spec.name: named_rng(base, spec.name).integers(0, 2, spec.shape).astype(np.float64)
            if spec.dtype.is_integer else named_rng(base, spec.name).standard_normal(spec.shape)
            for spec in graph.model.inputs}
