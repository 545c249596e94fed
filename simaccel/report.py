"""The report: results as a JSON-able document (``simaccel-report/1``), CSV rows and files.

This module and the CLI are the only ones that write files.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from simaccel.area import area
from simaccel.domain import Operand
from simaccel.energy import Energy, EnergyReport
from simaccel.graph import Graph
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel
from simaccel.results import LayerResult, Results, Totals

REPORT_SCHEMA = "simaccel-report/1"

#: Trace tracks, by the engine's unit names, with their display names.
TRACE_TRACKS = {"dram_read": "DRAM read", "dram_write": "DRAM write", "array": "systolic array",
                "vector": "vector unit"}

#: Columns of layers.csv, in order (nested fields flattened with dots).
CSV_COLUMNS = (
    "name", "op", "kernel.type", "kernel.m", "kernel.k", "kernel.n", "kernel.groups",
    "kernel.elements", "dataflow", "folds", "fused", "cycles", "compute_cycles", "stall_cycles",
    "macs", "utilization", "mapping_efficiency", "sram_read_bytes", "sram_write_bytes",
    "dram_read_bytes", "dram_write_bytes", "dram_bandwidth_gbps", "energy_pj.mac",
    "energy_pj.sram", "energy_pj.dram", "energy_pj.vector", "energy_pj.static",
    "energy_pj.total", "start_cycle", "end_cycle",
    "tiles", "check.status", "check.sqnr_db", "check.overflow",
    "check.max_abs_error", "check.dtype",
)  # fmt: skip


@dataclass(frozen=True)
class Report:
    """A finished simulation: the model, the hardware and the results."""

    graph: Graph
    hardware: Hardware
    results: Results
    energy: EnergyReport
    numerics: object | None = None  #: the NumericsRun when the run was checked

    def to_dict(self) -> dict:
        """The report as plain JSON types, with DESIGN.md's field names and units."""
        return {
            "schema": REPORT_SCHEMA,
            "model": _model_dict(self.graph),
            "hardware": _hardware_dict(self.hardware, self.energy),
            "total": _total_dict(self.results.total, self.hardware, self.graph,
                                 self.energy.total),
            "layers": [_layer_dict(r, self.hardware, e)
                       for r, e in zip(self.results.layers, self.energy.layers, strict=True)],
        }

    def to_json(self) -> str:
        """The report as JSON text (deterministic: same inputs, same bytes)."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def to_csv(self) -> str:
        """The per-layer rows as CSV text."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in self.to_dict()["layers"]:
            flat = _flatten(row)
            flat["fused"] = ";".join(row["fused"])
            writer.writerow(["" if flat.get(c) is None else flat.get(c) for c in CSV_COLUMNS])
        return out.getvalue()

    def trace_events(self) -> dict:
        """The engine's trace in the Chrome trace event format (opens in Perfetto): one
        track per unit, one complete ("X") slice per tile or transfer; times in µs."""
        to_us = 1.0 / self.hardware.clock_mhz
        names = [r.work.kernel.name for r in self.results.layers]
        events: list[dict] = [{"ph": "M", "pid": 1, "name": "process_name",
                               "args": {"name": f"{self.graph.model.name} on "
                                                f"{self.hardware.name}"}}]
        for tid, unit in enumerate(TRACE_TRACKS, start=1):
            events.append({"ph": "M", "pid": 1, "tid": tid, "name": "thread_name",
                           "args": {"name": TRACE_TRACKS[unit]}})
            events.append({"ph": "M", "pid": 1, "tid": tid, "name": "thread_sort_index",
                           "args": {"sort_index": tid}})
        track = {unit: tid for tid, unit in enumerate(TRACE_TRACKS, start=1)}
        for e in self.results.trace:
            events.append({
                "ph": "X", "pid": 1, "tid": track[e.unit], "name": f"{names[e.layer]} #{e.tile}",
                "cat": e.unit, "ts": e.start * to_us, "dur": (e.end - e.start) * to_us,
                "args": {"layer": names[e.layer], "tile": e.tile, "bytes": e.bytes,
                         "cycles": e.end - e.start, "start_cycle": e.start}})
        return {"traceEvents": events, "displayTimeUnit": "ns",
                "otherData": {"schema": REPORT_SCHEMA, "clock_mhz": self.hardware.clock_mhz,
                              "cycles": self.results.total.cycles}}

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write report.json, layers.csv and trace.json into ``out_dir``; returns the paths.

        Each file is written to a temporary name and renamed, so a failed run never leaves
        a half-written report behind.
        """
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        files = (("report.json", self.to_json()), ("layers.csv", self.to_csv()),
                 ("trace.json", json.dumps(self.trace_events(), separators=(",", ":")) + "\n"))
        for name, text in files:
            path = folder / name
            tmp = folder / f".{name}.tmp"
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            written.append(path)
        return written


def _flatten(row: dict, prefix: str = "") -> dict:
    flat: dict = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _model_dict(graph: Graph) -> dict:
    model = graph.model
    return {
        "name": model.name,
        "source": model.source,
        "inputs": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype.value}
                   for t in model.inputs],
        "outputs": list(model.outputs),
        "layers": len(model.layers),
    }


def _energy_dict(energy: Energy) -> dict:
    return {"mac": energy.mac, "sram": energy.sram, "dram": energy.dram,
            "vector": energy.vector, "static": energy.static, "total": energy.total}


def _hardware_dict(hw: Hardware, energy: EnergyReport) -> dict:
    data = hw.model_dump(mode="json")
    table = energy.table
    data["energy_table"] = {
        "mac_pj": table.mac_pj, "dram_pj_per_byte": table.dram_pj_per_byte,
        "vector_pj_per_op": table.vector_pj_per_op, "static_mw": table.static_mw,
        "sram_pj_per_byte": {op.value: table.sram_pj_per_byte(hw.sram.size_bytes(op) / 1024)
                             for op in Operand},
        "source": table.source}
    estimate = area(hw)
    data["area_mm2"] = {"array": estimate.array_mm2, "sram": estimate.sram_mm2,
                        "vector": estimate.vector_mm2, "total": estimate.total_mm2,
                        "source": estimate.table.source}
    data["derived"] = {
        "pes": hw.array.pes,
        "peak_tops": 2 * hw.array.pes * hw.clock_mhz * 1e6 / 1e12,
        "dram_bytes_per_cycle": _finite(hw.dram_bytes_per_cycle),
        "dram_latency_cycles": hw.dram_latency_cycles,
    }
    return data


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: unlimited bandwidth, or an SQNR with no noise, is null."""
    if value is None or value in (float("inf"), float("-inf")):
        return None
    return value


