"""The report: results as a JSON-able document (``simaccel-report/1``), CSV rows and files.

This module and the CLI are the only ones that write files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from simaccel.area import area
from simaccel.energy import Energy, EnergyReport
from simaccel.graph import Graph
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel, Kernel
from simaccel.results import LayerResult, Results, Totals
from simaccel.sparse_hw import execution

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
    "tiles", "memory.spilled_bytes", "check.status", "check.sqnr_db", "check.overflow",
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
        """The report as plain JSON types, with DESIGN.md's field names and units (a
        non-finite number, such as unlimited bandwidth, is None)."""
        return json_safe({
            "schema": REPORT_SCHEMA,
            "model": _model_dict(self.graph),
            "hardware": _hardware_dict(self.hardware, self.energy),
            "total": {**_total_dict(self.results.total, self.hardware, self.graph,
                                    self.energy.total),
                      "energy_sram_pj_by_memory": dict(self.energy.sram_by_memory)},
            "layers": [_layer_dict(r, self.hardware, e)
                       for r, e in zip(self.results.layers, self.energy.layers, strict=True)],
            "cores": _cores_list(self.results, self.hardware),
        })

    def to_json(self) -> str:
        """The report as RFC 8259 JSON text (deterministic: same inputs, same bytes; no
        ``Infinity`` or ``NaN``: a non-finite number is ``null``, see `json_safe`)."""
        return dumps(self.to_dict(), indent=2) + "\n"

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
        units = list(TRACE_TRACKS) + sorted({e.unit for e in self.results.trace}
                                            - set(TRACE_TRACKS))
        for tid, unit in enumerate(units, start=1):
            core, _, base = unit.rpartition(".")  # "c1.array": core 1's array
            label = TRACE_TRACKS.get(base, base) + (f" (core {core[1:]})" if core else "")
            events.append({"ph": "M", "pid": 1, "tid": tid, "name": "thread_name",
                           "args": {"name": label}})
            events.append({"ph": "M", "pid": 1, "tid": tid, "name": "thread_sort_index",
                           "args": {"sort_index": tid}})
        track = {unit: tid for tid, unit in enumerate(units, start=1)}
        for e in self.results.trace:
            # kernel −1: a model input loaded whole into the resident memory before anything
            layer = names[e.layer] if e.layer >= 0 else "model input"
            name = f"{layer} #{e.tile}"
            args = {"layer": layer, "tile": e.tile, "bytes": e.bytes,
                    "cycles": e.end - e.start, "start_cycle": e.start}
            if e.repeat:  # a steady state the engine fast-forwarded
                name += f" … {e.repeat} iterations fast-forwarded"
                args["fast_forwarded_iterations"] = e.repeat
            events.append({"ph": "X", "pid": 1, "tid": track[e.unit], "name": name,
                           "cat": e.unit, "ts": e.start * to_us,
                           "dur": (e.end - e.start) * to_us, "args": args})
        return {"traceEvents": events, "displayTimeUnit": "ns",
                "otherData": {"schema": REPORT_SCHEMA, "clock_mhz": self.hardware.clock_mhz,
                              "cycles": self.results.total.cycles}}

    def write(self, out_dir: str | Path,
              also: Callable[[Path], list[Path]] | None = None) -> list[Path]:
        """Write report.json, layers.csv and trace.json into ``out_dir`` as one set; returns
        the paths. ``also`` writes more files of the run (plots) into the folder it is given.

        Every file is first written into a fresh hidden folder inside ``out_dir`` and only
        then moved into place, so a failed run never leaves a half-written report behind.
        trace.json records the SHA-256 of the report.json it belongs with
        (``otherData.report_sha256``), so a folder mixing files of two runs is detected.
        Folders it creates for ``out_dir`` are removed again if writing fails. Raises
        `InputError` naming ``Report.write`` and ``out_dir`` (not a path, empty, or a file)
        or ``also`` (not callable); an `OSError` of the file system passes through.
        """
        folder = _out_folder(out_dir, also)
        created = _first_missing(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return self._write_set(folder, also)
        except BaseException:
            if created is not None:
                shutil.rmtree(created, ignore_errors=True)
            raise

    def _write_set(self, folder: Path,
                   also: Callable[[Path], list[Path]] | None) -> list[Path]:
        """`write` into the existing ``folder``."""
        report_text = self.to_json()
        trace = self.trace_events()
        trace["otherData"]["report_sha256"] = report_digest(report_text)
        files = (("report.json", report_text), ("layers.csv", self.to_csv()),
                 ("trace.json", dumps(trace, separators=(",", ":")) + "\n"))
        staging = Path(tempfile.mkdtemp(prefix=".simaccel-run-", dir=folder))
        try:
            for name, text in files:
                (staging / name).write_text(text, encoding="utf-8")
            if also is not None:
                also(staging)
            names = sorted(p.name for p in staging.iterdir())
            # the trace last: until it lands, the folder's trace names another report
            names.sort(key=lambda name: name == "trace.json")
            written = []
            for name in names:
                (staging / name).replace(folder / name)
                written.append(folder / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return written


def _out_folder(out_dir: object, also: object) -> Path:
    """`Report.write`'s arguments checked: ``out_dir`` a non-empty path that is not a
    file, ``also`` None or callable."""
    from simaccel.errors import InputError

    if not isinstance(out_dir, str | PurePath) or not str(out_dir).strip():
        raise InputError("Report.write", "out_dir", f"expected a folder path, got "
                         f"{out_dir!r}")
    if also is not None and not callable(also):
        raise InputError("Report.write", "also", f"expected None or a function of the "
                         f"folder, got {type(also).__name__}")
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise InputError("Report.write", "out_dir", f"{str(out_dir)!r} exists and is not a "
                         "folder")
    return folder


def _first_missing(folder: Path) -> Path | None:
    """The outermost folder of ``folder``'s path that does not exist yet (what `write`
    creates), or None."""
    missing = None
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing = path
    return missing


def report_digest(report_text: str) -> str:
    """The SHA-256 of report.json's text, which trace.json records to name its report."""
    return hashlib.sha256(report_text.encode("utf-8")).hexdigest()


