"""Terminal tables (rich) for the CLI: a report's layers and totals, a model's layers, the
shipped hardware configs. Conversion to display units (ms, %, GB/s) happens only here.
rich is imported by the functions that draw, so a run that prints no table (``--json
--quiet``) does not load it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from simaccel.graph import Graph
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel, Kernel
from simaccel.report import Report

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


def _n(value: int) -> str:
    return f"{value:,}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _db(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _check_summary(rows: list[dict]) -> str:
    statuses = [r["check"]["status"] for r in rows]
    if all(s == "skipped" for s in statuses):
        return "skipped"
    failed = statuses.count("fail")
    return f"{failed} fail" if failed else "all pass"


def _shape(kernel: dict) -> str:
    if kernel["type"] == "gemm":
        g = f" ×{kernel['groups']}" if kernel["groups"] > 1 else ""
        return f"{kernel['m']}×{kernel['k']}×{kernel['n']}{g}"
    return f"{kernel['elements']:,} el"


def report_table(report: Report) -> Table:
    """Per-layer rows and a totals row."""
    from rich.table import Table

    data = report.to_dict()
    hw = report.hardware
    table = Table(title=f"{data['model']['name']} on {hw.name} ({hw.array.rows}×{hw.array.cols} "
                  f"{hw.array.dataflow.value.upper()}, {hw.clock_mhz:g} MHz)",
                  title_justify="left")
    for column in ("layer", "op", "GEMM m×k×n / vector", "folds", "cycles", "compute",
                   "stall", "util %", "map eff %", "MACs", "check", "SQNR dB"):
        table.add_column(column, justify="left" if column in ("layer", "op") else "right",
                         overflow="fold")
    for row in data["layers"]:
        table.add_row(row["name"], row["op"], _shape(row["kernel"]), _n(row["folds"]),
                      _n(row["cycles"]), _n(row["compute_cycles"]), _n(row["stall_cycles"]),
                      _pct(row["utilization"]), _pct(row["mapping_efficiency"]), _n(row["macs"]),
                      row["check"]["status"], _db(row["check"]["sqnr_db"]))
    t = data["total"]
    table.add_section()
    table.add_row("total", "", "", _n(sum(r["folds"] for r in data["layers"])),
                  _n(t["cycles"]), _n(t["compute_cycles"]), _n(t["stall_cycles"]),
                  _pct(t["utilization"]), _pct(t["mapping_efficiency"]), _n(t["macs"]),
                  _check_summary(data["layers"]), "", style="bold")
    return table


def cores_table(report: Report) -> Table | None:
    """Per core: busy cycles and their share of the run, utilization, DRAM bytes and the
    kernels it ran; None on a one-core chip."""
    from rich.table import Table

    data = report.to_dict()
    if len(data["cores"]) < 2:
        return None
    table = Table(title=f"per core ({len(data['cores'])} cores)", title_justify="left")
    for column in ("core", "busy cycles", "busy %", "util %", "MACs", "DRAM read B",
                   "DRAM written B", "kernels"):
        table.add_column(column, justify="left" if column == "kernels" else "right",
                         overflow="fold")
    for c in data["cores"]:
        shown = ", ".join(c["kernels"][:4]) + (f" … (+{len(c['kernels']) - 4})"
                                              if len(c["kernels"]) > 4 else "")
        table.add_row(str(c["core"]), _n(c["compute_cycles"]), _pct(c["busy_share"]),
                      _pct(c["utilization"]), _n(c["macs"]), _n(c["dram_read_bytes"]),
                      _n(c["dram_write_bytes"]), f"{len(c['kernels'])}: {shown}"
                      if c["kernels"] else "0")
    return table


def summary_lines(report: Report) -> list[str]:
    """Totals in display units: latency, throughput, achieved and peak TOPS."""
    t = report.to_dict()["total"]
    hw = report.hardware
    peak = 2 * hw.array.pes * hw.chip.cores * hw.clock_mhz * 1e6 / 1e12
    return [
        f"cycles {t['cycles']:,} (compute {t['compute_cycles']:,}, stall "
        f"{t['stall_cycles']:,})   MACs {t['macs']:,}",
        f"latency {t['latency_s'] * 1e3:.3f} ms at {hw.clock_mhz:g} MHz   "
        f"{t['inferences_per_s']:,.1f} inferences/s   "
        f"{t['tops']:.3f} TOPS achieved of {peak:.3f} peak"
        + (" (dense-equivalent: the array skips zero weights)"
           if t["array_macs"] < t["macs"] else ""),
        f"utilization {_pct(t['utilization'])}%   mapping efficiency "
        f"{_pct(t['mapping_efficiency'])}%",
        f"DRAM read {t['dram_read_bytes']:,} B, written {t['dram_write_bytes']:,} B, average "
        f"{t['dram_bandwidth_gbps']:.2f} GB/s of {_peak_gbps(hw)}",
        _energy_line(t),
    ] + ([f"MACs unaccounted for: {len(t['macs_unaccounted'])} op(s) costed by their bytes "
          f"only do multiply-accumulates ({', '.join(t['macs_unaccounted'][:5])})"]
         if t.get("macs_unaccounted") else [])


def _energy_line(t: dict) -> str:
    e = t["energy_pj"]
    parts = ", ".join(f"{k} {100 * e[k] / e['total']:.0f}%" for k in
                      ("mac", "sram", "dram", "vector", "static")) if e["total"] else ""
    return (f"energy {e['total'] * 1e-6:,.1f} µJ per run ({parts})   "
            f"{t['average_power_w']:.3f} W average   {t['tops_per_w']:.2f} TOPS/W")


def _peak_gbps(hw: Hardware) -> str:
    bandwidth = hw.dram_bytes_per_cycle * hw.clock_mhz / 1e3
    return "unlimited" if bandwidth == float("inf") else f"{bandwidth:.2f} GB/s"


def model_table(graph: Graph, kernels: tuple[Kernel, ...]) -> Table:
    """Every layer with its output shape, MACs and the kernel it lowers to."""
    from rich.table import Table

    owner = {}
    for kernel in kernels:
        owner[kernel.name] = kernel
        for name in getattr(kernel, "fused", ()):
            owner[name] = kernel
    model = graph.model
    table = Table(title=f"{model.name}: {len(model.layers)} layers, "
                  f"{sum(k.macs for k in kernels):,} MACs", title_justify="left")
    for column in ("layer", "op", "inputs", "output shape", "MACs", "lowered to"):
        table.add_column(column, justify="right" if column == "MACs" else "left",
                         overflow="fold")
    for spec in model.inputs:
        table.add_row(spec.name, "input", "", str(list(spec.shape)), "", spec.dtype.value)
    for name in graph.order:
        kernel = owner[name]
        if kernel.name != name:
            lowered = f"fused into {kernel.name}"
        elif isinstance(kernel, GemmKernel):
            g = f", groups {kernel.groups}" if kernel.groups > 1 else ""
            lowered = f"GEMM m={kernel.m} k={kernel.k} n={kernel.n}{g}"
        else:
            lowered = f"vector {kernel.elements:,} el × {kernel.ops_per_element} ops"
        macs = kernel.macs if kernel.name == name else 0
        table.add_row(name, graph.layer(name).op, ", ".join(graph.layer(name).inputs),
                      str(list(graph.shapes[name])), _n(macs) if macs else "", lowered)
    return table


def hardware_table(configs: dict[str, Hardware]) -> Table:
    """One row per shipped hardware config."""
    from rich.table import Table

    table = Table(title="shipped hardware configs (use --hw NAME)", title_justify="left")
    for column in ("name", "array", "dataflow", "MHz", "SRAM i/f/o KiB", "DRAM GB/s",
                   "dtypes", "peak TOPS", "description"):
        table.add_column(column, overflow="fold")
    for name, hw in sorted(configs.items()):
        bw = hw.dram_bytes_per_cycle * hw.clock_mhz * 1e6 / 1e9
        s = hw.sram
        table.add_row(name, f"{hw.array.rows}×{hw.array.cols}", hw.array.dataflow.value,
                      f"{hw.clock_mhz:g}", f"{s.ifmap_kib:g}/{s.filter_kib:g}/{s.ofmap_kib:g}",
                      f"{bw:g}", f"{hw.dtypes.input.value}/{hw.dtypes.accumulator.value}",
                      f"{2 * hw.array.pes * hw.chip.cores * hw.clock_mhz / 1e6:.2f}",
                      hw.description)
    return table


def _bar_console(enabled: bool) -> Console | None:
    """rich's console on stderr when a progress bar is wanted and stderr is a terminal."""
    if not enabled:
        return None
    from rich.console import Console

    err = Console(stderr=True)
    return err if err.is_terminal else None


