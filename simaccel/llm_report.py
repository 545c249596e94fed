"""The report of an LLM inference run (`simaccel.llm.LlmRun`): a dict for JSON, a text
table, and a Perfetto trace of one decoder layer of each phase with its collectives.

Times in seconds and cycles (of the chip clock), bytes, fractions in 0..1. ``utilization``
is MACs / (every chip's PEs × cycles); ``comm_share`` the share of a phase's cycles on the
links; per core, the array's busy share; per link, the share of the phase it was held and
the bytes it carried.
"""

from __future__ import annotations

import json
from typing import Any

from simaccel.link_engine import link_name
from simaccel.llm import LlmRun, Step, total_cycles
from simaccel.network import system_network

#: What every report says about the method (docs/architecture.md, "LLM inference").
METHOD = ("each distinct decoder-layer shape is simulated once and multiplied by the layers "
          "a chip runs; decode steps are timed at the first and last context and summed by "
          "the trapezoid rule, checked at the middle context")


def _phase(run: LlmRun, step: Step) -> dict[str, Any]:
    hw = run.hardware
    seconds = step.cycles / (hw.clock_mhz * 1e6)
    pes = hw.array.pes * hw.chip.cores * run.layout.chips
    network = system_network(hw)
    links = [{"link": link_name(link).removeprefix("link."), "busy_cycles": busy,
              "utilization": busy / step.cycles if step.cycles else 0.0, "bytes": carried}
             for link, busy, carried in zip(network.links, step.comm.link_busy or (
                 0,) * len(network.links), step.comm.link_bytes or (0,) * len(network.links),
                 strict=True)]
    return {
        "cycles": step.cycles, "seconds": seconds, "compute_cycles": step.compute_cycles,
        "comm_cycles": step.comm.cycles,
        "comm_share": step.comm.cycles / step.cycles if step.cycles else 0.0,
        "macs": step.macs, "utilization": step.macs / (pes * step.cycles) if step.cycles
        else 0.0, "dram_bytes_per_chip": step.dram_bytes, "pipeline_bubble": step.bubble,
        "cores": [{"core": i, "busy_cycles": b, "utilization": b / step.cycles}
                  for i, b in enumerate(step.core_busy)],
        "links": links}


def to_dict(run: LlmRun) -> dict[str, Any]:
    """The report as plain data (JSON-ready)."""
    spec, hw, lay = run.spec, run.hardware, run.layout
    hz = hw.clock_mhz * 1e6
    decode_s = run.decode.mean.cycles * run.decode.steps / hz if run.decode.mean else 0.0
    ttft = run.prefill.cycles / hz
    fp = run.footprint
    notes = [METHOD]
    if run.prompt + run.generate > spec.max_positions:
        notes.append(f"prompt + generate exceed the model's trained context of "
                     f"{spec.max_positions} tokens (simulated all the same)")
    return {
        "model": {"name": spec.name, "layers": spec.layers, "hidden": spec.hidden,
                  "heads": spec.heads, "kv_heads": spec.kv_heads, "params": spec.params},
        "hardware": {"name": hw.name, "chips": hw.system.chips,
                     "topology": hw.system.topology.value, "cores_per_chip": hw.chip.cores,
                     "clock_mhz": hw.clock_mhz},
        "parallel": lay.parallel.value, "why": run.why,
        "layout": {"chips_used": lay.chips, "tensor": lay.tensor, "stages": lay.stages,
                   "stage_layers": lay.stage_layers, "micro_batches": lay.micro_batches,
                   "batch_per_chip": lay.batch},
        "batch": run.batch, "prompt": run.prompt, "generate": run.generate,
        "ttft_s": ttft,
        "tpot_s": run.decode.mean.cycles / hz if run.decode.mean else None,
        "tokens_per_s": run.batch * run.generate / (ttft + decode_s),
        "decode_tokens_per_s": run.batch * run.decode.steps / decode_s if decode_s else None,
        "total_s": total_cycles(run) / hz,
        "kv_bytes_per_token": spec.kv_elements_per_token() * hw.dtypes.input.bytes,
        "weights_read_per_step_bytes": fp.weights_read_bytes,
        "dram_bytes_per_step": run.decode.mean.dram_bytes if run.decode.mean
        else run.prefill.dram_bytes,
        "decode_steps": run.decode.steps,
        "decode_interpolation_error": run.decode.interpolation_error,
        "prefill": _phase(run, run.prefill),
        "decode": _phase(run, run.decode.mean) if run.decode.mean else None,
        "memory": {"weights_bytes": fp.weights_bytes, "kv_cache_bytes": fp.kv_cache_bytes,
                   "activation_bytes": fp.activation_bytes, "total_bytes": fp.total_bytes,
                   "capacity_bytes": fp.capacity_bytes, "fits": fp.fits},
        "notes": notes,
    }


