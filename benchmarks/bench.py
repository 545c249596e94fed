"""Benchmarks for DESIGN.md's performance budgets, measured on this machine.

    python benchmarks/bench.py            # all cases, best of 5
    python benchmarks/bench.py --repeat 20
    python benchmarks/bench.py -k sweep --workers 2

Each case prints the best and median wall time. In-process cases time `simaccel.simulate`
on an already loaded model (what a notebook sweep pays per point); the CLI case times the
whole `simaccel simulate` process, interpreter start-up included.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import simaccel

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


CASES: dict[str, tuple[Callable[[], Callable[[], object]], str]] = {
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
}


SWEEP = {
    "name": "bench_resnet18", "base": "scalesim_default",
    "workloads": [str(WORKLOADS / "resnet18.json")],
    "grid": {"array.rows+array.cols": [16, 32, 64, 128],
             "sram.ifmap_kib+sram.filter_kib+sram.ofmap_kib": [256, 1024],
             "dram.bandwidth_gbps": [8, 16, 32, 64, 128, 256],
             "array.dataflow": ["os", "ws", "is"]},
}


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


def import_time(repeat: int) -> None:
    """Start-up: the wall time of ``import simaccel.cli`` in a fresh interpreter, less an
    empty interpreter's (budget 0.15 s, issue 13), and of the imports ``simaccel simulate``
    adds on a small model (numpy, pydantic, networkx, simpy, rich), from ``-X importtime``."""
    def fresh(code: str) -> float:
        return min(_time(lambda: subprocess.run([sys.executable, "-c", code], check=True),
                         repeat))

    empty = fresh("pass")
    cli = fresh("import simaccel.cli") - empty
    print(f"{'start-up: import simaccel.cli (fresh process, less bare python)':<68} "
          f"{cli:8.3f} {'':>9}  <= 0.15 s")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "simaccel.cli", "simulate",
                           str(WORKLOADS / "mnist_cnn.json"), "--quiet", "--no-check"],
                          check=True, capture_output=True, text=True)
    rows = [line.split("|") for line in proc.stderr.splitlines()
            if line.startswith("import time:") and "self [us]" not in line]
    by_top: dict[str, int] = {}
    for row in rows:
        top = row[2].strip().split(".")[0]
        by_top[top] = by_top.get(top, 0) + int(row[0].split(":")[1])
    heaviest = sorted(by_top.items(), key=lambda kv: -kv[1])[:6]
    print(f"  simulate mnist_cnn imports {sum(by_top.values()) / 1e6:.3f} s in all (-X "
          "importtime, which inflates): " + ", ".join(f"{k} {v / 1e3:.0f} ms"
                                                      for k, v in heaviest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (default 5)")
    parser.add_argument("-k", default="", help="only cases whose name contains this text")
    parser.add_argument("--workers", type=int, default=2, help="sweep workers (default 2)")
    args = parser.parse_args()
    print(f"{'case':<68} {'best s':>8} {'median s':>9}  budget")
    for name, (make, budget) in CASES.items():
        if args.k not in name:
            continue
        times = _time(make(), args.repeat)
        print(f"{name:<68} {min(times):8.3f} {statistics.median(times):9.3f}  {budget}")
    if args.k in "start-up import":
        import_time(args.repeat)
    if args.k in "sweep":
        sweep_rate(args.workers)


if __name__ == "__main__":
    main()
