"""Benchmarks for DESIGN.md's performance budgets, measured on this machine.

    python benchmarks/bench.py            # all cases, best of 5
    python benchmarks/bench.py --repeat 20
    python benchmarks/bench.py -k sweep --workers 2
    python benchmarks/bench.py -k llama --layers 2     # 2 of the 32 decoder layers
    python benchmarks/bench.py -k numerics             # int8 check vs a float64 BLAS pass
    python benchmarks/bench.py -k start-up             # simulate mnist_cnn: imports, first use

Each case prints the best and median wall time. In-process cases time `simaccel.simulate`
on an already loaded model (what a notebook sweep pays per point); the CLI case times the
whole `simaccel simulate` process, interpreter start-up included.

Large models (issue 11, item 9: a Llama-7B-like decoder and a GPT-3-like layer on
`scalesim_default`) run once each in a fresh subprocess, which reports its wall time
(building the model, simulating without the numerics check, the report dict) and its peak
resident memory (``ru_maxrss``). ``--layers N`` caps the decoder at N layers so that a run
finishes on a small machine; the line then also gives N-layer figures scaled to the full
depth (a linear extrapolation, marked as such). ``--layers 0`` runs the full model (with
the steady states fast-forwarded, a few seconds and well under 1 GiB; docs/architecture.md,
"Fast-forward", gives the figures).

The numerics case compares the cost of the int8 numerics check of ResNet-50 (the time
``check=True`` adds to a simulation) with one float64 BLAS pass over the same GEMMs
(``numpy.matmul`` of random M×K and K×N matrices, group by group).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import simaccel
from simaccel.frontends.model_json import parse_model

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ROOT / "workloads"


def _time(run: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def _simulate(workload: str, hw: str) -> Callable[[], object]:
    model = simaccel.load_model(WORKLOADS / workload)
    hardware = simaccel.load_hardware(hw)
    return lambda: simaccel.simulate(model, hardware, check=False).to_dict()


def _checked(workload: str, hw: str) -> Callable[[], object]:
    model = simaccel.load_model(WORKLOADS / workload)
    hardware = simaccel.load_hardware(hw)
    return lambda: simaccel.simulate(model, hardware, check=True).to_dict()


def _cli(*args: str) -> Callable[[], object]:
    command = [sys.executable, "-m", "simaccel.cli", *args]
    return lambda: subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def _llm(name: str, hw: str, parallel: str, prompt: int, generate: int,
         int8: bool) -> Callable[[], object]:
    """Cold `simaccel.llm.infer` runs (the piece cache cleared each time); ``int8``: the
    chip's datatypes set to int8 (GPT-3 175B in bf16 fits no 32 GiB chip of eight)."""
    from simaccel import llm
    from simaccel.frontends.hf_config import load_llm
    from simaccel.hardware import vary
    from simaccel.llm_parallel import Parallel

    spec, hardware = load_llm(name), simaccel.load_hardware(hw)
    if int8:
        hardware = vary(hardware, {"dtypes.input": "int8", "dtypes.weight": "int8",
                                   "dtypes.accumulator": "int32"})

    def run() -> object:
        llm.clear_cache()
        return llm.infer(spec, hardware, Parallel(parallel), 1, prompt, generate)
    return run


def _partition(workload: str, hw: str, parallel: str, batch: int) -> Callable[[], object]:
    """`simaccel.partition.choose` on a one-chip report made once (``auto``: two sliced
    simulations, the per-layer and tensor searches, data and pipeline)."""
    from simaccel.partition import choose

    report = simaccel.simulate(simaccel.load_model(WORKLOADS / workload),
                               simaccel.load_hardware(hw), check=False)
    return lambda: choose(report, parallel, batch)


