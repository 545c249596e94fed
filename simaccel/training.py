"""A training step as a graph transformation before lowering (docs/architecture.md,
"Training").

`simaccel.backward.training_step` turns a shaped `Graph` into the kernels of one step of
minibatch training — the forward pass, the loss gradient, the backward pass and the
optimizer update — each with a `StepOp` saying what it computes, so the same list is timed
by the engine and executed by the numerics (`simaccel.numerics.training`). The backward
pass is built per layer by a registry (`simaccel.backward.BACKWARD`, one emitter per layer
type); an op without one is refused (`TrainingError`).

For a GEMM layer Y = act(X·W + b) (convolutions by im2col: X is [g, M, K], W [g, K, N]):

* ``L.act`` — the activation's backward on the vector unit: G = dY ⊙ act'(·);
* ``L.dW`` — dW = Xᵀ·G, a GEMM with activations on *both* sides (``filter_activation``);
* ``L.db`` — db = Σ_rows G on the vector unit;
* ``L.dX`` — dX = G·Wᵀ. For a stride-1 convolution whose output has its input's size, the
  transposed convolution (G padded, the kernel flipped, channels swapped per group) as an
  implicit-im2col GEMM; for any other, the column gradient (im2col's transpose, the form
  Caffe's backward uses), which ``L.col2im`` scatters back into the input's shape (stride,
  padding, dilation and groups as in the forward). Either way every backward GEMM has
  exactly the forward GEMM's MACs. dX is skipped where the input needs no gradient (a model
  input), so a step's MACs are 3 × forward − those of the skipped dX.

Activations the backward pass reads stay live from the forward pass to their backward reader
(the *stash*); the residency planner keeps them on chip or spills them like any tensor.
The optimizer update (SGD, momentum, Adam) reads each parameter's gradient, its fp32 master
weights and state tensors and writes them back, on the vector unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from simaccel.domain import DType
from simaccel.graph import Graph
from simaccel.kernels import GemmKernel, Kernel, VectorKernel
from simaccel.model import BatchNorm, Conv2d, Dense, LayerNorm


class Optimizer(StrEnum):
    """The parameter update rule."""

    SGD = "sgd"            #: w ← w − η·g
    MOMENTUM = "momentum"  #: v ← μ·v + g; w ← w − η·v (Sutskever et al., ICML 2013)
    ADAM = "adam"          #: Kingma & Ba, ICLR 2015


#: fp32 state tensors per parameter: momentum's velocity; Adam's first and second moments.
STATE_TENSORS = {Optimizer.SGD: 0, Optimizer.MOMENTUM: 1, Optimizer.ADAM: 2}
#: Vector operations per parameter element, counted from the update rules: SGD a multiply and
#: a subtract (2); momentum a multiply-add for v and a multiply-subtract for w (4); Adam
#: m ← β1·m + (1−β1)·g (3), v ← β2·v + (1−β2)·g² (4), sqrt, add ε and divide (3) and the
#: scaled subtract (2), the bias corrections folded into the per-step scalar step size: 12.
UPDATE_OPS = {Optimizer.SGD: 2, Optimizer.MOMENTUM: 4, Optimizer.ADAM: 12}
#: Bytes of a master weight or state element: fp32, as mixed-precision training keeps them
#: (Micikevicius et al., "Mixed Precision Training", ICLR 2018).
MASTER_BYTES = 4
#: Vector operations per element of an activation's backward, from the derivative each
#: computes: relu's mask-and-select (1); relu6's two compares and select (2); sigmoid
#: y(1−y)·dy and tanh (1−y²)·dy (3); GELU Φ(x) + x·φ(x) recomputed (exp, erf table, 3
#: multiply-adds: 10); softmax y ⊙ (dy − Σ dy·y): multiply, sum, subtract, multiply (4).
ACT_GRAD_OPS = {"relu": 1, "relu6": 2, "sigmoid": 3, "tanh": 3, "gelu": 10, "gelu_tanh": 10,
                "softmax": 4}
#: Softmax + cross-entropy's gradient per logit: (softmax(z) − onehot) / B is a subtract and a
#: scale (2) on the softmax's output; 5 more (max, subtract, exp, sum, divide, as in
#: `simaccel.kernels.VECTOR_OPS_PER_ELEMENT`) where the model's output is not a softmax.
LOSS_OPS_ON_SOFTMAX, SOFTMAX_OPS = 2, 5
#: Normalisation backward per element (batchnorm over the batch, layernorm over features):
#: dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)): recompute x̂ (2), two reductions (3), combine
#: (4): 9. Batchnorm's forward in training mode computes the batch's mean and variance
#: (sum, square-sum: 3) before normalising (2): 5 per element instead of inference's 2.
NORM_GRAD_OPS, BATCHNORM_TRAIN_OPS = 9, 5


#: The name of the labels input of a training step.
LABELS = "labels"


class TrainingError(Exception):
    """The model cannot be trained as described (an op without a backward)."""

    def __init__(self, layer: str, message: str) -> None:
        super().__init__(f"{layer}: {message}")
        self.layer = layer
        self.message = message


@dataclass(frozen=True)
class StepOp:
    """What one kernel of the step computes: ``kind`` (a key of the numerics' registry),
    the model ``layer`` it belongs to, its ``phase`` (forward, backward, recompute, update),
    the tensors it ``reads`` and the one it ``writes``; ``index`` picks an operand (which
    input's gradient)."""

    kind: str
    layer: str
    phase: str
    reads: tuple[str, ...]
    writes: str
    index: int = 0


@dataclass(frozen=True)
class TrainingStep:
    """One training step: kernels in execution order and, per kernel, its `StepOp`.

    ``parameters``: elements of every trainable tensor (``"<layer>.<name>"``); ``stashed``:
    forward tensors the backward pass reads; ``labels``: the name of the labels input (one
    class index per output row); ``label_elements`` its size; ``states``: per trainable
    layer the input ``"<layer>.state"`` holding its fp32 master weights and optimizer state,
    in activation elements (an fp32 value is 4 / activation bytes of them)."""

    graph: Graph
    kernels: tuple[Kernel, ...]
    ops: tuple[StepOp, ...]
    optimizer: Optimizer
    parameters: Mapping[str, int]
    stashed: tuple[str, ...]
    label_elements: int
    states: Mapping[str, int] = field(default_factory=dict)
    recompute: bool = False
    labels: str = LABELS

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole step."""
        return sum(k.macs for k in self.kernels)

    def input_elements(self) -> dict[str, int]:
        """Elements of every input the step reads: the model's, the labels, the states."""
        out = {t.name: math.prod(t.shape) for t in self.graph.model.inputs}
        out[self.labels] = self.label_elements
        return {**out, **self.states}


def grad_name(tensor: str) -> str:
    """The name of the gradient of ``tensor`` (of the loss with respect to it)."""
    return f"{tensor}.grad"


class StepBuilder:
    """Collects kernels and their ops; tracks each tensor's gradient contributions."""

    def __init__(self, graph: Graph, dtypes: tuple[DType, DType],
                 optimizer: Optimizer) -> None:
        self.graph = graph
        self.dtypes = dtypes
        self.optimizer = optimizer
        self.kernels: list[Kernel] = []
        self.ops: list[StepOp] = []
        self.contributions: dict[str, list[str]] = {}
        self.parameters: dict[str, int] = {}
        self.forward: dict[str, GemmKernel] = {}
        self.pre_grad: dict[str, str] = {}
        self.states: dict[str, int] = {}
        self.needs_grad = _needs_grad(graph)
        out = graph.shapes[graph.model.outputs[-1]]
        self.label_elements = math.prod(out[:-1])  #: one class index per output row

    def add(self, kernel: Kernel, op: StepOp) -> str:
        self.kernels.append(replace(kernel, inputs=op.reads, output=op.writes))
        self.ops.append(op)
        return op.writes

    def vector(self, name: str, layer: str, kind: str, reads: tuple[str, ...], writes: str,
               elements: int, total_ops: int, index: int = 0, phase: str = "backward") -> str:
        """A vector kernel of ``elements`` outputs doing ``total_ops`` operations."""
        read = sum(self.elements(t) for t in reads)
        kernel = VectorKernel(name=name, op=kind, elements=elements,
                              ops_per_element=math.ceil(total_ops / elements) if total_ops
                              else 0, input_elements=read)
        return self.add(kernel, StepOp(kind, layer, phase, reads, writes, index))

    def elements(self, tensor: str) -> int:
        """Elements of a tensor of the step (a kernel's output, a model input, the labels)."""
        if tensor == LABELS:
            return self.label_elements
        if tensor in self.states:
            return self.states[tensor]
        for kernel in reversed(self.kernels):
            if kernel.output == tensor:
                return kernel.elements if isinstance(kernel, VectorKernel) \
                    else kernel.ofmap_elements
        return math.prod(self.graph.shapes[tensor.removesuffix(".grad")])

    def contribute(self, tensor: str, source: str) -> None:
        """``source`` adds to the gradient of ``tensor`` (if it needs one)."""
        if self.needs_grad.get(tensor, False):
            self.contributions.setdefault(tensor, []).append(source)

    def gradient(self, tensor: str) -> str | None:
        """The gradient of ``tensor``: its one contribution, or their sum (a vector kernel
        emitted now); None when nothing depends on it."""
        parts = self.contributions.get(tensor, [])
        if len(parts) <= 1:
            return parts[0] if parts else None
        n = math.prod(self.graph.shapes[tensor])
        return self.vector(f"{tensor}.gradsum", tensor, "grad_sum", tuple(parts),
                           grad_name(tensor), n, n * (len(parts) - 1))


def _needs_grad(graph: Graph) -> dict[str, bool]:
    """Whether the loss's gradient must reach each tensor: outputs of layers that have
    parameters or read a tensor that needs one (model inputs do not)."""
    need = {t.name: False for t in graph.model.inputs}
    for name in graph.order:
        layer = graph.layer(name)
        trainable = isinstance(layer, Conv2d | Dense | BatchNorm | LayerNorm)
        need[name] = trainable or any(need[t] for t in layer.inputs)
    return need