def to_text(run: LlmRun) -> str:
    """A short human-readable summary, with every note of `to_dict`'s ``notes``."""
    d = to_dict(run)
    lay = d["layout"]
    lines = [f"{d['model']['name']} ({d['model']['params'] / 1e9:.2f} B params) on "
             f"{d['hardware']['name']}: {d['hardware']['chips']} chip(s) × "
             f"{d['hardware']['cores_per_chip']} core(s), {d['hardware']['topology']}",
             f"parallel {d['parallel']}: tensor {lay['tensor']}, stages {lay['stages']} of "
             f"{lay['stage_layers']} layers, {lay['micro_batches']} micro-batch(es), "
             f"{lay['batch_per_chip']} sequence(s) per chip" + (
                 f" — {d['why']}" if d["why"] else ""),
             f"batch {d['batch']}, prompt {d['prompt']}, generate {d['generate']}",
             f"time to first token  {d['ttft_s'] * 1e3:10.2f} ms"]
    if d["tpot_s"] is not None:
        lines.append(f"time per output token {d['tpot_s'] * 1e3:10.2f} ms")
    lines.append(f"tokens/s             {d['tokens_per_s']:10.1f}")
    for name in ("prefill", "decode"):
        p = d[name]
        if p is None:
            continue
        busiest = max((link["utilization"] for link in p["links"]), default=0.0)
        lines.append(f"{name:8s} utilization {p['utilization']:6.1%}, communication "
                     f"{p['comm_share']:6.1%} of {p['cycles']:,} cycles, busiest link "
                     f"{busiest:6.1%}, DRAM {p['dram_bytes_per_chip'] / 1e9:.2f} GB/chip")
    m = d["memory"]
    capacity = "unbounded" if m["capacity_bytes"] is None else \
        f"{m['capacity_bytes'] / (1 << 30):.1f} GiB"
    lines.append(f"memory per chip {m['total_bytes'] / (1 << 30):.2f} GiB of {capacity} "
                 f"(weights {m['weights_bytes'] / (1 << 30):.2f}, KV cache "
                 f"{m['kv_cache_bytes'] / (1 << 30):.2f}); KV "
                 f"{d['kv_bytes_per_token']:,} bytes/token")
    lines.append(f"decode trapezoid error {d['decode_interpolation_error']:.2e}; {METHOD}")
    lines += [f"note: {note}" for note in d["notes"] if note != METHOD]  # every other note
    return "\n".join(lines)


def trace_events(run: LlmRun) -> dict:
    """One decoder layer of each phase on the busiest chip (a track per core unit) followed
    by that step's collectives (a track per link), in the Chrome trace event format."""
    hw = run.hardware
    to_us = 1.0 / hw.clock_mhz
    events: list[dict] = []
    tracks: dict[tuple[int, str], int] = {}
    phases = [("prefill", run.prefill)] + (
        [("decode", run.decode.mean)] if run.decode.mean else [])
    for pid, (name, step) in enumerate(phases, start=1):
        events.append({"ph": "M", "pid": pid, "name": "process_name",
                       "args": {"name": f"{name}: one layer and its communication"}})
        layer_end = step.layer.cycles if step.layer else 0
        shifted = [(e, 0) for e in (step.layer.trace if step.layer else ())] + [
            (e, layer_end) for e in step.comm.trace]
        for e, offset in shifted:
            key = (pid, e.unit)
            if key not in tracks:
                tracks[key] = len(tracks) + 1
                events.append({"ph": "M", "pid": pid, "tid": tracks[key],
                               "name": "thread_name", "args": {"name": e.unit}})
            events.append({"ph": "X", "pid": pid, "tid": tracks[key], "cat": e.unit,
                           "name": f"{e.unit} #{e.tile}", "ts": (e.start + offset) * to_us,
                           "dur": (e.end - e.start) * to_us,
                           "args": {"bytes": e.bytes, "cycles": e.end - e.start}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"clock_mhz": hw.clock_mhz}}


def dumps(run: LlmRun) -> str:
    """The report as JSON text."""
    return json.dumps(to_dict(run), indent=1, allow_nan=False)
