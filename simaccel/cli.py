"""The ``simaccel`` command line: ``simulate`` (``--train``: a training step), ``train``,
``show``, ``import``, ``compare``, ``plot``, ``sweep``, ``llm``, ``partition``,
``collective``, ``hw list``, ``prune`` and ``sparsity``.

Bad input prints one line naming the file and the field and exits 2, as does running out
of memory (one line; ``--no-check`` skips the numerics check); a failed numerics
check writes the (complete) report, names the layers and exits 3; an internal error prints
a short message and exits 1 (with ``--debug``, the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from simaccel.errors import InputError

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_CHECK_FAILED = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad flag or value refused in one line (exit 2), as every other bad
    input is; ``--help`` is unchanged."""

    def error(self, message: str) -> NoReturn:
        print(f"simaccel: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_INPUT)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="simaccel",
        description="Cycle-approximate simulator of TPU-style accelerators: cycles, stalls, "
                    "utilization and memory traffic per layer.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")

    sim = verbs.add_parser(
        "simulate", help="simulate a model on a hardware config",
        description="Simulate MODEL (model.json or a SCALE-Sim topology .csv) and print a "
                    "per-layer table and totals.",
        epilog="examples:\n  simaccel simulate workloads/resnet18.json --hw tpu_v1\n"
               "  simaccel simulate topology.csv --hw scale.cfg --out results/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sim.add_argument("model", help="model.json, an ONNX file, or a SCALE-Sim topology CSV")
    _allow_unknown(sim)
    sim.add_argument("--input", metavar="NAME=FILE", action="append", default=[],
                     help="the model input NAME for the numerics from a .npy file (or FILE.npz "
                          "with an array NAME; or FILE.npz alone for every input); ONNX "
                          "models take the ONNX layout (NCHW); repeatable")
    _add_hw(sim)
    sim.add_argument("--out", metavar="DIR", help="write report.json and layers.csv into DIR")
    sim.add_argument("--json", action="store_true",
                     help="print the report as JSON on stdout and nothing else")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.add_argument("--plots", action="store_true",
                     help="with --out: also draw cycles, utilization, energy, roofline and "
                          "timeline PNGs")
    sim.add_argument("--layers", metavar="A:B", default=None,
                     help="with --plots: layer range (indices, inclusive) of the "
                          "timeline plot")
    sim.add_argument("--check", action=argparse.BooleanOptionalAction, default=None,
                     help="run the tiled schedule numerically and check every layer against "
                          "numpy (default: on for models up to 2 GMACs whose check fits in "
                          "1 GiB of memory); a failed check exits 3")
    sim.add_argument("--exact", action="store_true",
                     help="time every tile instead of fast-forwarding the steady state of "
                          "long loops (slower; agrees within 0.5%% on the shipped workloads)")

    from simaccel.cli_train import add_step_options, add_train_parser

    add_step_options(sim)
    add_train_parser(verbs)

    show = verbs.add_parser("show", help="list a model's layers, shapes, MACs and GEMMs",
                            description="Print every layer with its output shape, MACs and "
                                        "the kernel it lowers to.")
    show.add_argument("model", help="model.json, an ONNX file or a SCALE-Sim topology CSV")
    _allow_unknown(show)

    prog = verbs.add_parser("program", help="print the Program a model compiles to",
                            description="Print the per-unit instruction queues (loads, "
                                        "matmuls, vector ops, stores) that MODEL compiles "
                                        "to on the hardware, with their dependencies and "
                                        "memory bytes (docs/architecture.md).")
    prog.add_argument("model", help="model.json, an ONNX file or a SCALE-Sim topology CSV")
    _add_hw(prog)
    prog.add_argument("--layers", metavar="A:B", default=None,
                      help="only kernels A to B (indices, inclusive)")
    prog.add_argument("--exact", action="store_true",
                      help="list every tile (the default lists the steady state of long "
                           "loops as `skip` instructions, as the engine times it)")
    _allow_unknown(prog)
    cmp = verbs.add_parser(
        "compare", help="run an ONNX model in onnxruntime and in simaccel (fp32), compare",
        description="Run MODEL.onnx in onnxruntime and simaccel's fp32 execution of its "
                    "schedule on the same inputs; print the largest difference per output. "
                    "Needs onnxruntime (pip install 'simaccel[compare]').")
    cmp.add_argument("model", help="the .onnx file")
    _allow_unknown(cmp)
    _add_hw(cmp)
    cmp.add_argument("--input", metavar="NAME=FILE", action="append", default=[],
                     help="an input from a .npy (or .npz) file, ONNX layout; default random")
    cmp.add_argument("--rtol", type=float, default=1e-4,
                     help="relative tolerance (of the output's largest magnitude) for exit 0 "
                          "(default 1e-4); larger differences exit 3")

    imp = verbs.add_parser("import", help="convert an ONNX model to model.json + weights .npz",
                           description="Convert MODEL.onnx into a simaccel-model/1 JSON file "
                                       "and an .npz of its weights beside it.")
    imp.add_argument("model", help="the .onnx file")
    imp.add_argument("-o", "--output", metavar="JSON", required=True,
                     help="the model.json to write (the weights go to the same name .npz)")
    _allow_unknown(imp)

    plot = verbs.add_parser("plot", help="draw the plots of a saved run",
                            description="Draw cycles, utilization, energy, roofline and timeline "
                                        "PNGs from a run written with --out.")
    plot.add_argument("run", help="the --out folder of a run, or its report.json")
    plot.add_argument("--out", metavar="DIR", help="where to write the PNGs (default: the "
                                                   "run's folder)")
    plot.add_argument("--layers", metavar="A:B", default=None,
                      help="layer range (indices, inclusive) of the timeline")

    sw = verbs.add_parser("sweep", help="run a design-space sweep",
                          description="Run SWEEP.toml (hardware points × workloads) and write "
                                      "one row per point × workload.")
    sw.add_argument("spec", help="the sweep TOML")
    sw.add_argument("--out", metavar="FILE", required=True,
                    help="results .csv, or .parquet (written at the end from the .csv beside "
                         "it); rows are appended as they finish and a rerun skips the points "
                         "already there")
    sw.add_argument("--workers", type=int, default=2, help="local processes (default 2)")
    sw.add_argument("--scheduler", metavar="ADDRESS",
                    help="run on a Dask distributed cluster at ADDRESS instead")
    sw.add_argument("--point-timeout", metavar="SECONDS", type=float, default=None,
                    help="stop a point that runs longer and record it as failed (local pool)")
    sw.add_argument("--yes", action="store_true",
                    help="run a sweep of more than 10,000 rows (points × workloads)")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")

    lab = verbs.add_parser("lab", help="teaching labs", description="Teaching labs.")
    lab_verbs = lab.add_subparsers(dest="lab_verb", required=True, metavar="ACTION")
    student = lab_verbs.add_parser(
        "student", help="write the student version of lab notebooks",
        description="Write each lab's student version: solutions stripped, instructor cells "
                    "removed, outputs cleared (docs/teaching.md).")
    student.add_argument("notebooks", nargs="+", help="lab .ipynb files or folders of them")
    student.add_argument("-o", "--out", metavar="DIR", required=True,
                         help="folder to write the student versions to")

    from simaccel import cli_sparsity

    cli_sparsity.add_weight_density(sim)
    for verb in cli_sparsity.add_parsers(verbs):
        _allow_unknown(verb)
        if verb.prog.endswith("sparsity"):
            _add_hw(verb)
            cli_sparsity.add_weight_density(verb)

    from simaccel import cli_parallel

    cli_parallel.add_parsers(verbs)

    hw = verbs.add_parser("hw", help="hardware configs", description="Hardware configs.")
    hw_verbs = hw.add_subparsers(dest="hw_verb", required=True, metavar="ACTION")
    hw_verbs.add_parser("list", help="list the shipped hardware configs")
    return parser


def _add_dims(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dim", metavar="NAME=VALUE", action="append", default=[],
                        help="ONNX: the value of a symbolic dimension (default 1); repeatable")


def _add_hw(parser: argparse.ArgumentParser) -> None:
    from simaccel.frontends.hardware_toml import DEFAULT_HARDWARE

    parser.add_argument(
        "--hw", metavar="NAME|FILE", default=None,
        help=f"a shipped config name (see 'simaccel hw list'), a .toml file or a SCALE-Sim "
             f".cfg (default: {DEFAULT_HARDWARE})")


def _simulate(args: argparse.Namespace) -> int:
    import simaccel
    from simaccel import display

    if args.layers is not None and not args.plots:  # it picks what the timeline plots
        _layer_range(args.layers)  # a malformed range says so first
        raise InputError("--layers", "", "only with --plots (it picks the timeline plot's "
                         "layers)")
    if args.train:
        from simaccel.cli_train import simulate_train

        return simulate_train(args)  # --out was checked with every output (`main`)
    for flag in ("batch", "optimizer", "precision", "recompute", "parallel", "chips",
                 "level"):
        if getattr(args, flag):
            raise InputError(f"--{flag}", "", "only with --train")

    if args.plots and not args.out:
        raise InputError("--plots", "", "needs --out DIR to write the PNGs into")
    _layer_range(args.layers)
    model = _load(args)
    hw = simaccel.load_hardware(args.hw)
    timeline = _layer_range(args.layers, _kernel_count(model) if args.layers else None)
    model = _weight_density(model, args)
    inputs = _model_inputs(model, _read_inputs(args.input)) if args.input else None
    with display.progress(enabled=not args.quiet) as tell:
        report = simaccel.simulate(model, hw, check=args.check, inputs=inputs, progress=tell,
                                   exact=args.exact)
    if args.json:
        sys.stdout.write(report.to_json())
    else:
        out = display.console()
        out.print(display.report_table(report))
        if (cores := display.cores_table(report)) is not None:
            out.print(cores)
        for line in display.summary_lines(report):
            out.print(line, highlight=False)
    if args.out:
        also = None
        if args.plots:
            _headless_matplotlib()
            from simaccel.plots import write_plots

            def also(folder):
                return write_plots(report.to_dict(), report.trace_events(), folder, timeline)
        try:
            paths = report.write(args.out, also=also)
        except OSError as exc:
            raise InputError(args.out, "", f"cannot write the run: {exc.strerror or exc}") \
                from None
        if not args.json:
            print("wrote " + ", ".join(str(p) for p in paths))
    failed = [r for r in report.results.layers if r.check.status == "fail"]
    if failed:
        names = ", ".join(f"{r.work.kernel.name!r} ({r.check.note})" for r in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        print(f"simaccel: numerics check failed in {names}{more}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _kernel_count(model) -> int:
    """The layers of ``model``'s report (its kernels), which --layers indexes."""
    from simaccel.pipeline import prepare

    return len(prepare(model).kernels)


def _load(args: argparse.Namespace):
    import simaccel

    model = simaccel.load_model(args.model, allow_unknown=args.allow_unknown,
                                dims=_parse_dims(getattr(args, "dim", [])))
    unknown = [layer for layer in model.layers if layer.op == "opaque"]
    if unknown:
        names = ", ".join(f"{u.onnx_op} ({u.name})" for u in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        print(f"simaccel: warning: {len(unknown)} unsupported op(s) costed by the bytes they "
              f"move, numerics skipped: {names}{more}", file=sys.stderr)
    if model.dims:
        print("simaccel: symbolic dimensions: " + ", ".join(
            f"{k}={v}" for k, v in model.dims.items()) + " (set with --dim NAME=VALUE; "
            "default 1)", file=sys.stderr)
    return model


def _parse_dims(items: list[str]) -> dict[str, int]:
    from simaccel.model import MAX_DIM

    dims = {}
    for item in items:
        name, _, value = item.partition("=")
        if name in dims:
            raise InputError("--dim", name, "given twice; give each dimension once")
        try:
            dims[name] = int(value)
        except ValueError:
            raise InputError("--dim", name or item, f"expected NAME=VALUE with an integer "
                             f"value, got {item!r}") from None
        if dims[name] <= 0:
            raise InputError("--dim", name, f"must be a positive integer, not {dims[name]}")
        if dims[name] > MAX_DIM:  # checked before the graph is folded with it
            raise InputError("--dim", name, f"{dims[name]} is above the largest dimension "
                             f"a tensor may have, {MAX_DIM}")
    return dims


def _read_inputs(items: list[str]) -> dict:
    """Arrays by input name from ``NAME=file.npy``, ``NAME=file.npz`` (its array NAME, or
    its only array) and ``file.npz`` (every array by its key); an input given twice, an
    empty file name or a file that is not .npy/.npz is refused, and each array is checked
    (`simaccel.input_arrays.array_problem`) naming its file and input."""
    from pathlib import Path

    import numpy as np

    from simaccel.input_arrays import numpy_file_problem

    arrays: dict = {}
    files: dict = {}
    for item in items:
        name, eq, where = item.partition("=")
        if not (where if eq else name).strip():
            raise InputError("--input", item, "the file name is empty: give NAME=FILE")
        path = Path(where if eq else name)
        if (problem := numpy_file_problem(path)) is not None:
            raise InputError(str(path), "", problem)
        try:
            loaded = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(str(path), "", f"cannot read as .npy/.npz: {exc}") from None
        if isinstance(loaded, np.ndarray):
            if not eq:
                raise InputError("--input", item, "a .npy file needs NAME=FILE.npy")
            _add_input(arrays, files, name, loaded, path)
            continue
        with loaded:
            if not eq:
                for key in loaded.files:
                    _add_input(arrays, files, key, loaded[key], path)
            elif name in loaded.files or len(loaded.files) == 1:
                _add_input(arrays, files, name,
                           loaded[name if name in loaded.files else loaded.files[0]], path)
            else:
                raise InputError(str(path), name, f"no array of that name (it has: "
                                 f"{', '.join(loaded.files)})")
    return arrays


def _add_input(arrays: dict, files: dict, name: str, value, path) -> None:
    """Input ``name`` read from ``path``: refused if given before or not usable numbers."""
    from simaccel.input_arrays import array_problem

    if name in arrays:
        raise InputError("--input", name, f"given twice (from {files[name]} and {path}): "
                         "give each input once")
    if (problem := array_problem(value)) is not None:
        raise InputError(str(path), name, f"{problem} (--input {name})")
    arrays[name], files[name] = value, path


def _model_inputs(model, arrays: dict) -> dict:
    """User arrays (ONNX layout for ONNX models) as the simulator's inputs, checked."""
    import numpy as np

    from simaccel.compare import simaccel_inputs

    if model.onnx_inputs:
        known = {onnx_name for onnx_name, _, _ in model.onnx_inputs}
        missing = [n for n in known if n not in arrays]
        if missing or set(arrays) - known:
            raise InputError("--input", (sorted(set(arrays) - known) or missing)[0],
                             f"the model's inputs are {', '.join(sorted(known))}; give each "
                             "once")
        specs = {spec.name: spec for spec in model.inputs}
        for onnx_name, name, axes in model.onnx_inputs:
            want = specs[name].shape if axes is None else tuple(
                specs[name].shape[list(axes).index(i)] for i in range(len(axes)))
            if tuple(np.shape(arrays[onnx_name])) != tuple(want):
                raise InputError("--input", onnx_name, f"shape {list(np.shape(arrays[onnx_name]))}"
                                 f", the model's input is {list(want)}")
        return simaccel_inputs(model, arrays)
    specs = {spec.name: spec for spec in model.inputs}
    unknown = sorted(set(arrays) - set(specs))
    if unknown:
        raise InputError("--input", unknown[0], f"the model has no input named "
                         f"{unknown[0]!r}; its inputs are {', '.join(sorted(specs))}")
    if set(arrays) != set(specs):
        raise InputError("--input", sorted(set(specs) - set(arrays))[0],
                         f"missing: the model's inputs are {', '.join(sorted(specs))}; "
                         "give each once")
    for name, value in arrays.items():
        if tuple(np.shape(value)) != specs[name].shape:
            raise InputError("--input", name, f"shape {list(np.shape(value))}, the model's "
                             f"input is {list(specs[name].shape)}")
    return {name: np.asarray(value, dtype=np.float64) for name, value in arrays.items()}


def _compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    import simaccel
    from simaccel.compare import compare

    if Path(args.model).suffix.lower() != ".onnx":
        raise InputError(args.model, "", "compare takes an .onnx model")
    model = _load(args)
    if any(layer.op == "opaque" for layer in model.layers):
        raise InputError(args.model, "graph", "unsupported ops have no numerics to compare")
    hw = simaccel.load_hardware(args.hw)
    rows, _ = compare(Path(args.model), model, hw, _read_inputs(args.input),
                      _parse_dims(args.dim))
    worst = 0.0
    for row in rows:
        print(f"{row.name}  {list(row.shape)}  max |simaccel - onnxruntime| = "
              f"{row.max_abs_diff:.3g}  ({row.relative:.2g} of max |onnxruntime| "
              f"{row.max_abs_reference:.3g})")
        worst = max(worst, row.relative)
    ok = worst <= args.rtol
    print(f"{'agree' if ok else 'DIFFER'}: largest relative difference {worst:.3g} "
          f"(tolerance {args.rtol:g})")
    return EXIT_OK if ok else EXIT_CHECK_FAILED


def _import(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from simaccel.frontends.model_json import model_document
    from simaccel.graph import build_graph

    out = Path(args.output)  # checked to be writable by cli_outputs.check
    model = _load(args)
    build_graph(model)  # refuse to write a model that does not hold together
    weights = out.with_suffix(".npz") if model.weights else None  # a weightless model: none
    try:
        if weights is not None:
            np.savez(weights, **{k: np.asarray(v) for k, v in model.weights.items()})
        out.write_text(json.dumps(model_document(model, weights.name if weights else None),
                                  indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(args.output, "", f"cannot write: {exc.strerror or exc}") from None
    print(f"wrote {out} ({len(model.layers)} layers)" + (f" and {weights}" if weights else ""))
    return EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from simaccel import display
    from simaccel.sweeps import execute, load_spec, read_results

    spec = load_spec(args.spec)
    out = Path(args.out)
    if out.suffix not in (".csv", ".parquet"):
        raise InputError(str(out), "", "the sweep output must be a .csv or .parquet file")
    if args.workers < 1:
        raise InputError("--workers", "", f"must be at least 1, not {args.workers}")
    journal = out.with_suffix(".csv")  # rows land here as they finish (what a rerun resumes)
    with display.sweep_progress(enabled=not args.quiet) as tell:
        result = execute(spec, journal, workers=args.workers, scheduler=args.scheduler,
                         progress=tell, point_timeout_s=args.point_timeout,
                         allow_large=args.yes)
    failed = sum(1 for row in result.rows if row.get("error"))
    if out.suffix == ".parquet" and journal.exists():
        try:
            read_results(journal).to_parquet(out)
        except ImportError:
            raise InputError(str(out), "", "Parquet needs pyarrow: pip install "
                             "'simaccel[sweep]'") from None
    state = "interrupted; kept" if result.interrupted else "done:"
    again = f" ({result.rerun} re-run: lost to a timeout or a dead worker before)" \
        if result.rerun else ""
    print(f"{state} {len(result.rows)} points run ({failed} failed){again}, {result.skipped} "
          f"already in {journal}" + (f"; wrote {out}" if out != journal else ""))
    return 130 if result.interrupted else EXIT_OK


def writable_folder(path: str) -> None:
    """Refuse, before any work, an output folder that cannot be written: a file, a folder
    whose parent does not exist, or one the process cannot create files in
    (`simaccel.cli_outputs.writable`)."""
    from simaccel.cli_outputs import Output, writable

    writable(path, "--out", Output.FOLDER)


def _layer_range(text: str | None, count: int | None = None) -> tuple[int, int | None]:
    """``--layers A:B`` as (A, B or None); with ``count`` (the layers there are), a range
    past the last layer is refused too. Raises `InputError` naming --layers."""
    if text is None:
        return (0, None)
    if not text.strip():
        raise InputError("--layers", "", "is empty: expected A:B layer indices")
    try:
        first, _, last = text.partition(":")
        span = (int(first or 0), int(last) if last else None)
    except ValueError:
        raise InputError("--layers", "", f"expected A:B layer indices, got {text!r}") from None
    if span[0] < 0 or (span[1] is not None and span[1] < span[0]):
        raise InputError("--layers", "", f"expected 0 <= A <= B, got {text!r}")
    if count is not None and max(span[0], span[1] or 0) >= count:
        raise InputError("--layers", "", f"{text!r} is past the last layer: there are "
                         f"{count} (0:{count - 1})")
    return span


def _allow_unknown(verb: argparse.ArgumentParser) -> None:
    verb.add_argument("--allow-unknown", action="store_true",
                      help="ONNX: cost unsupported ops by the bytes they read and write (with "
                           "a warning; numerics skipped) instead of refusing the model")
    _add_dims(verb)


def _headless_matplotlib() -> None:
    """Files only: no GUI backend, even where a display exists."""
    import matplotlib

    matplotlib.use("Agg")


def _plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    run = Path(args.run)
    report_path = run / "report.json" if run.is_dir() else run
    report, trace = read_run(report_path)
    from simaccel.report_fields import check_plot_fields

    check_plot_fields(report, str(report_path))
    out = args.out or str(report_path.parent)
    writable_folder(out)
    timeline = _layer_range(args.layers, len(report["layers"]))
    _headless_matplotlib()
    from simaccel.plots import write_plots

    try:
        paths = write_plots(report, trace, out, timeline)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise InputError(str(report_path), "", f"not a complete simaccel report "
                         f"({type(exc).__name__}: {exc})") from None
    print("wrote " + ", ".join(str(p) for p in paths))
    return EXIT_OK


def read_run(report_path) -> tuple[dict, dict | None]:
    """report.json and the trace.json beside it, checked to be standard JSON of one run:
    the trace must name this report's SHA-256 (written by `Report.write`)."""
    from simaccel.report import REPORT_SCHEMA, report_digest

    text = _read_text(report_path, "a report")
    report = _strict_json(report_path, text)
    if not isinstance(report, dict) or report.get("schema") != REPORT_SCHEMA:
        raise InputError(str(report_path), "schema", f"not a {REPORT_SCHEMA} file")
    if not isinstance(report.get("layers"), list) or not isinstance(report.get("total"), dict):
        raise InputError(str(report_path), "layers", "missing: not a complete report")
    trace_path = report_path.parent / "trace.json"
    if not trace_path.exists():
        return report, None
    trace = _strict_json(trace_path, _read_text(trace_path, "a trace"))
    other = trace.get("otherData") if isinstance(trace, dict) else None
    if not isinstance(other, dict) or not isinstance(trace.get("traceEvents"), list):
        raise InputError(str(trace_path), "", "not a simaccel trace")
    recorded = other.get("report_sha256")
    if recorded is not None and recorded != report_digest(text):
        raise InputError(str(report_path.parent), "", "report.json and trace.json are from "
                         "different runs (the trace names another report): rerun simulate "
                         "--out")
    return report, trace


def _read_text(path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), "", f"cannot read {what}: {exc}") from None


def _strict_json(path, text: str) -> object:
    import json

    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not a JSON number")

    try:
        return json.loads(text, parse_constant=refuse)
    except RecursionError:
        raise InputError(str(path), "", "not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise InputError(str(path), "", f"not valid JSON: {exc}") from None


def _show(args: argparse.Namespace) -> int:
    from simaccel import display
    from simaccel.graph import build_graph
    from simaccel.lowering import lower

    graph = build_graph(_load(args))
    display.console().print(display.model_table(graph, lower(graph)))
    return EXIT_OK


def _program(args: argparse.Namespace) -> int:
    import simaccel

    program = simaccel.compile(_load(args), simaccel.load_hardware(args.hw),
                               exact=args.exact)
    first, last = _layer_range(args.layers, len(program.kernels))
    print(program.listing(first, None if last is None else last + 1))
    return EXIT_OK


def _lab_student(args: argparse.Namespace) -> int:
    from pathlib import Path

    from simaccel.student_version import write_student_versions

    # args.out was checked with every output path (`main`)
    written = write_student_versions([Path(p) for p in args.notebooks], Path(args.out))
    notebooks = sum(path.suffix == ".ipynb" for path in written)
    data = len(written) - notebooks
    print(f"wrote {notebooks} student notebook(s) to {args.out}"
          + (f", with {data} data file(s) the labs read" if data else ""))
    return EXIT_OK


def _weight_density(model, args: argparse.Namespace):
    from simaccel.cli_sparsity import apply_weight_density

    return apply_weight_density(model, args.weight_density)


def _prune(args: argparse.Namespace) -> int:
    from simaccel.cli_sparsity import prune

    print(prune(args, _load(args)))
    return EXIT_OK


def _sparsity(args: argparse.Namespace) -> int:
    import simaccel
    from simaccel.cli_sparsity import sparsity_table

    hw = simaccel.load_hardware(args.hw)
    print(sparsity_table(_weight_density(_load(args), args), hw))
    return EXIT_OK

def _train(args: argparse.Namespace) -> int:
    from simaccel.cli_train import train

    return train(args)


def _hw_list(args: argparse.Namespace) -> int:
    from simaccel import display
    from simaccel.frontends.hardware_toml import load_hardware, shipped_configs

    configs = {name: load_hardware(path) for name, path in shipped_configs().items()}
    display.console().print(display.hardware_table(configs))
    return EXIT_OK


def _llm(args: argparse.Namespace) -> int:
    from simaccel import cli_parallel

    return cli_parallel.run_llm(args)


def _collective(args: argparse.Namespace) -> int:
    from simaccel import cli_parallel

    return cli_parallel.run_collective(args)


def _partition(args: argparse.Namespace) -> int:
    from simaccel import cli_parallel

    return cli_parallel.run_partition(args, _load(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 internal error, 2 bad input)."""
    args = _parser().parse_args(argv)
    handler = {"simulate": _simulate, "show": _show, "plot": _plot, "import": _import,
               "program": _program, "compare": _compare,
               "sweep": _sweep, "hw": _hw_list, "prune": _prune,
               "sparsity": _sparsity, "llm": _llm, "partition": _partition,
               "collective": _collective, "train": _train, "lab": _lab_student}[args.verb]
    try:
        from simaccel import cli_outputs

        cli_outputs.check(args)
        return handler(args)
    except InputError as exc:
        # one line even when a message quotes a newline (a name, configparser's errors)
        print("simaccel: " + " ".join(part.strip() for part in str(exc).splitlines()),
              file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("simaccel: interrupted", file=sys.stderr)
        return 130
    except MemoryError:  # the machine, not a bug: say what to do, in one line
        print(f"simaccel: {args.verb}: ran out of memory" + (
            " (the numerics check holds the model's weights and activations in float64: "
            "--no-check skips it)" if args.verb == "simulate" and args.check is not False else ""),
            file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # the reader stopped reading (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if args.debug:
            raise
        print(f"simaccel: internal error: {type(exc).__name__}: {exc} (run with --debug for "
              "the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
