"""The verbs for systems of chips: ``simaccel llm`` (LLM inference, prefill and decode, of a
HuggingFace config.json or a shipped LLM; docs/architecture.md, "LLM inference"),
``simaccel partition`` (any model by data, tensor or pipeline parallelism, or a layout per
layer) and ``simaccel
collective`` (one collective on the links)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from simaccel.domain import MAX_BATCH, MAX_COLLECTIVE_BYTES, MAX_TOKENS
from simaccel.errors import InputError

#: Largest prompt, generation and batch accepted (tokens, sequences).


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    """Register ``llm``, ``partition`` and ``collective`` on the CLI's subcommands."""
    llm = verbs.add_parser(
        "llm", help="simulate LLM inference (prefill and decode) on a chip or system",
        description="Simulate a decoder LLM's prefill and decode: time to first token, time "
                    "per output token, tokens/s, utilization, communication and memory per "
                    "chip.",
        epilog="examples:\n  simaccel llm llama2-7b --prompt 128 --generate 32 --hw tpu_v4_like\n"
               "  simaccel llm config.json --batch 8 --hw tpu_v4_like_x8 --parallel auto",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    llm.add_argument("config", help="a HuggingFace config.json (GPT-2, Llama, Mistral, OPT) "
                                    "or a shipped name: llama2-7b, llama3-8b, gpt3-175b, "
                                    "opt-66b")
    llm.add_argument("--prompt", default="128", metavar="P", help="prompt tokens (128)")
    llm.add_argument("--generate", default="32", metavar="G", help="tokens generated (32)")
    llm.add_argument("--batch", default="1", metavar="B", help="sequences at once (1)")
    llm.add_argument("--hw", metavar="NAME|FILE", default="tpu_v4_like",
                     help="a shipped config or a .toml; [system] gives the chips "
                          "(default tpu_v4_like)")
    llm.add_argument("--parallel", default="auto", metavar="KIND",
                     help="data, tensor, pipeline or auto (default: the fastest that fits)")
    llm.add_argument("--json", action="store_true", help="print the report as JSON")
    llm.add_argument("--out", metavar="DIR", help="write llm.json and trace.json into DIR "
                     "(with --sweep: llm_sweep.csv)")
    llm.add_argument("--sweep", metavar="KEY=V1,V2", action="append", default=[],
                     help="sweep 'parallel' or a dotted hardware field over the values "
                          "(repeatable: a grid); one row per point, each laid out as "
                          "--parallel says unless 'parallel' is swept")

    part = verbs.add_parser(
        "partition", help="spread a model over a system's chips (data, tensor, pipeline)",
        description="Simulate MODEL on one chip of the system, then lay it over the chips: "
                    "data parallel (a copy a chip), tensor parallel (each GEMM's N or K "
                    "split, its share timed by the engine, collectives by the link engine), "
                    "pipeline parallel (contiguous stages balanced by an exact search, "
                    "activations sent over the links), or auto (also a layout per layer).",
        epilog="examples:\n  simaccel partition workloads/resnet50.json --hw tpu_v4_like_x8 "
               "--batch 64\n  simaccel partition workloads/resnet18.json --parallel auto "
               "--objective energy",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    part.add_argument("model", help="model.json, an ONNX file or a SCALE-Sim topology CSV")
    part.add_argument("--hw", metavar="NAME|FILE", default="tpu_v4_like_x8",
                      help="a config with [system] chips (default tpu_v4_like_x8)")
    part.add_argument("--batch", default="1", metavar="B",
                      help="runs of the model (1); each serves the model's input batch")
    part.add_argument("--parallel", default="auto", metavar="KIND",
                      help="data, tensor, pipeline or auto (of those and a layout chosen "
                           "per layer, the one that finishes the batch first)")
    part.add_argument("--objective", default="latency", metavar="WHAT",
                      help="what auto and the per-layer search minimise: latency "
                           "(default) or energy")
    part.add_argument("--json", action="store_true", help="print the partition as JSON")
    from simaccel.cli import _allow_unknown

    _allow_unknown(part)  # and --dim

    coll = verbs.add_parser(
        "collective", help="time one collective on a system's links or a chip's cores",
        description="Time a collective (all_reduce, all_gather, reduce_scatter, all_to_all) "
                    "by the ring or tree algorithm on the system's chip-to-chip links "
                    "([system]) or the on-chip ring between a chip's cores ([chip]).",
        epilog="example:\n  simaccel collective all_reduce --bytes 16777216 --hw "
               "tpu_v4_like_x8",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    coll.add_argument("kind", help="all_reduce, all_gather, reduce_scatter or all_to_all")
    coll.add_argument("--bytes", required=True, metavar="N",
                      help="each node's buffer in bytes (see simaccel.collectives)")
    coll.add_argument("--hw", metavar="NAME|FILE", default="tpu_v4_like_x8")
    coll.add_argument("--level", default="system", metavar="WHERE",
                      help="system (chips, default) or chip (its cores)")
    coll.add_argument("--algorithm", default="ring", metavar="ALG", help="ring or tree")
    coll.add_argument("--trace", metavar="FILE", help="write a Perfetto trace, a track a link")


def _count(value: str, flag: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InputError(flag, "", f"expected a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise InputError(flag, "", f"{number} is outside {low}..{high}")
    return number


def run_llm(args: argparse.Namespace) -> int:
    """Run ``llm``; returns the exit code. Raises `InputError` for bad arguments."""
    import simaccel
    from simaccel import llm_report
    from simaccel.frontends.hf_config import load_llm
    from simaccel.llm import infer
    from simaccel.llm_parallel import Parallel

    prompt = _count(args.prompt, "--prompt", 1, MAX_TOKENS)
    generate = _count(args.generate, "--generate", 1, MAX_TOKENS)
    batch = _count(args.batch, "--batch", 1, MAX_BATCH)
    if args.parallel not in {p.value for p in Parallel}:
        raise InputError("--parallel", "", f"{args.parallel!r} is not one of "
                         f"{', '.join(p.value for p in Parallel)}")
    spec = load_llm(args.config)
    hw = simaccel.load_hardware(args.hw)
    if args.sweep:
        return _llm_sweep(args, spec, hw, batch, prompt, generate)
    result = infer(spec, hw, Parallel(args.parallel), batch, prompt, generate)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "llm.json").write_text(llm_report.dumps(result) + "\n")
        (out / "trace.json").write_text(json.dumps(llm_report.trace_events(result)) + "\n")
    print(llm_report.dumps(result) if args.json else llm_report.to_text(result))
    return 0


def _value(text: str) -> object:
    """A swept value as typed: a whole number, a real number, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _llm_sweep(args: argparse.Namespace, spec, hw, batch: int, prompt: int,
               generate: int) -> int:
    from simaccel.llm_sweep import sweep_llm

    grid = {}
    for item in args.sweep:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise InputError("--sweep", "", f"expected KEY=V1,V2,..., got {item!r}")
        if key.strip() in grid:
            raise InputError("--sweep", key.strip(), "given twice: list its values once")
        grid[key.strip()] = [_value(v.strip()) for v in values.split(",")]
    if "parallel" in grid and args.parallel != "auto":
        raise InputError("--parallel", "", f"{args.parallel!r} with --sweep parallel=...: "
                         "give the layouts once, in --sweep parallel=...")
    frame = sweep_llm(spec, hw, grid, batch, prompt, generate, source="--sweep",
                      parallel=args.parallel)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out / "llm_sweep.csv", index=False)
    if args.json:
        from simaccel.llm_sweep import to_records

        print(json.dumps({"model": spec.name, "hardware": hw.name, "batch": batch,
                          "prompt": prompt, "generate": generate, "grid": grid,
                          "rows": to_records(frame)}, indent=1, allow_nan=False))
        return 0
    print(frame.to_string(index=False))
    return 0


def run_partition(args: argparse.Namespace, model) -> int:
    """Run ``partition`` on the loaded ``model``; returns the exit code."""
    import simaccel
    from simaccel.layer_plan import Objective
    from simaccel.partition import PARALLEL, batch_energy_pj, choose

    batch = _count(args.batch, "--batch", 1, MAX_BATCH)
    _choice(args.parallel, "--parallel", PARALLEL)
    objective = Objective(_choice(args.objective, "--objective", Objective))
    hw = simaccel.load_hardware(args.hw)
    report = simaccel.simulate(model, hw, check=False)
    part, why = choose(report, args.parallel, batch, objective)
    data = _partition_dict(report, part, why, batch)
    data["energy_mj"] = batch_energy_pj(part, batch) / 1e9
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    print(f"{report.graph.model.name} on {hw.name}: {part.parallel} over {part.chips} chip(s)"
          + (f" — {why}" if why else ""))
    print(f"one run ({data['inferences'] // batch} inference(s)) {data['latency_ms']:.3f} ms, "
          f"then one every {data['interval_ms']:.3f} ms; batch of {batch} run(s), "
          f"{data['inferences']} inference(s): {data['batch_ms']:.3f} ms, "
          f"{data['inferences_per_s']:,.1f} inferences/s, {data['energy_mj']:.3f} mJ; "
          f"communication {data['comm_share']:.0%}")
    if part.parallel == "pipeline":
        best = "fastest" if objective is Objective.LATENCY else "least-energy"
        print(f"  {len(part.stages)} stage(s), the {best} count of 1 … {hw.system.chips}")
    if part.layers:
        _print_layers(data["layers"])
        _print_final(data["final"])
        return 0
    for n, stage in enumerate(data["stages"]):
        print(f"  stage {n}: {stage['first']} … {stage['last']}: {stage['cycles']:,} cycles, "
              f"sends {stage['send_bytes']:,} bytes in {stage['send_cycles']:,} cycles")
    return 0


def _partition_dict(report, part, why: str, batch: int) -> dict:
    """The partition as the JSON the verb prints (times in ms, cycles, bytes)."""
    from simaccel.partition import batch_cycles, comm_share, inferences_per_s, model_batch

    ms = 1e3 / (report.hardware.clock_mhz * 1e6)
    names = [r.work.kernel.name for r in report.results.layers]
    cycles = batch_cycles(part, batch)
    data = {"parallel": part.parallel, "why": why, "chips": part.chips, "batch": batch,
            "latency_ms": part.latency_cycles * ms, "interval_ms": part.interval_cycles * ms,
            "batch_ms": cycles * ms, "bubble": part.bubble,
            "stages": [{"first": names[s.first], "last": names[s.last],
                        "cycles": s.cycles, "send_bytes": s.send_bytes,
                        "send_cycles": s.send_cycles} for s in part.stages],
            "comm_share": comm_share(part, batch),
            "inferences": batch * model_batch(report),
            "inferences_per_s": inferences_per_s(report, part, batch)}
    if part.layers:
        data["final"] = {"convert": list(part.final_convert), "cycles": part.final_cycles}
        data["layers"] = [{"kernel": c.kernel, "strategy": c.strategy, "cycles": c.cycles,
                           "convert": list(c.convert), "convert_cycles": c.convert_cycles,
                           "candidates": dict(c.candidates)} for c in part.layers]
    return data


def _print_layers(layers: list[dict]) -> None:
    """A line a kernel: its strategy and why (every candidate's compute cycles), and the
    collectives that bring its inputs to the layout it reads."""
    for layer in layers:
        others = ", ".join(f"{name} {cycles:,}" for name, cycles in
                           layer["candidates"].items())
        convert = (f"; first {', '.join(layer['convert'])}: {layer['convert_cycles']:,} "
                   "cycles" if layer["convert"] else "")
        print(f"  {layer['kernel']}: {layer['strategy']} {layer['cycles']:,} cycles "
              f"(of {others}){convert}")


def _print_final(final: dict) -> None:
    """The line of the collectives that make the model's outputs whole after the last
    kernel (so that the lines add up to the batch's cycles)."""
    what = ", ".join(final["convert"]) or "none needed"
    print(f"  final (outputs made whole): {what}: {final['cycles']:,} cycles")


def _choice(value: str, flag: str, options) -> str:
    names = [o.value if hasattr(o, "value") else o for o in options]
    if value not in names:
        raise InputError(flag, "", f"{value!r} is not one of {', '.join(names)}")
    return value


def run_collective(args: argparse.Namespace) -> int:
    """Run ``collective``; returns the exit code."""
    import simaccel
    from simaccel import link_engine
    from simaccel.collectives import Algorithm, Collective, TooManyMessages, plan
    from simaccel.network import chip_network, system_network

    kind = Collective(_choice(args.kind, "kind", Collective))
    algorithm = Algorithm(_choice(args.algorithm, "--algorithm", Algorithm))
    level = _choice(args.level, "--level", ["system", "chip"])
    nbytes = _count(args.bytes, "--bytes", 1, MAX_COLLECTIVE_BYTES)
    hw = simaccel.load_hardware(args.hw)
    network = system_network(hw) if level == "system" else chip_network(hw)
    if args.trace:
        from simaccel.cli_outputs import Output, writable

        writable(args.trace, "--trace", Output.FILE)
    try:
        messages = plan(kind, algorithm, network.nodes, nbytes)
        run = link_engine.run(network, messages)
    except TooManyMessages as exc:
        tree = algorithm is Algorithm.RING and kind is not Collective.ALL_TO_ALL
        raise InputError(*hw.where("system.chips" if level == "system" else "chip.cores"),
                         str(exc) + (" (or --algorithm tree)" if tree else "")) from None
    except ValueError as exc:
        raise InputError("--algorithm", "", str(exc)) from None
    busiest = max(run.link_busy_cycles, default=0)
    print(f"{kind.value} of {nbytes:,} bytes by {algorithm.value} among {network.nodes} "
          f"{'chips' if level == 'system' else 'cores'} ({network.topology.value}): "
          f"{run.cycles:,} cycles = {run.cycles / hw.clock_mhz:.2f} µs; {len(messages)} "
          f"messages; busiest link held {busiest / run.cycles if run.cycles else 0:.0%}, "
          f"{sum(run.link_bytes):,} bytes over all links")
    if args.trace:
        to_us = 1.0 / hw.clock_mhz
        units = sorted({e.unit for e in run.trace})
        events = [{"ph": "M", "pid": 1, "tid": i, "name": "thread_name",
                   "args": {"name": unit}} for i, unit in enumerate(units, start=1)]
        events += [{"ph": "X", "pid": 1, "tid": units.index(e.unit) + 1, "cat": e.unit,
                    "name": f"message {e.tile}", "ts": e.start * to_us,
                    "dur": (e.end - e.start) * to_us, "args": {"bytes": e.bytes}}
                   for e in run.trace]
        Path(args.trace).write_text(json.dumps({"traceEvents": events}) + "\n")
    return 0
