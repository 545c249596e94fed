"""The network as a directed graph (`simaccel.dag`) of tensors and layers, every shape
inferred.

Nodes are tensor names (model inputs and layer outputs; a layer's output is named after the
layer); an edge ``a -> b`` means layer ``b`` reads tensor ``a``. Building the graph is where
dangling references, duplicate names, cycles and shape mismatches are rejected.

The execution order depends on the graph alone, never on the order the file lists its layers
(`execution_order`): a layer runs once every tensor it reads exists; among the layers ready
to run, the one whose inputs were completed last goes first (a chain runs on while it can,
so a residual block's main path runs before its shortcut), and ties go by name in natural
order (``conv2`` before ``conv10``). A model whose file format fixes the order (a SCALE-Sim
topology, `Model.sequential`) runs its layers in the order listed.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from simaccel.dag import Dag
from simaccel.errors import InputError
from simaccel.model import LayerSpec, Model, natural_key
from simaccel.shapes import MAX_ELEMENTS, Shape, ShapeError, infer_shape


@dataclass(frozen=True)
class Graph:
    """A model with its dataflow graph, topological layer order and every tensor's shape."""

    model: Model
    dag: Dag
    order: tuple[str, ...]
    shapes: Mapping[str, Shape]

    def __reduce__(self):  # picklable for sweep workers (a mappingproxy is not)
        return (_graph, (self.model, self.dag, self.order, dict(self.shapes)))

    def layer(self, name: str) -> LayerSpec:
        """The layer spec that produces tensor ``name``."""
        return self.dag.nodes[name]["layer"]

    def consumers(self, name: str) -> list[str]:
        """Layers that read tensor ``name``, in execution order."""
        return sorted(self.dag.successors(name), key=self.order.index)

    def input_shapes(self, name: str) -> list[Shape]:
        """Shapes of the tensors layer ``name`` reads, in the order it lists them."""
        return [self.shapes[t] for t in self.layer(name).inputs]


def _graph(model: Model, dag: Dag, order: tuple[str, ...], shapes: dict) -> Graph:
    return Graph(model=model, dag=dag, order=order, shapes=MappingProxyType(shapes))


def build_graph(model: Model) -> Graph:
    """Check the model's wiring and infer every tensor's shape (elements per axis)."""
    src = model.source
    dag = Dag()
    for i, spec in enumerate(model.inputs):
        if spec.name in dag:
            raise InputError(src, f"inputs[{i}].name", f"duplicate name {spec.name!r}")
        if len(spec.shape) and _elements(spec.shape) > MAX_ELEMENTS:
            raise InputError(src, f"inputs[{i}].shape", "more than 2**34 elements")
        dag.add_node(spec.name, index=-1, layer=None)
    for i, layer in enumerate(model.layers):
        if layer.name in dag:
            raise InputError(src, f"layers[{i}].name", f"duplicate name {layer.name!r}")
        dag.add_node(layer.name, index=i, layer=layer)
    for i, layer in enumerate(model.layers):
        for j, tensor in enumerate(layer.inputs):
            if tensor not in dag:
                raise InputError(src, f"layers[{i}].inputs[{j}]", f"no input or layer named "
                                 f"{tensor!r}")
            dag.add_edge(tensor, layer.name)
    _reject_cycles(model, dag)
    for j, name in enumerate(model.outputs):
        if name not in dag:
            raise InputError(src, f"outputs[{j}]", f"no input or layer named {name!r}")
    order = _listed_order(model) if model.sequential else execution_order(dag)
    shapes: dict[str, Shape] = {spec.name: spec.shape for spec in model.inputs}
    for name in order:
        index = dag.nodes[name]["index"]
        layer = dag.nodes[name]["layer"]
        try:
            shapes[name] = infer_shape(layer, [shapes[t] for t in layer.inputs])
        except ShapeError as exc:
            field = f"layers[{index}]" + (f".{exc.field}" if exc.field else "")
            if name in model.onnx_nodes:  # an ONNX import: the node the user can find
                field = f"node {model.onnx_nodes[name]}"
            raise InputError(src, field, f"{exc.message} (layer {name!r}, op {layer.op})")\
                from None
    return Graph(model=model, dag=dag, order=order, shapes=MappingProxyType(shapes))


def execution_order(dag: Dag) -> tuple[str, ...]:
    """The layers of an acyclic ``dag`` in the order they run (see the module docstring):
    a topological order that depends only on the graph's edges and names."""
    waiting = {node: dag.in_degree(node) for node in dag.nodes}
    ready = [(0, natural_key(node), node) for node, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, _, node = heapq.heappop(ready)
        is_layer = dag.nodes[node]["layer"] is not None
        if is_layer:
            order.append(node)
        for consumer in dag.successors(node):
            waiting[consumer] -= 1
            if waiting[consumer] == 0:  # ready now: after everything readied before
                heapq.heappush(ready, (-len(order), natural_key(consumer), consumer))
    return tuple(order)


def _listed_order(model: Model) -> tuple[str, ...]:
    """The layers in the order ``model`` lists them (`Model.sequential`); a layer that reads
    a layer listed after it is refused, naming its input."""
    done = {spec.name for spec in model.inputs}
    for i, layer in enumerate(model.layers):
        for j, tensor in enumerate(layer.inputs):
            if tensor not in done:
                raise InputError(model.source, f"layers[{i}].inputs[{j}]", f"reads "
                                 f"{tensor!r}, which runs after it (layers run in the order "
                                 "listed)")
        done.add(layer.name)
    return tuple(layer.name for layer in model.layers)


def _reject_cycles(model: Model, dag: Dag) -> None:
    cycle = dag.find_cycle()
    if cycle is None:
        return
    names = [*cycle, cycle[0]]
    first = min(dag.nodes[n]["index"] for n in names)
    raise InputError(model.source, f"layers[{first}].inputs",
                     "the graph has a cycle: " + " -> ".join(names))


def _elements(shape: Shape) -> int:
    out = 1
    for d in shape:
        out *= d
    return out
