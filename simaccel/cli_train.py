"""The command line's training verbs: ``simulate --train`` (one training step, timed) and
``train`` (minibatch training executed by the Program's numerics). `simaccel.cli` parses
and dispatches; this module holds the options and the handlers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simaccel.domain import MAX_COUNT, MAX_SEED
from simaccel.errors import InputError

OPTIMIZERS = ("sgd", "momentum", "adam")


def _integer(text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
    return value


def positive(text: str) -> int:
    """An integer in 1..`MAX_COUNT` from the command line."""
    return _integer(text, 1, MAX_COUNT)


def seed(text: str) -> int:
    """A seed in 0..`MAX_SEED` (an int64, as numpy's generators take it)."""
    return _integer(text, 0, MAX_SEED)


def learning_rate(text: str) -> float:
    """A finite learning rate > 0 from the command line."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1e3:  # also refuses NaN and infinity
        raise argparse.ArgumentTypeError(f"must be above 0 and below 1000, got {text}")
    return value


def add_step_options(parser: argparse.ArgumentParser, train_verb: bool = False) -> None:
    """--batch, --optimizer, --precision (and for ``simulate``, --train and --recompute)."""
    if not train_verb:
        parser.add_argument("--train", action="store_true",
                            help="simulate one training step (forward, backward, optimizer "
                                 "update) instead of inference")
        parser.add_argument("--recompute", action="store_true",
                            help="with --train: keep only √n checkpoints of the forward "
                                 "activations and recompute the rest (fewer bytes, more MACs)")
        parser.add_argument("--parallel", metavar="KIND", default=None,
                            help="with --train: 'data' trains on the [system]'s chips, each "
                                 "on batch / chips, gradients all-reduced over the links")
        parser.add_argument("--chips", metavar="P[,P...]", default=None,
                            help="with --parallel data: chip counts to sweep (default: the "
                                 "config's [system] chips; cores with --level chip); "
                                 "prints the scaling efficiency")
        parser.add_argument("--level", metavar="WHERE", default=None,
                            help="with --parallel data: system (chips, default) or chip "
                                 "(its cores, joined by the on-chip ring)")
    parser.add_argument("--batch", type=positive, default=None,
                        help="minibatch size (default 32)" if train_verb else
                        "with --train: minibatch size (default: the model's batch)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                        help="parameter update (default adam)" if train_verb else
                        "with --train: parameter update (default sgd)")
    parser.add_argument("--precision", choices=("bf16", "fp16", "fp32"), default=None,
                        help=("" if train_verb else "with --train: ") + "operand type for "
                             "training, fp32 accumulators and master weights (default: the "
                             "config's types, which must be float)")


def add_train_parser(verbs) -> None:
    """The ``train`` verb."""
    from simaccel.cli import _add_hw

    train = verbs.add_parser(
        "train", help="train a model through the accelerator's numerics",
        description="Train MODEL from scratch: every forward and backward GEMM executed by "
                    "the compiled Program's numerics in the training types, the update in "
                    "fp32; per epoch the losses, test accuracy and the simulated time and "
                    "energy of the epoch on the chip.",
        epilog="example:\n  simaccel train workloads/digits_cnn.json --data digits "
               "--epochs 10 --hw tpu_v1 --precision bf16",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("model", help="model.json (its weights file, if any, is ignored)")
    train.add_argument("--data", choices=("digits",), required=True,
                       help="digits: scikit-learn's bundled 8×8 digits (75%%/25%% split)")
    train.add_argument("--epochs", type=positive, default=20,
                       help="passes over the training set (default 20)")
    train.add_argument("--lr", type=learning_rate, default=None,
                       help="learning rate (default: adam 2e-3, momentum 0.05, sgd 0.1)")
    train.add_argument("--seed", type=seed, default=0, help="initialisation and shuffling")
    train.add_argument("--reference", action="store_true",
                       help="also train the same model in float64 numpy (the independent "
                            "reference) and print its accuracy")
    train.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    _add_hw(train)
    add_step_options(train, train_verb=True)


def simulate_train(args: argparse.Namespace) -> int:
    """``simaccel simulate MODEL --train``."""
    import simaccel
    from simaccel import display
    from simaccel.training import Optimizer
    from simaccel.training_run import simulate_step, training_hardware

    if args.check:
        raise InputError("--check", "", "a training step is timed only; 'simaccel train' "
                         "executes training numerically")
    if args.input:
        raise InputError("--input", "", "not used with --train")
    if args.plots and not args.out:
        raise InputError("--plots", "", "needs --out DIR to write the PNGs into")
    from simaccel.cli import _layer_range

    _layer_range(args.layers)
    model = simaccel.load_model(args.model, allow_unknown=args.allow_unknown)
    hw = training_hardware(simaccel.load_hardware(args.hw), args.precision)
    optimizer = Optimizer(args.optimizer or "sgd")
    if args.parallel or args.chips or args.level:
        from simaccel.training_parallel import run_cli

        if not args.parallel:
            raise InputError("--chips" if args.chips else "--level", "",
                             "only with --parallel data")
        return run_cli(args, model, hw, optimizer)
    result = simulate_step(model, hw, optimizer, args.batch, args.recompute)
    timeline = _layer_range(args.layers, len(result.report.results.layers))
    if args.json:
        sys.stdout.write(json.dumps(_json_safe(result.to_dict()), indent=1) + "\n")
    else:
        out = display.console()
        out.print(display.report_table(result.report))
        out.print(step_table(result))
        for line in display.summary_lines(result.report)[:1] + step_lines(result):
            out.print(line, highlight=False)
    if args.out:
        from simaccel.cli import _headless_matplotlib

        def also(folder: Path) -> list[Path]:
            path = folder / "training.json"
            path.write_text(json.dumps(_json_safe(result.to_dict()["training"]), indent=1))
            if not args.plots:
                return [path]
            _headless_matplotlib()
            from simaccel.plots import write_plots

            report = result.report
            return [path, *write_plots(report.to_dict(), report.trace_events(), folder,
                                       timeline)]
        paths = result.report.write(args.out, also=also)
        if not args.json:
            print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _json_safe(value: object) -> object:
    from simaccel.report import json_safe

    return json_safe(value)


def step_table(result):
    """Per model layer: forward and backward cycles, MACs and energy."""
    from rich.table import Table

    table = Table(title="training step per layer (backward includes the loss and update)",
                  title_justify="left")
    for column in ("layer", "fwd cycles", "bwd cycles", "bwd/fwd", "fwd MACs", "bwd MACs",
                   "fwd µJ", "bwd µJ"):
        table.add_column(column, justify="left" if column == "layer" else "right")
    for s in result.layers:
        ratio = f"{s.backward_cycles / s.forward_cycles:.2f}" if s.forward_cycles else ""
        table.add_row(s.layer, f"{s.forward_cycles:,}", f"{s.backward_cycles:,}", ratio,
                      f"{s.forward_macs:,}", f"{s.backward_macs:,}",
                      f"{s.forward_energy_pj * 1e-6:,.2f}", f"{s.backward_energy_pj * 1e-6:,.2f}")
    return table


def step_lines(result) -> list[str]:
    """Totals of a step: MACs against the forward pass, energy, stash and peak memory."""
    t = result.report.to_dict()["total"]
    forward = sum(s.forward_macs for s in result.layers)
    hw = result.report.hardware
    step = result.step
    return [
        f"training step: batch {step.graph.model.inputs[0].shape[0]}, "
        f"{step.optimizer.value}{', recompute' if step.recompute else ''}, "
        f"{hw.dtypes.input.value} operands, fp32 accumulators and master weights",
        f"MACs {t['macs']:,} = {t['macs'] / forward:.3f} × the forward pass's {forward:,}",
        f"latency {t['latency_s'] * 1e3:.3f} ms   energy {t['energy_pj']['total'] * 1e-6:,.1f} "
        f"µJ per step   parameters {result.parameter_count:,}",
        f"stashed activations {result.stashed_bytes:,} B "
        f"({result.stashed_resident_bytes:,} B on chip); peak live activations "
        f"{result.peak_activation_bytes:,} B of {result.on_chip_bytes:,} B on-chip memory "
        f"({100 * result.peak_activation_bytes / result.on_chip_bytes:.0f}%)",
    ]


def train(args: argparse.Namespace) -> int:
    """``simaccel train MODEL --data digits``."""
    import simaccel
    from simaccel.datasets import check_fits
    from simaccel.graph import build_graph
    from simaccel.numerics.training import TrainConfig
    from simaccel.trainer import train as run_training
    from simaccel.training import Optimizer
    from simaccel.training_run import training_hardware

    model = simaccel.load_model(args.model)
    hw = training_hardware(simaccel.load_hardware(args.hw), args.precision)
    check_fits(model, args.data, build_graph(model).shapes[model.outputs[0]])
    optimizer = Optimizer(args.optimizer or "adam")
    config = TrainConfig(epochs=args.epochs, batch=args.batch or 32, optimizer=optimizer,
                         lr=args.lr, seed=args.seed)
    say = (lambda line: None) if args.quiet else print
    result = run_training(model, hw, config, _dataset(args.data), say=say,
                          reference=args.reference)
    print(result.summary())
    return 0


def _dataset(name: str):
    from simaccel.datasets import load

    return load(name)
