"""The ``simaccel llm`` verb: LLM inference (prefill and decode) of a HuggingFace config.json
or a shipped LLM on a chip or a system of chips (docs/architecture.md, "LLM inference")."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from simaccel.errors import InputError

#: Largest prompt, generation and batch accepted (tokens, sequences).
MAX_TOKENS, MAX_BATCH = 1 << 20, 1 << 16


def add_parser(verbs: argparse._SubParsersAction) -> None:
    """Register ``llm`` on the CLI's subcommands."""
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
    llm.add_argument("--out", metavar="DIR", help="write llm.json and trace.json into DIR")


def _count(value: str, flag: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InputError(flag, "", f"expected a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise InputError(flag, "", f"{number} is outside {low}..{high}")
    return number


def run(args: argparse.Namespace) -> int:
    """Run the verb; returns the exit code. Raises `InputError` for bad arguments."""
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
    if args.out:
        from simaccel.cli import writable_folder

        writable_folder(args.out)
    result = infer(spec, hw, Parallel(args.parallel), batch, prompt, generate)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "llm.json").write_text(llm_report.dumps(result) + "\n")
        (out / "trace.json").write_text(json.dumps(llm_report.trace_events(result)) + "\n")
    print(llm_report.dumps(result) if args.json else llm_report.to_text(result))
    return 0