def json_safe(value: object) -> object:
    """``value`` with every non-finite float (unlimited bandwidth, an SQNR with no noise)
    replaced by None: JSON (RFC 8259) has no Infinity or NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def dumps(value: object, **options: object) -> str:
    """Standard JSON text of ``value``: non-finite numbers become null, and a non-finite
    number that slipped through would raise instead of writing ``Infinity``."""
    return json.dumps(json_safe(value), allow_nan=False, **options)


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
        "source": _source_name(model.source),
        "inputs": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype.value}
                   for t in model.inputs],
        "outputs": list(model.outputs),
        "layers": len(model.layers),
    }


def _source_name(source: str) -> str:
    """The model file's name: the same file gives the same report however its path was
    typed (``x.json``, ``./x.json``, an absolute path) and wherever it lies."""
    return PurePath(source).name if source and not source.startswith("<") else source


def _energy_dict(energy: Energy) -> dict:
    return {"mac": energy.mac, "sram": energy.sram, "dram": energy.dram,
            "vector": energy.vector, "static": energy.static, "total": energy.total}


def _hardware_dict(hw: Hardware, energy: EnergyReport) -> dict:
    data = hw.model_dump(mode="json")
    table = energy.table
    data["energy_table"] = {
        "mac_pj": table.mac_pj, "dram_pj_per_byte": table.dram_pj_per_byte,
        "vector_pj_per_op": table.vector_pj_per_op, "static_mw": table.static_mw,
        "sram_pj_per_byte": dict(table.memory_pj_per_byte),
        "operand_sram_pj_per_byte": {op.value: pj for op, pj in table.operand_pj_per_byte},
        "leakage": {"fixed_static": table.static_fixed, "pe_uw": table.pe_leakage_uw,
                    "sram_nw_per_byte": table.sram_leakage_nw_per_byte,
                    "array_mw": table.array_leakage_mw,
                    "memories_mw": dict(table.memory_leakage_mw)},
        "source": table.source}
    estimate = area(hw)
    data["area_mm2"] = {"array": estimate.array_mm2, "sram": estimate.sram_mm2,
                        "vector": estimate.vector_mm2, "total": estimate.total_mm2,
                        "source": estimate.table.source}
    data["derived"] = {
        "pes": hw.array.pes * hw.chip.cores,  # every core's array
        "peak_tops": 2 * hw.array.pes * hw.chip.cores * hw.clock_mhz * 1e6 / 1e12,
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
        "array_macs": r.array_macs,
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
        "tiles": r.work.tile_count,
        "memory": {"resident": list(r.resident), "spilled_bytes": r.spilled_bytes},
        "energy_pj": _energy_dict(energy),
        "check": {"status": r.check.status, "max_abs_error": r.check.max_abs_error,
                  "dtype": r.check.dtype, "sqnr_db": _finite(r.check.sqnr_db),
                  "overflow": r.check.overflow, "note": r.check.note},
        "sparsity": _sparsity_dict(kernel, r, hw),
        "core": r.core,
    }


def _cores_list(results: Results, hw: Hardware) -> list[dict]:
    """Per core of the chip: its busy cycles and their share of the run, its MACs'
    utilization of its own array over the run, its kernels' bytes, and their names."""
    cycles = results.total.cycles
    names = [r.work.kernel.name for r in results.layers]
    return [{"core": c.core, "compute_cycles": c.compute_cycles,
             "busy_share": c.compute_cycles / cycles if cycles else 0.0,
             "macs": c.macs,
             "utilization": c.array_macs / (hw.array.pes * cycles) if cycles else 0.0,
             "dram_read_bytes": c.traffic.dram_read_bytes,
             "dram_write_bytes": c.traffic.dram_write_bytes,
             "sram_read_bytes": c.traffic.sram_read_bytes,
             "sram_write_bytes": c.traffic.sram_write_bytes,
             "kernels": [names[i] for i in c.kernels]}
            for c in results.cores]


def _sparsity_dict(kernel: Kernel, r: LayerResult, hw: Hardware) -> dict | None:
    """A GEMM's weights as ``hw`` stores and runs them (docs/report.md); None for vector."""
    if not isinstance(kernel, GemmKernel):
        return None
    run = execution(kernel, hw)
    return {"weight_density": run.density, "format": run.format,
            "weight_bytes": run.weight_bytes, "dense_weight_bytes": run.dense_weight_bytes,
            "skips": run.skips, "k_ratio": float(run.k_ratio),
            "mac_share": run.mac_share, "zero_activations": r.check.zero_activations}


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