CASES: dict[str, tuple[Callable[[], Callable[[], object]], str]] = {
    "partition resnet50 auto (per layer), batch 64, 8 chips (in-process, after simulate)": (
        lambda: _partition("resnet50.json", "tpu_v4_like_x8", "auto", 64), ""),
    "llm: gpt3-175b int8, prompt 2048, 128 tokens, 8 chips tensor parallel": (
        lambda: _llm("gpt3-175b", "tpu_v4_like_x8", "tensor", 2048, 128, True),
        "≤ 30 s (issue 14)"),
    "simulate resnet50 on scalesim_default (in-process)": (
        lambda: _simulate("resnet50.json", "scalesim_default"), "about 1 s"),
    "simulate resnet50 on tpu_v1 (in-process)": (
        lambda: _simulate("resnet50.json", "tpu_v1"), "about 1 s"),
    "simulate mobilenet_v2 on gemmini (in-process)": (
        lambda: _simulate("mobilenet_v2.json", "gemmini"), ""),
    "simulate + int8 numerics check resnet18 on scalesim_default": (
        lambda: _checked("resnet18.json", "scalesim_default"), "seconds"),
    "simulate + int8 numerics check resnet50 on scalesim_default": (
        lambda: _checked("resnet50.json", "scalesim_default"), "well under a minute"),
    "CLI: SCALE-Sim resnet18 first 6 layers, 32x32 OS (whole process)": (
        lambda: _cli("simulate", str(WORKLOADS / "scalesim" / "resnet18_first6.csv"), "--hw",
                     str(WORKLOADS / "scalesim" / "scale.cfg"), "--json"),
        "< 0.8 s (SCALE-Sim 3.0.0: ~80 s)"),
    "CLI: simulate resnet50 (whole process)": (
        lambda: _cli("simulate", str(WORKLOADS / "resnet50.json"), "--json"), ""),
    "training step resnet18 batch 8 adam on tpu_v1 bf16 (simulate --train, in-process)": (
        lambda: _training_step("resnet18.json", 8), ""),
    "train digits_cnn 1 epoch bf16 on tpu_v1 (42 steps through the Program's numerics)": (
        lambda: _train_epoch(), "seconds"),
}


def _training_step(workload: str, batch: int) -> Callable[[], object]:
    model = simaccel.load_model(WORKLOADS / workload)
    hardware = simaccel.load_hardware("tpu_v1")
    return lambda: simaccel.simulate_step(model, hardware, "adam", batch=batch,
                                          precision="bf16", trace=False)


def _train_epoch() -> Callable[[], object]:
    """One epoch of `simaccel train`; the full run (20 epochs: 98.0% in bf16 on tpu_v1 and
    edge_tpu_like, 98.2% in fp32 and float64) is in README, "Training on the accelerator"."""
    from simaccel.datasets import split_digits
    from simaccel.numerics.training import TrainConfig
    from simaccel.trainer import train
    from simaccel.training_run import training_hardware

    model = simaccel.load_model(WORKLOADS / "digits_cnn.json")
    hardware = training_hardware(simaccel.load_hardware("tpu_v1"), "bf16")
    data = split_digits()
    return lambda: train(model, hardware, TrainConfig(epochs=1), data, say=lambda line: None)


SWEEP = {
    "name": "bench_resnet18", "base": "scalesim_default",
    "workloads": [str(WORKLOADS / "resnet18.json")],
    "grid": {"array.rows+array.cols": [16, 32, 64, 128],
             "sram.ifmap_kib+sram.filter_kib+sram.ofmap_kib": [256, 1024],
             "dram.bandwidth_gbps": [8, 16, 32, 64, 128, 256],
             "array.dataflow": ["os", "ws", "is"]},
}


def decoder(name: str, layers: int, hidden: int, ffn: int, heads: int, seq: int,
            gated: bool) -> dict:
    """A model.json dict of ``layers`` pre-norm transformer decoder layers on a [1, seq,
    hidden] input (the ops the format has: layernorm stands for RMSNorm; ``gated``: a
    SwiGLU-like FFN, gate (sigmoid) × up then down, as Llama; else dense-GELU-dense, as
    GPT-3). Projections have no bias; causal masking is not modelled (full scores)."""
    head_dim = hidden // heads
    out: list[dict] = []

    def add(layer: str, op: str, inputs: list[str], **attrs: object) -> str:
        out.append({"name": layer, "op": op, "inputs": inputs, **attrs})
        return layer

    x = "x"
    for i in range(layers):
        p = f"l{i}."
        h = add(p + "attn_norm", "layernorm", [x])
        qkv = {}
        for t in ("q", "k", "v"):
            y = add(p + t, "dense", [h], units=hidden, bias=False)
            y = add(p + t + ".heads", "reshape", [y], shape=[1, seq, heads, head_dim])
            qkv[t] = add(p + t + ".t", "transpose", [y], perm=[0, 2, 1, 3])
        s = add(p + "scores", "matmul", [qkv["q"], qkv["k"]], transpose_b=True,
                scale=head_dim ** -0.5)
        s = add(p + "softmax", "softmax", [s])
        c = add(p + "context", "matmul", [s, qkv["v"]])
        c = add(p + "context.t", "transpose", [c], perm=[0, 2, 1, 3])
        c = add(p + "context.merge", "reshape", [c], shape=[1, seq, hidden])
        o = add(p + "attn_out", "dense", [c], units=hidden, bias=False)
        x = add(p + "attn_add", "add", [o, x])
        h = add(p + "ffn_norm", "layernorm", [x])
        if gated:
            g = add(p + "gate", "dense", [h], units=ffn, bias=False, activation="sigmoid")
            u = add(p + "up", "dense", [h], units=ffn, bias=False)
            f = add(p + "gate_up", "mul", [g, u])
        else:
            f = add(p + "up", "dense", [h], units=ffn, bias=False, activation="gelu")
        f = add(p + "down", "dense", [f], units=hidden, bias=False)
        x = add(p + "ffn_add", "add", [f, x])
    add("final_norm", "layernorm", [x])
    return {"format": "simaccel-model/1", "name": name,
            "inputs": [{"name": "x", "shape": [1, seq, hidden]}], "layers": out}


