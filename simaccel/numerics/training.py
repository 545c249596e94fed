"""Training executed by the accelerator's numerics (docs/architecture.md, "Training").

`StepExecutor` runs a compiled training step (`simaccel.backward.training_step` → Program) on
real minibatches: every forward and backward GEMM by the Program's own instructions
(`simaccel.numerics.execute.run_gemm`: operands in the config's type, fp32 accumulators),
vector kernels in float64 rounded to the activation type, and the optimizer on fp32 master
weights (mixed precision as chips train: Micikevicius et al., ICLR 2018). fp16 scales the
loss dynamically (PyTorch's GradScaler defaults: start 2¹⁶, halve and skip the step on an
overflow, double after 2000 clean steps). ``reference=True`` is the float64 run: no
rounding and one plain matmul per GEMM instead of the Program.

The loop over epochs and minibatches is `simaccel.trainer.train`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from simaccel.domain import DType
from simaccel.errors import InputError
from simaccel.hardware import Hardware
from simaccel.model import Model
from simaccel.numerics import weights as model_weights
from simaccel.numerics.execute import run_gemm
from simaccel.numerics.quant import round_to
from simaccel.numerics.train_ops import KINDS
from simaccel.program import Program
from simaccel.training import Optimizer, TrainingStep

#: Learning rates when none is given: Adam's 2e-3 is what scripts/train_digits.py trains the
#: shipped digits weights with; SGD and momentum values are this project's choice for the
#: digits CNN (tested to reach the accuracy floor), not from a source.
DEFAULT_LR = {Optimizer.ADAM: 2e-3, Optimizer.MOMENTUM: 0.05, Optimizer.SGD: 0.1}
#: Momentum coefficient μ (Sutskever et al., ICML 2013) and Adam's β1, β2, ε (Kingma & Ba's
#: defaults).
MOMENTUM, BETA1, BETA2, EPSILON = 0.9, 0.9, 0.999, 1e-8
#: fp16 dynamic loss scaling: PyTorch torch.amp.GradScaler's init_scale, growth_interval.
LOSS_SCALE_START, LOSS_SCALE_INTERVAL = 2.0**16, 2000


@dataclass(frozen=True)
class TrainConfig:
    """Epochs, minibatch size, optimizer, learning rate (None: `DEFAULT_LR`) and the seed of
    the initial weights (He-normal, `simaccel.numerics.weights`) and of the shuffling."""

    epochs: int = 10
    batch: int = 32
    optimizer: Optimizer = Optimizer.ADAM
    lr: float | None = None
    seed: int = 0


class _Context:
    """The tensors of one step and what the op functions of `train_ops` read."""

    def __init__(self, executor: StepExecutor, params: Mapping) -> None:
        self.graph = executor.step.graph
        self.params = params
        self.gemm = executor.gemm
        self.round = executor.round
        self.weight_type = executor.weight_type
        self.tensors: dict[str, np.ndarray] = {}
        self.pre: dict[str, np.ndarray] = {}
        self.working: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.labels = np.zeros(0, dtype=np.int64)
        self.loss = math.nan
        self.loss_scale = executor.loss_scale

    def read(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A tensor of the step in ``shape`` (a view's gradient in its source's shape)."""
        return self.tensors[name].reshape(shape)

    def weights(self, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """The layer's weights in the weight type and its bias in fp32 (from the master
        copy, once per step)."""
        if layer not in self.working:
            p = self.params[layer]
            w = p["kernel"]
            bias = p.get("bias", np.zeros(w.shape[-1]))
            self.working[layer] = (self.weight_type(w), round_to(bias, DType.FP32)
                                   if self.weight_type is not _identity else bias)
        return self.working[layer]


def _identity(x: np.ndarray) -> np.ndarray:
    return x


class StepExecutor:
    """Executes ``step`` (compiled to ``program`` on ``hw``) on minibatches."""

    def __init__(self, step: TrainingStep, program: Program, hw: Hardware,
                 reference: bool = False) -> None:
        self.step = step
        self.reference = reference
        self.instructions: dict[int, list] = {}
        for ins in program.instructions:
            self.instructions.setdefault(ins.kernel, []).append(ins)
        act, wgt = hw.dtypes.input, hw.dtypes.weight
        self.round = _identity if reference else (lambda x: round_to(x, act))
        self.weight_type = _identity if reference else (lambda x: round_to(x, wgt))
        self.fp16 = act is DType.FP16 and not reference
        self.loss_scale = LOSS_SCALE_START if self.fp16 else 1.0
        self.clean_steps = 0
        self.skipped = 0
        missing = sorted({op.kind for op in step.ops if op.kind not in KINDS
                          and op.kind != "update"})
        if missing:
            raise InputError(step.graph.model.source, "layers", "no training numerics for "
                             + ", ".join(missing) + " (simulate --train times it)")

    def gemm(self, index: int, a: np.ndarray, b: np.ndarray, init: np.ndarray) -> np.ndarray:
        """Kernel ``index``'s GEMM: [g, M, K] · [g, K, N] + init [g, N] → [g, M, N]."""
        if self.reference:
            return init[:, None, :] + np.matmul(a, b)
        return run_gemm(self.instructions[index], a, b, init, DType.FP32).accumulators

    def forward(self, params: Mapping, x: np.ndarray, labels: np.ndarray,
                phases: tuple[str, ...] = ("forward", "loss")) -> _Context:
        """Run the kernels of ``phases`` on the batch ``x`` (NHWC) with ``labels``."""
        ctx = _Context(self, params)
        ctx.tensors[self.step.graph.model.inputs[0].name] = self.round(x)
        ctx.labels = labels
        for i, op in enumerate(self.step.ops):
            if op.phase not in phases or op.kind == "update":
                continue
            ctx.tensors[op.writes] = self.round(KINDS[op.kind](ctx, i, op))
        return ctx

    def gradients(self, params: Mapping, x: np.ndarray, labels: np.ndarray
                  ) -> tuple[float, dict[str, dict[str, np.ndarray]]]:
        """The loss and every parameter's gradient (unscaled, float64) for one batch."""
        ctx = self.forward(params, x, labels, ("forward", "loss", "backward", "recompute"))
        grads: dict[str, dict[str, np.ndarray]] = {}
        for op in self.step.ops:
            if op.kind == "update":
                for name in op.reads[:-1]:  # the last is the master weights and state
                    key = name.removesuffix(".grad").rsplit(".", 1)[1]
                    value = ctx.tensors[name] / ctx.loss_scale
                    mine = grads.setdefault(op.layer, {})
                    if key == "params":  # a norm's [dγ, dβ]
                        mine["gamma"], mine["beta"] = np.split(value, 2)
                    else:
                        mine[key] = value
        return ctx.loss, grads

    def scaled_ok(self, grads: Mapping) -> bool:
        """fp16 loss scaling: False (skip the step, halve the scale) on a non-finite
        gradient; double the scale after `LOSS_SCALE_INTERVAL` clean steps."""
        if not self.fp16:
            return True
        finite = all(np.isfinite(g).all() for layer in grads.values() for g in layer.values())
        if not finite:
            self.loss_scale /= 2
            self.clean_steps = 0
            self.skipped += 1
            return False
        self.clean_steps += 1
        if self.clean_steps == LOSS_SCALE_INTERVAL:
            self.loss_scale *= 2
            self.clean_steps = 0
        return True


class Updater:
    """The update rule on fp32 master weights (float64 arrays rounded to fp32 after every
    update; kept exactly in float64 for the reference)."""

    def __init__(self, kind: Optimizer, lr: float, master: Callable) -> None:
        self.kind, self.lr, self.master = kind, lr, master
        self.state: dict[tuple[str, str], list[np.ndarray]] = {}
        self.t = 0

    def apply(self, params: dict, grads: Mapping) -> None:
        self.t += 1
        for layer, tensors in grads.items():
            for key, g in tensors.items():
                w = params[layer][key]
                params[layer][key] = self.master(w - self._delta((layer, key), g))

    def _delta(self, key: tuple[str, str], g: np.ndarray) -> np.ndarray:
        if self.kind is Optimizer.SGD:
            return self.lr * g
        state = self.state.setdefault(key, [np.zeros_like(g), np.zeros_like(g)])
        if self.kind is Optimizer.MOMENTUM:
            state[0] = self.master(MOMENTUM * state[0] + g)
            return self.lr * state[0]
        state[0] = self.master(BETA1 * state[0] + (1 - BETA1) * g)
        state[1] = self.master(BETA2 * state[1] + (1 - BETA2) * g * g)
        step = self.lr * math.sqrt(1 - BETA2**self.t) / (1 - BETA1**self.t)
        return step * state[0] / (np.sqrt(state[1]) + EPSILON)


def initial_params(model: Model, step: TrainingStep, seed: int) -> dict:
    """He-normal weights drawn from ``seed`` (the model's weights file is not used)."""
    graph = replace(step.graph, model=replace(model, seed=seed, weights=None,
                                              weights_path=None))
    return model_weights.model_params(graph)
