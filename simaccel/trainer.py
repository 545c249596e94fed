"""The training loop of ``simaccel train``: minibatches through `StepExecutor`, per epoch the
train loss, test loss and accuracy, and the simulated time and energy of the epoch's steps
on the chip (each step is the same Program: its cycles and energy times the step count)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simaccel.datasets import Dataset, check_fits
from simaccel.domain import DType
from simaccel.errors import InputError
from simaccel.hardware import Hardware
from simaccel.model import Model
from simaccel.numerics.quant import round_to
from simaccel.numerics.training import (
    DEFAULT_LR,
    StepExecutor,
    TrainConfig,
    Updater,
    initial_params,
)
from simaccel.training_run import build_step, step_cost, with_batch


@dataclass(frozen=True)
class Epoch:
    """One epoch's figures: mean train loss over its steps, test loss and accuracy
    (0 to 1), steps, simulated seconds and energy (pJ) of those steps."""

    index: int
    train_loss: float
    test_loss: float
    accuracy: float
    steps: int
    seconds: float
    energy_pj: float

    def line(self) -> str:
        return (f"Epoch {self.index} Train Loss {self.train_loss:.4f} Test Loss "
                f"{self.test_loss:.4f} Acc {100 * self.accuracy:.2f}%   simulated "
                f"{self.seconds * 1e3:.3f} ms, {self.energy_pj * 1e-6:,.1f} µJ "
                f"({self.steps} steps)")


@dataclass(frozen=True)
class TrainingRun:
    """Every epoch of a run, the hardware's name and types, and the float64 reference's
    final accuracy when it was trained too."""

    epochs: tuple[Epoch, ...]
    hardware: str
    dtype: str
    reference_accuracy: float | None = None

    def summary(self) -> str:
        last = self.epochs[-1]
        seconds = sum(e.seconds for e in self.epochs)
        energy = sum(e.energy_pj for e in self.epochs)
        text = (f"{self.dtype} on {self.hardware}: test accuracy {100 * last.accuracy:.2f}% "
                f"after {len(self.epochs)} epochs; simulated {seconds * 1e3:.2f} ms, "
                f"{energy * 1e-9:,.3f} mJ on the chip")
        if self.reference_accuracy is not None:
            text += f"; float64 reference {100 * self.reference_accuracy:.2f}%"
        return text


def train(model: Model, hw: Hardware, config: TrainConfig, data: Dataset,
          say: Callable[[str], None] = print, reference: bool = False) -> TrainingRun:
    """Train ``model`` from scratch on ``data`` through ``hw``'s numerics; ``reference``:
    also train it in float64 from the same weights and batches. BLAS runs on one thread
    (threadpoolctl, which scikit-learn brings, when installed): the tiles' matmuls are small,
    and waking BLAS threads for each cost 100× the matmul on a busy machine (measured:
    a 512×144·144×32 tile took 45-110 ms with OpenBLAS's threads, 0.3 ms on one)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return _train(model, hw, config, data, say, reference)
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(model, hw, config, data, say, reference)


def _train(model: Model, hw: Hardware, config: TrainConfig, data: Dataset,
           say: Callable[[str], None], reference: bool) -> TrainingRun:
    if config.batch > len(data.x_train):  # not one full batch an epoch: nothing would train
        raise InputError("--batch", str(config.batch),
                         f"larger than the {len(data.x_train)} training samples of {data.name}")
    step = build_step(with_batch(model, config.batch), hw, config.optimizer)
    check_fits(model, data.name, step.graph.shapes[model.outputs[0]])
    program, cycles, energy_pj = step_cost(step, hw)
    executor = StepExecutor(step, program, hw)
    epochs = _loop(model, step, executor, config, data, say,
                   lambda s: (s * cycles / (hw.clock_mhz * 1e6), s * energy_pj))
    ref = None
    if reference:
        quiet = StepExecutor(step, program, hw, reference=True)
        ref = _loop(model, step, quiet, config, data, lambda line: None,
                    lambda s: (0.0, 0.0))[-1].accuracy
    return TrainingRun(epochs, hw.name.split("[")[0], f"{hw.dtypes.input.value}/fp32", ref)


def _loop(model, step, executor: StepExecutor, config: TrainConfig, data: Dataset, say,
          cost) -> tuple[Epoch, ...]:
    params = initial_params(model, step, config.seed)
    master = (lambda x: x) if executor.reference else (lambda x: round_to(x, DType.FP32))
    updater = Updater(config.optimizer, config.lr or DEFAULT_LR[config.optimizer], master)
    rng = np.random.default_rng(config.seed)
    batch = config.batch
    out = []
    for k in range(1, config.epochs + 1):
        order = rng.permutation(len(data.x_train))
        losses = []
        for start in range(0, len(order) - batch + 1, batch):  # full batches only
            idx = order[start:start + batch]
            loss, grads = executor.gradients(params, data.x_train[idx], data.y_train[idx])
            if executor.scaled_ok(grads):
                updater.apply(params, grads)
            losses.append(loss)
        test_loss, accuracy = evaluate(executor, params, data.x_test, data.y_test, batch)
        seconds, energy = cost(len(losses))
        epoch = Epoch(k, float(np.mean(losses)), test_loss, accuracy, len(losses), seconds,
                      energy)
        say(epoch.line())
        out.append(epoch)
    return tuple(out)


def evaluate(executor: StepExecutor, params, x: np.ndarray, y: np.ndarray, batch: int
             ) -> tuple[float, float]:
    """Test loss and accuracy: the forward kernels on batches of ``batch`` (the last padded
    with zeros, its padding ignored)."""
    losses, correct = [], 0
    for start in range(0, len(x), batch):
        xb, yb = x[start:start + batch], y[start:start + batch]
        real = len(xb)
        if real < batch:
            xb = np.concatenate([xb, np.zeros((batch - real, *xb.shape[1:]))])
            yb = np.concatenate([yb, np.zeros(batch - real, dtype=yb.dtype)])
        ctx = executor.forward(params, xb, yb)
        out = ctx.tensors[executor.step.graph.model.outputs[0]]
        probs = out.reshape(batch, -1)[:real]
        correct += int((probs.argmax(axis=1) == yb[:real]).sum())
        picked = probs[np.arange(real), yb[:real]]
        losses.append(-np.log(np.maximum(picked, 1e-30)).sum())
    return float(np.sum(losses) / len(x)), correct / len(x)