@contextmanager
def progress(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr for long runs: silent when stderr is not a terminal or when
    not ``enabled``. Yields the callback `simaccel.simulate` takes."""
    err = _bar_console(enabled)
    if err is None:
        yield lambda stage, done, total: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}"
                   "/{task.total}"), TimeElapsedColumn(), console=err, transient=True)
    task = bar.add_task("loading", total=1)

    def tell(stage: str, done: int, total: int) -> None:
        bar.update(task, description=stage, completed=done, total=total)

    with bar:
        yield tell


@contextmanager
def sweep_progress(enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """Points done, rate and time left of a sweep, on stderr when it is a terminal."""
    err = _bar_console(enabled)
    if err is None:
        yield lambda done, total: None
        return
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=err,
                   transient=True)
    task = bar.add_task("sweep", total=None, rate="")
    start = time.perf_counter()

    def tell(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - start, 1e-9)
        bar.update(task, completed=done, total=total, rate=f"{rate:.1f} points/s")

    with bar:
        yield tell


def console(stderr: bool = False) -> Console:
    """A console sized for tables (wide when not a terminal, so pipes get whole rows)."""
    from rich.console import Console

    out = Console(stderr=stderr)
    if not out.is_terminal:
        out = Console(stderr=stderr, width=200)
    return out