#: name -> (model.json dict for N layers, full depth, config, issue 11's budget)
LARGE: dict[str, tuple[Callable[[int], dict], int, str, str]] = {
    "llama-7b-like decoder (hidden 4096, FFN 11008, seq 2048) on scalesim_default": (
        lambda n: decoder("llama7b_like", n, 4096, 11008, 32, 2048, gated=True), 32,
        "scalesim_default", "<= 10 s, <= 1 GB (32 layers)"),
    "gpt-3-like layer (hidden 12288, FFN 49152, seq 2048) on scalesim_default": (
        lambda n: decoder("gpt3_like", n, 12288, 4 * 12288, 96, 2048, gated=False), 1,
        "scalesim_default", "<= 5 s"),
}


def _large_child(name: str, layers: int) -> None:
    """In a fresh process: build and simulate one large case, print its figures as JSON."""
    make, _, hw, _ = LARGE[name]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    base = usage.ru_maxrss * 1024  # Linux: KiB
    cpu = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    model = parse_model(make(layers), source="<bench>")
    report = simaccel.simulate(model, simaccel.load_hardware(hw), check=False)
    total = report.to_dict()["total"]
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak, cpu = usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime - cpu
    tiles = sum(r.work.tile_count for r in report.results.layers)
    listed = sum(len(r.work.tiles) for r in report.results.layers)
    print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_bytes": peak,
                      "base_bytes": base, "cycles": total["cycles"], "macs": total["macs"],
                      "tiles": tiles, "listed": listed}))


def large_cases(pattern: str, layers: int) -> None:
    """Wall time and peak memory of each large case whose name contains ``pattern``."""
    for name, (_, depth, _, budget) in LARGE.items():
        if pattern not in name:
            continue
        n = depth if layers <= 0 else min(layers, depth)
        done = subprocess.run([sys.executable, __file__, "--child", name, "--layers", str(n)],
                              check=True, capture_output=True, text=True)
        got = json.loads(done.stdout.strip().splitlines()[-1])
        line = (f"{name}, {n} of {depth} layers: {got['seconds']:.1f} s "
                f"({got['cpu_seconds']:.1f} s CPU), peak RSS "
                f"{got['peak_bytes'] / 2**30:.2f} GiB, {got['macs'] / 1e12:.2f} TMACs, "
                f"{got['cycles']:,} cycles")
        print(line + f", {got['tiles']:,} tiles ({got['listed']:,} timed one by one, the "
              "rest fast-forwarded)", flush=True)
        if n < depth:
            grown = got["base_bytes"] + (got["peak_bytes"] - got["base_bytes"]) * depth / n
            print(f"  scaled linearly to {depth} layers (an extrapolation, not a run): "
                  f"~{got['seconds'] * depth / n:.0f} s (~{got['cpu_seconds'] * depth / n:.0f} s "
                  f"CPU), ~{grown / 2**30:.1f} GiB peak "
                  f"(interpreter and imports {got['base_bytes'] / 2**30:.2f} GiB, the rest "
                  f"grows with the tiles)", flush=True)
        print(f"  budget (issue 11, item 9): {budget}", flush=True)


NUMERICS = "int8 numerics check resnet50 vs one float64 BLAS pass of its GEMMs (ratio)"


