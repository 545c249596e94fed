"""Public functions for training, named after the CLI's: a config in a training precision
(``with_precision``: ``--precision``), one step's kernels without timing them
(``training_step``), training a model through the Program's numerics (``train``: ``simaccel
train``) and data-parallel scaling over chips (``data_parallel_scaling``: ``simulate --train
--parallel data --chips``). ``simaccel.simulate_step`` times one step. Each is a thin, checked
entry to `simaccel.training_run`, `simaccel.trainer` and `simaccel.training_parallel`; bad
arguments raise `InputError` naming the function and the parameter. Reached as
``simaccel.<name>``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from simaccel import api_args
from simaccel.domain import MAX_BATCH, MAX_COUNT, MAX_SEED
from simaccel.errors import InputError

__all__ = ["data_parallel_scaling", "simulate_step", "train", "training_step",
           "with_precision"]

#: The optimizers a step updates with (`simaccel.training.Optimizer`).
OPTIMIZERS = ("sgd", "momentum", "adam")
#: The training precisions: operand types with fp32 accumulators (`simaccel.training_run`).
PRECISIONS = ("bf16", "fp16", "fp32")


def _precision(value: object, where: str) -> str | None:
    return None if value is None else api_args.choice(value, where, "precision", PRECISIONS)


def _training_types(loaded, precision: object, where: str):
    """``loaded`` (a checked `Hardware`) in ``precision``'s types (checked); with no
    precision its own types, which must be float types (integers do not train): an
    `InputError` naming ``precision``."""
    from simaccel.training_run import training_hardware

    chosen = _precision(precision, where)
    if chosen is None and loaded.dtypes.input.is_integer:
        raise InputError(where, "precision", f"None keeps hw's dtypes.input "
                         f"({loaded.dtypes.input.value}), and integer operands do not train "
                         f"(gradients need a float type): pass "
                         f"precision={PRECISIONS[0]!r}, {PRECISIONS[1]!r} or "
                         f"{PRECISIONS[2]!r}")
    return training_hardware(loaded, chosen)


def with_precision(hw, precision: str):
    """``hw`` (a `Hardware`, shipped name or config path) with ``precision`` operands
    (``"bf16"``, ``"fp16"`` or ``"fp32"``) and fp32 accumulators, as ``--precision`` sets
    them for training. Raises `InputError` naming ``precision`` or ``hw``."""
    from simaccel.training_run import training_hardware

    where = "simaccel.with_precision"
    loaded = api_args.hardware(hw, where)
    if precision is None:
        raise InputError(where, "precision", f"None is not one of {', '.join(PRECISIONS)}")
    return training_hardware(loaded, _precision(precision, where))


def training_step(model, hw, optimizer: str = "sgd", *, batch: int | None = None,
                  precision: str | None = None, recompute: bool = False):
    """The kernels of one training step of ``model`` (a `Model` or model file) at ``batch``
    (None: the model's) in ``hw``'s types or ``precision``'s, without timing it: a
    `TrainingStep` with ``kernels`` and, per kernel, ``ops`` (`StepOp`: ``phase`` forward,
    loss, backward or update, ``reads``, ``writes``), ``macs`` of the whole step,
    ``parameters`` (elements per trainable tensor) and ``stashed`` tensors. Raises
    `InputError` naming ``model``, ``hw``, ``optimizer``, ``batch`` (1..65536),
    ``precision`` (also when it is None and ``hw``'s operands are integers, which do not
    train), ``recompute``, or the model's layer without a backward."""
    from simaccel.training import Optimizer
    from simaccel.training_run import build_step
    from simaccel.training_run import with_batch as _with_batch

    where = "simaccel.training_step"
    loaded, chip = api_args.model(model, where), api_args.hardware(hw, where)
    opt = Optimizer(api_args.choice(optimizer, where, "optimizer", OPTIMIZERS))
    size = None if batch is None else api_args.count(batch, where, "batch", 1, MAX_BATCH)
    types = _training_types(chip, precision, where)
    return build_step(_with_batch(loaded, size), types, opt,
                      api_args.flag(recompute, where, "recompute"))


def simulate_step(model, hw, optimizer: str = "sgd", batch: int | None = None,
                  recompute: bool = False, trace: bool = True, precision: str | None = None):
    """Simulate one training step of ``model`` (a `Model` or model file) at ``batch`` (None:
    the model's) on ``hw`` (a `Hardware`, shipped name or config path) with ``optimizer``
    (``"sgd"``, ``"momentum"``, ``"adam"``) in ``hw``'s types or ``precision``'s (``"bf16"``,
    ``"fp16"``, ``"fp32"``); ``recompute`` recomputes activations instead of stashing them;
    ``trace=False`` keeps no per-instruction trace. Returns a `TrainingReport`: ``report``
    (the step's `Report`: cycles, bytes, pJ), ``layers`` (per phase), ``stashed_bytes``,
    ``peak_activation_bytes``, ``on_chip_bytes``, ``parameter_count`` and ``to_dict()``.
    Raises `InputError` naming ``model``, ``hw``, ``optimizer``, ``batch`` (a whole number
    in 1..65536), ``recompute``, ``trace`` or ``precision`` (also when it is None and
    ``hw``'s operands are integers, which do not train)."""
    from simaccel.training_run import simulate_step as _simulate_step

    where = "simaccel.simulate_step"
    loaded, chip = api_args.model(model, where), api_args.hardware(hw, where)
    opt = api_args.choice(optimizer, where, "optimizer", OPTIMIZERS)
    size = None if batch is None else api_args.count(batch, where, "batch", 1, MAX_BATCH)
    keep = api_args.flag(recompute, where, "recompute")
    listed = api_args.flag(trace, where, "trace")
    types = _training_types(chip, precision, where)
    return _simulate_step(loaded, types, opt, size, keep, listed)


def _learning_rate(lr: object, where: str) -> float | None:
    if lr is None:
        return None
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr < 1e3:
        raise InputError(where, "lr", f"expected a learning rate above 0 and below 1000, "
                         f"got {lr!r}")  # the CLI's bound (simaccel.cli_train.learning_rate)
    return float(lr)


def _dataset(data: str, where: str, train_samples: int | None, test_samples: int | None):
    from simaccel.datasets import LOADERS, Dataset, load

    full = load(api_args.choice(data, where, "data", LOADERS))
    ends = {}
    for field, value, have in (("train_samples", train_samples, len(full.x_train)),
                               ("test_samples", test_samples, len(full.x_test))):
        ends[field] = have if value is None else api_args.count(value, where, field, 1, have)
    a, b = ends["train_samples"], ends["test_samples"]
    return Dataset(full.name, full.x_train[:a], full.y_train[:a], full.x_test[:b],
                   full.y_test[:b])


def train(model, hw, *, data: str = "digits", epochs: int = 20, batch: int = 32,
          optimizer: str = "adam", lr: float | None = None, seed: int = 0,
          precision: str | None = None, train_samples: int | None = None,
          test_samples: int | None = None, reference: bool = False,
          say: Callable[[str], None] | None = print):
    """Train ``model`` from scratch (He-initialised from ``seed``) on ``data`` (``"digits"``:
    scikit-learn's bundled 8×8 digits; the first ``train_samples`` / ``test_samples`` of its
    split, None: all) as ``simaccel train`` does: every forward and backward GEMM executed by
    the compiled Program's numerics in ``hw``'s types or ``precision``'s. ``say`` gets each
    epoch's line (None: quiet); ``reference`` also trains in float64 from the same start.
    Returns a `TrainingRun`: ``epochs`` (`Epoch`: ``train_loss``, ``test_loss``,
    ``accuracy`` 0..1, ``steps``, simulated ``seconds`` and ``energy_pj`` of the epoch's steps
    on the chip), ``reference_accuracy`` and ``summary()``. Raises `InputError` naming the
    bad argument, or the model when it does not fit the data."""
    from simaccel.datasets import LOADERS, check_fits
    from simaccel.graph import build_graph
    from simaccel.numerics.training import TrainConfig
    from simaccel.trainer import train as _train
    from simaccel.training import Optimizer

    where = "simaccel.train"
    loaded, chip = api_args.model(model, where), api_args.hardware(hw, where)
    api_args.choice(data, where, "data", LOADERS)
    config = TrainConfig(
        epochs=api_args.count(epochs, where, "epochs", 1, MAX_COUNT),
        batch=api_args.count(batch, where, "batch", 1, MAX_COUNT),
        optimizer=Optimizer(api_args.choice(optimizer, where, "optimizer", OPTIMIZERS)),
        lr=_learning_rate(lr, where), seed=api_args.count(seed, where, "seed", 0, MAX_SEED))
    types = _training_types(chip, precision, where)
    dataset = _dataset(data, where, train_samples, test_samples)
    compare = api_args.flag(reference, where, "reference")
    if say is not None and not callable(say):
        raise InputError(where, "say", f"expected a function of one line or None, got "
                         f"{type(say).__name__}")
    check_fits(loaded, dataset.name, build_graph(loaded).shapes[loaded.outputs[0]])
    return _train(loaded, types, config, dataset, say=say or (lambda line: None),
                  reference=compare)


def data_parallel_scaling(model, hw, chips: Sequence[int], *, batch: int | None = None,
                          optimizer: str = "sgd", precision: str | None = None,
                          algorithm: str = "ring", level: str = "system") -> tuple:
    """Data-parallel training of ``model`` over each count in ``chips`` of ``hw``'s system
    (``level="chip"``: of one chip's cores) at the same global ``batch`` (None: the model's),
    every gradient all-reduced by ``algorithm`` while the backward pass goes on, as
    ``simaccel simulate --train --parallel data --chips`` does. Returns a `ScalingPoint` per
    count: ``step`` (``chips``, ``batch``, ``cycles``, ``compute_cycles``,
    ``communication_cycles``, ``exposed_cycles``, ``reduced_bytes``), ``speedup`` over one
    chip and ``efficiency`` = speedup / chips. Raises `InputError` naming ``chips`` (also for
    a batch that does not split evenly), ``batch``, ``optimizer``, ``precision``,
    ``algorithm`` or ``level``."""
    from simaccel.collectives import Algorithm
    from simaccel.training_parallel import MAX_CHIPS, scaling

    where = "simaccel.data_parallel_scaling"
    loaded, system = api_args.model(model, where), api_args.hardware(hw, where)
    if isinstance(chips, str) or not isinstance(chips, Sequence) or not chips:
        raise InputError(where, "chips", f"expected a list of chip counts, got {chips!r}")
    counts = tuple(api_args.count(c, where, "chips", 1, MAX_CHIPS) for c in chips)
    if len(set(counts)) != len(counts):
        raise InputError(where, "chips", f"a count is given twice in {list(counts)}")
    size = None if batch is None else api_args.count(batch, where, "batch", 1, MAX_COUNT)
    total = size if size is not None else loaded.inputs[0].shape[0]
    uneven = [c for c in counts if total % c]
    if uneven:
        raise InputError(where, "chips", f"a batch of {total} does not split evenly over "
                         f"{uneven[0]} chips (each trains on batch / chips samples)")
    opt = api_args.choice(optimizer, where, "optimizer", OPTIMIZERS)
    _training_types(system, precision, where)  # refuses integer operands without precision
    return scaling(loaded, system, counts, batch=size, optimizer=opt,
                   precision=_precision(precision, where),
                   algorithm=api_args.choice(algorithm, where, "algorithm",
                                             [a.value for a in Algorithm]),
                   level=api_args.choice(level, where, "level", ("system", "chip")))