def _common(r: LayerResult | Totals, hw: Hardware) -> dict:
    """The fields a layer row and the totals share."""
    traffic = r.traffic
    moved = traffic.dram_read_bytes + traffic.dram_write_bytes
    cycles = r.cycles
    return {
        "cycles": cycles,
        "compute_cycles": r.compute_cycles,
        "stall_cycles": r.stall_cycles,
        "macs": r.macs,
        "utilization": r.utilization,
        "mapping_efficiency": r.mapping_efficiency,
        "sram_read_bytes": traffic.sram_read_bytes,
        "sram_write_bytes": traffic.sram_write_bytes,
        "dram_read_bytes": traffic.dram_read_bytes,
        "dram_write_bytes": traffic.dram_write_bytes,
        # average over the span: bytes per cycle × cycles per second, in GB/s
        "dram_bandwidth_gbps": moved / cycles * hw.clock_mhz / 1e3 if cycles else 0.0,
    }


def _layer_dict(r: LayerResult, hw: Hardware, energy: Energy) -> dict:
    kernel = r.work.kernel
    if isinstance(kernel, GemmKernel):
        shape = {"type": "gemm", "m": kernel.m, "k": kernel.k, "n": kernel.n,
                 "groups": kernel.groups}
        dataflow = r.work.plan.dataflow.value if r.work.plan else None
    else:
        shape = {"type": "vector", "elements": kernel.elements}
        dataflow = None
    return {
        "name": kernel.name,
        "op": kernel.op,
        "kernel": shape,
        "dataflow": dataflow,
        "folds": r.work.plan.folds if r.work.plan else 0,
        "fused": list(kernel.fused),
        **_common(r, hw),
        "start_cycle": r.start_cycle,
        "end_cycle": r.end_cycle,
        "tiles": len(r.work.tiles),
        "energy_pj": _energy_dict(energy),
        "check": {"status": r.check.status, "max_abs_error": r.check.max_abs_error,
                  "dtype": r.check.dtype, "sqnr_db": _finite(r.check.sqnr_db),
                  "overflow": r.check.overflow, "note": r.check.note},
    }


def _total_dict(t: Totals, hw: Hardware, graph: Graph, energy: Energy) -> dict:
    latency_s = t.cycles / (hw.clock_mhz * 1e6)
    batch = graph.model.inputs[0].shape[0]
    return {
        **_common(t, hw),
        "latency_s": latency_s,
        "inferences_per_s": batch / latency_s if latency_s else None,
        "tops": 2 * t.macs / latency_s / 1e12 if latency_s else None,
        "energy_pj": _energy_dict(energy),
        # 2 ops per MAC over the energy in joules, in tera-ops per watt-second
        "tops_per_w": 2 * t.macs / (energy.total * 1e-12) / 1e12 if energy.total else None,
        "average_power_w": energy.total * 1e-12 / latency_s if latency_s else None,
        "energy_per_inference_uj": energy.total * 1e-6 / batch,
        # ops costed by their bytes only (--allow-unknown) whose type does MACs (LSTM,
        # Einsum, ...): the MACs above do not include theirs
        "macs_unaccounted": [f"{layer.onnx_op} ({layer.name})" for layer in graph.model.layers
                             if getattr(layer, "implies_macs", False)],
    }