def numerics_ratio(repeat: int) -> None:
    """Cost of ResNet-50's int8 numerics check over one float64 BLAS pass of its GEMMs."""
    from simaccel.kernels import GemmKernel
    from simaccel.pipeline import prepare

    model = simaccel.load_model(WORKLOADS / "resnet50.json")
    hardware = simaccel.load_hardware("scalesim_default")
    plain = min(_time(lambda: simaccel.simulate(model, hardware, check=False).to_dict(),
                      max(repeat // 2, 1)))
    checked = min(_time(lambda: simaccel.simulate(model, hardware, check=True).to_dict(),
                        max(repeat // 2, 1)))
    gemms = [k for k in prepare(model).kernels if isinstance(k, GemmKernel)]
    rng = np.random.default_rng(0)
    operands = [(rng.standard_normal((k.m, k.k)), rng.standard_normal((k.k, k.n)), k.groups)
                for k in gemms]

    def blas() -> None:
        for a, b, groups in operands:
            for _ in range(groups):
                np.matmul(a, b)

    blas_s = min(_time(blas, repeat))
    macs = sum(k.macs for k in gemms)
    check_s = checked - plain
    print(f"int8 numerics check resnet50 on scalesim_default: {check_s:.2f} s "
          f"(simulate {plain:.2f} s without, {checked:.2f} s with); one float64 BLAS pass of "
          f"its {macs / 1e9:.2f} GMACs: {blas_s:.3f} s; ratio {check_s / blas_s:.1f}x "
          f"(issue 11, item 8: <= 10x)", flush=True)


def sweep_rate(workers: int) -> None:
    """Points per second of a ResNet-18 sweep (144 points) on ``workers`` processes, pool
    start-up included, and where one point's time goes (set-up once vs engine per point)."""
    from simaccel.hardware import vary
    from simaccel.pipeline import prepare, run
    from simaccel.sweeps import parse_spec, sweep

    spec = parse_spec(SWEEP)
    start = time.perf_counter()
    frame = sweep(spec, workers=workers)
    elapsed = time.perf_counter() - start
    assert (frame["error"] == "").all()
    print(f"sweep resnet18, {len(frame)} points, {workers} workers: "
          f"{len(frame) / elapsed:.1f} points/s ({elapsed:.2f} s, pool start-up included)",
          flush=True)
    start = time.perf_counter()
    prepared = prepare(simaccel.load_model(WORKLOADS / "resnet18.json"))
    setup = time.perf_counter() - start
    base = simaccel.load_hardware("scalesim_default")
    points = [vary(base, {"array.rows+array.cols": n, "sram.ofmap_kib": 256})
              for n in (16, 32, 64, 128)]
    start = time.perf_counter()
    for hw in points:
        run(prepared, hw, check=False).to_dict()
    per_point = (time.perf_counter() - start) / len(points)
    print(f"  one point in process: parse + lower {setup * 1e3:.0f} ms once, tile + engine + "
          f"report {per_point * 1e3:.0f} ms per point")


FAST_FORWARD = "fast-forward vs exact, every shipped workload x config"


def fast_forward_agreement() -> None:
    """Total cycles with the steady state fast-forwarded vs every tile timed, on every
    shipped workload and config (issue 11, item 9: within 0.5%), with both runs' times;
    tests/test_fast_forward.py checks the pairs whose exact run is short."""
    from simaccel.pipeline import map_and_time, prepare
    from simaccel.schedule import build_schedule

    worst = 0.0
    for workload in sorted(WORKLOADS.glob("*.json")):
        prepared = prepare(simaccel.load_model(workload))
        for config in sorted((WORKLOADS.parent / "hw_configs").glob("*.toml")):
            hw = simaccel.load_hardware(config.stem)
            cycles, seconds = [], []
            for exact in (True, False):
                start = time.perf_counter()
                schedule = build_schedule(prepared.kernels, hw, exact=exact)
                cycles.append(map_and_time(schedule, prepared.graph, trace=False)[2].cycles)
                seconds.append(time.perf_counter() - start)
            error = (cycles[1] - cycles[0]) / cycles[0]
            worst = max(worst, abs(error))
            print(f"  {workload.stem:<30} {config.stem:<18} exact {cycles[0]:>13,} "
                  f"({seconds[0]:6.2f} s)  fast-forward {cycles[1]:>13,} ({seconds[1]:5.2f} s)"
                  f"  {error:+.4%}", flush=True)
    print(f"{FAST_FORWARD}: worst {worst:.4%} (budget 0.5%)")


#: What `start_up` times: the command issue 13 (item 9) names, on a small model.
STARTUP_ARGS = ("simulate", str(WORKLOADS / "mnist_cnn.json"), "--quiet")

#: Run in a fresh interpreter: the same command once (imports, first-use set-up), then its
#: best of 5 in the warm process, which is the work the command does once started.
_WARM = """import contextlib, io, sys, time
from simaccel.cli import main
argv = sys.argv[1:]
with contextlib.redirect_stdout(io.StringIO()):
    main(argv)
times = []
for _ in range(5):
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        main(argv)
    times.append(time.perf_counter() - start)
print(min(times))
"""


#: What `start_up` calls the floor: the libraries the command cannot do without, at their
#: least — numpy imported, one strict pydantic model built and used (its first class pays
#: for pydantic's schema machinery), rich's console and table imported — and no simaccel.
_FLOOR = """import numpy
from typing import Annotated
from pydantic import BaseModel, ConfigDict, Field
class Probe(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")
    rows: Annotated[int, Field(ge=1)]
Probe(rows=1)
import rich.console, rich.table
"""


#: The start-up runs' environment: bytecode written and read, as a ``pip install`` leaves it
#: (pip compiles every module at install), even where the shell sets PYTHONDONTWRITEBYTECODE.
_COMPILED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=_COMPILED)
    return time.perf_counter() - start


def start_up(repeat: int) -> None:
    """Start-up of ``simaccel simulate workloads/mnist_cnn.json --quiet`` (issue 13, item 9:
    at most 0.15 s): the command's wall time in a fresh process, less an empty interpreter's
    (``python -c pass``: site, .pth files), less the command's own work (its time when run
    again in a warm process). What is left is the imports and the first-use set-up (pydantic
    schemas, numpy, rich) the command pays before it simulates. Median of ``repeat`` runs of
    each, interleaved so that a busy machine slows all three alike; then where the imports
    go by top-level package (``-X importtime``, which inflates every figure)."""
    bare, cold, work, floor = [], [], [], []
    _wall([sys.executable, "-m", "simaccel.cli", *STARTUP_ARGS])  # writes the bytecode
    for _ in range(max(repeat, 5)):
        bare.append(_wall([sys.executable, "-c", "pass"]))
        floor.append(_wall([sys.executable, "-c", _FLOOR]))
        cold.append(_wall([sys.executable, "-m", "simaccel.cli", *STARTUP_ARGS]))
        warm = subprocess.run([sys.executable, "-c", _WARM, *STARTUP_ARGS], check=True,
                              capture_output=True, text=True)
        work.append(float(warm.stdout))
    med = statistics.median
    startup = med(cold) - med(bare) - med(work)
    print(f"{'start-up: simaccel simulate mnist_cnn (cold - bare python - work)':<68} "
          f"{'':>8} {startup:9.3f}  <= 0.15 s")
    print(f"  median of {len(cold)}: whole command {med(cold):.3f} s, bare python "
          f"{med(bare):.3f} s, the command's work {med(work):.3f} s (modules read from "
          "their bytecode, as installed)")
    print(f"  the libraries' floor (numpy, one strict pydantic model validated, rich's "
          f"table; no simaccel): {med(floor) - med(bare):.3f} s")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "simaccel.cli",
                           *STARTUP_ARGS], check=True, capture_output=True, text=True,
                          env=_COMPILED)
    rows = [line.split("|") for line in proc.stderr.splitlines()
            if line.startswith("import time:") and "self [us]" not in line]
    by_top: dict[str, int] = {}
    for row in rows:
        top = row[2].strip().split(".")[0]
        by_top[top] = by_top.get(top, 0) + int(row[0].split(":")[1])
    heaviest = sorted(by_top.items(), key=lambda kv: -kv[1])[:8]
    print(f"  its imports: {sum(by_top.values()) / 1e6:.3f} s in all (-X importtime, which "
          "inflates): " + ", ".join(f"{k} {v / 1e3:.0f} ms" for k, v in heaviest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (default 5)")
    parser.add_argument("-k", default="", help="only cases whose name contains this text")
    parser.add_argument("--workers", type=int, default=2, help="sweep workers (default 2)")
    parser.add_argument("--layers", type=int, default=2,
                        help="decoder layers of the large cases (default 2; 0: full depth)")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _large_child(args.child, args.layers)
        return
    print(f"{'case':<68} {'best s':>8} {'median s':>9}  budget")
    for name, (make, budget) in CASES.items():
        if args.k not in name:
            continue
        times = _time(make(), args.repeat)
        print(f"{name:<68} {min(times):8.3f} {statistics.median(times):9.3f}  {budget}")
    if args.k in "start-up import":
        start_up(args.repeat)
    if args.k in "sweep":
        sweep_rate(args.workers)
    if args.k in NUMERICS:
        numerics_ratio(args.repeat)
    if args.k in FAST_FORWARD:
        fast_forward_agreement()
    large_cases(args.k, args.layers)


if __name__ == "__main__":
    main()
