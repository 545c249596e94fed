"""The command line's sparsity verbs: ``prune`` writes pruned weights, ``sparsity`` measures a
model's weights; ``--weight-density`` gives a model synthetic sparse weights.

Each takes a loaded model from `simaccel.cli` and raises `InputError` for bad input (one
line naming the option, exit 2).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from simaccel.errors import InputError

if TYPE_CHECKING:  # the heavy modules load when a verb runs, not when the CLI starts
    from simaccel.hardware import Hardware
    from simaccel.model import Model
    from simaccel.pruning import Pruning


def add_parsers(verbs: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add ``prune`` and ``sparsity``; returns them (the caller adds its shared options)."""
    prune = verbs.add_parser(
        "prune", help="prune a model's weights (magnitude or N:M) into model.json + .npz",
        description="Prune MODEL's conv and dense weights (from its .npz, or drawn from its "
                    "seed) and write OUT (a model.json) with the pruned weights in the same "
                    "name .npz beside it.",
        epilog="examples:\n  simaccel prune workloads/digits_cnn.json --method magnitude "
               "--sparsity 0.7 -o pruned.json\n  simaccel prune workloads/digits_cnn.json "
               "--method nm --nm 2:4 -o digits_24.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    prune.add_argument("model", help="model.json or an ONNX file")
    prune.add_argument("--method", choices=("magnitude", "nm"), required=True)
    prune.add_argument("--sparsity", type=float, default=None, metavar="S",
                       help="magnitude: the share of each layer's weights set to 0, in [0, 1)")
    prune.add_argument("--nm", default=None, metavar="N:M",
                       help="nm: keep N of every M weights along K, e.g. 2:4")
    prune.add_argument("-o", "--output", metavar="JSON", required=True,
                       help="the model.json to write (the weights go to the same name .npz)")
    show = verbs.add_parser(
        "sparsity", help="measure a model's weights: density, N:M conformity, bytes per format",
        description="Per GEMM layer: nonzero weights, density, the densest output channel, "
                    "conformity to each N:M pattern, and the weights' bytes in each storage "
                    "format (datatype and format choice of --hw).")
    show.add_argument("model", help="model.json or an ONNX file")
    return [prune, show]


def add_weight_density(parser: argparse.ArgumentParser) -> None:
    """The ``--weight-density`` option."""
    parser.add_argument(
        "--weight-density", metavar="D|N:M", default=None,
        help="prune the model's weights (or weights drawn from its seed) to density D in "
             "(0, 1] by magnitude, or to an N:M pattern such as 2:4, before running")


def apply_weight_density(model: Model, text: str | None) -> Model:
    """``model`` with weights pruned as ``--weight-density`` says (unchanged for None)."""
    if text is None:
        return model
    from simaccel.graph import build_graph
    from simaccel.pruning import parse_density, with_weight_density

    try:
        how = parse_density(text)
    except ValueError as exc:
        raise InputError("--weight-density", "", str(exc)) from None
    return with_weight_density(model, build_graph(model), how)


def _pruning(args: argparse.Namespace) -> Pruning:
    from simaccel.pruning import Pruning, parse_pattern

    if args.method == "magnitude":
        if args.sparsity is None or args.nm is not None:
            raise InputError("--sparsity", "", "--method magnitude needs --sparsity S "
                             "(and no --nm)")
        if not 0 <= args.sparsity < 1:
            raise InputError("--sparsity", "", f"{args.sparsity:g} is outside [0, 1)")
        return Pruning("magnitude", sparsity=args.sparsity)
    if args.nm is None or args.sparsity is not None:
        raise InputError("--nm", "", "--method nm needs --nm N:M (and no --sparsity)")
    try:
        return Pruning("nm", pattern=parse_pattern(args.nm))
    except ValueError as exc:
        raise InputError("--nm", "", str(exc)) from None


def prune(args: argparse.Namespace, model: Model) -> str:
    """Write the pruned model; returns what was written (one line)."""
    import numpy as np

    from simaccel.frontends.model_json import model_document
    from simaccel.graph import build_graph
    from simaccel.pruning import with_weight_density

    how = _pruning(args)
    out = Path(args.output)  # a .json in an existing folder: `cli_outputs.check` saw to it
    source = Path(args.model).resolve()
    if out.resolve() in (source, source.with_suffix(".npz")) or out.with_suffix(".npz").resolve() \
            in (source, source.with_suffix(".npz")):
        raise InputError(args.output, "", f"would overwrite the model it prunes ({args.model}) "
                         "or its weights: write elsewhere")
    pruned = with_weight_density(model, build_graph(model), how)
    weights = out.with_suffix(".npz")
    try:
        np.savez(weights, **{k: np.asarray(v) for k, v in pruned.weights.items()})
        out.write_text(json.dumps(model_document(pruned, weights.name), indent=1) + "\n",
                       encoding="utf-8")
    except OSError as exc:
        raise InputError(args.output, "", f"cannot write: {exc.strerror or exc}") from None
    kernels = [k for k in pruned.weights if k.endswith(".kernel")]
    zeros = sum(int(np.sum(pruned.weights[k] == 0)) for k in kernels)
    total = sum(int(np.size(pruned.weights[k])) for k in kernels)
    return f"wrote {out} and {weights}: {zeros:,} of {total:,} weights zero " \
           f"({zeros / total:.1%})" if total else f"wrote {out} and {weights}"


def sparsity_table(model: Model, hw: Hardware) -> str:
    """The ``sparsity`` verb's table (text)."""
    import numpy as np

    from simaccel.kernels import GemmKernel
    from simaccel.pipeline import prepare
    from simaccel.sparse_formats import FORMATS, NM_PATTERNS, nm_name
    from simaccel.sparse_hw import execution
    from simaccel.sparsity import conformity, gemm_view

    kernels = [k for k in prepare(model).kernels
               if isinstance(k, GemmKernel) and not k.filter_is_activation]
    head = (f"{'layer':<16} {'K×N×g':>16} {'nonzero':>10} {'density':>8} {'densest':>8} "
            + " ".join(f"{f'{n}:{m}':>4}" for n, m in NM_PATTERNS[1:3])
            + "  " + " ".join(f"{f:>8}" for f in FORMATS[:4]) + f"  {hw.name + ' stores':>18}")
    lines = [head]
    for kernel in kernels:
        s = kernel.sparsity
        if s is None:
            lines.append(f"{kernel.name:<16} {'':>16} no weights: dense (drawn from the seed;"
                         " --weight-density prunes them)")
            continue
        b = gemm_view(np.asarray(model.weights[f"{kernel.name}.kernel"]), kernel.groups)
        conf = " ".join(f"{conformity(b, p):>4.0%}" for p in NM_PATTERNS[1:3])
        value = hw.dtypes.weight.bytes
        sizes = " ".join(f"{s.stored(f).bytes(value):>8}" for f in FORMATS[:4])
        run = execution(kernel, hw)
        lines.append(f"{kernel.name:<16} {f'{kernel.k}×{kernel.n}×{kernel.groups}':>16} "
                     f"{s.nonzeros:>10} {s.density:>8.3f} {float(s.densest_column):>8.3f} "
                     f"{conf}  {sizes}  {f'{run.format} {run.weight_bytes}':>18}")
    patterns = sorted({nm_name(*p) for k in kernels if k.sparsity for p in k.sparsity.nm})
    lines.append(f"bytes with {hw.dtypes.weight.value} weights; 1:4 and 2:4: the share of runs "
                 f"of M weights along K holding at most N nonzeros; patterns some layer fully "
                 f"conforms to: {', '.join(patterns) or 'none'}")
    return "\n".join(lines)
