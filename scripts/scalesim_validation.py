"""Generate docs/validation.md: simaccel beside SCALE-Sim 3.0.0 with constrained memory.

    python scripts/scalesim_validation.py            # rewrites docs/validation.md
    python scripts/scalesim_validation.py --check    # exit 1 if the file is out of date

Reads tests/data/setA_constrained.csv (SCALE-Sim's total and stall cycles for 12 layers on a
32×32 array, three dataflows, four memory configurations), runs the same layers through
simaccel on the same machine, and classifies every difference over 10% by its cause.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import simaccel
from simaccel.frontends.hardware_toml import parse_hardware

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
OUT = ROOT / "docs" / "validation.md"
THRESHOLD = 0.10

CAUSES = {
    "im2col-stream": "SCALE-Sim fetches the im2col-expanded operand stream from DRAM and "
                     "re-requests refilled addresses (its DRAM reads are at least 1.5× "
                     "simaccel's), and counts read stalls twice",
    "write-back": "simaccel is bound by one DRAM channel that reads and writes share (its "
                  "cycles are within 15% of its DRAM bytes / bandwidth); SCALE-Sim gives each "
                  "stream its own bandwidth and never stalls the array for output write-back",
    "fill-drain": "simaccel counts the first tile's load and the last output's store, which no "
                  "overlap can hide, on top of the larger of its compute and DRAM time; "
                  "SCALE-Sim starts with data on chip and stops when the array does",
    "balanced": "the layer needs about as many cycles for DRAM as for compute (within 25%); "
                "with a few tiles simaccel overlaps them only in part",
}


def _hardware(row: dict) -> simaccel.hardware.Hardware:
    """The machine of a SCALE-Sim row: words are bytes; the ofmap buffer gets 4× the KiB so
    that it holds as many 32-bit accumulators as SCALE-Sim's holds one-word partial sums."""
    return parse_hardware({
        "name": row["memcfg"], "clock_mhz": 1000,
        "array": {"rows": int(row["array_rows"]), "cols": int(row["array_cols"]),
                  "dataflow": row["dataflow"]},
        "sram": {"ifmap_kib": float(row["ifmap_sram_kb"]),
                 "filter_kib": float(row["filter_sram_kb"]),
                 "ofmap_kib": 4 * float(row["ofmap_sram_kb"]), "double_buffered": True},
        "dram": {"bytes_per_cycle": float(row["ifmap_dram_bw"]), "latency_ns": 0},
        "vector": {"lanes": int(row["array_cols"])},
    }, "setA_constrained.csv")


def _cause(row: dict, ours: dict, fill_drain_bytes: int, bandwidth: float) -> str:
    """The first cause whose condition holds, else ``unexplained``."""
    theirs_cycles = int(row["total_cycles"])
    theirs_reads = int(row["dram_ifmap_reads"]) + int(row["dram_filter_reads"])
    if theirs_cycles > ours["cycles"] and theirs_reads >= 1.5 * ours["dram_read_bytes"]:
        return "im2col-stream"
    dram = (ours["dram_read_bytes"] + ours["dram_write_bytes"]) / bandwidth
    compute = ours["compute_cycles"]
    if ours["cycles"] > theirs_cycles and ours["cycles"] <= 1.15 * dram:
        return "write-back"
    if ours["cycles"] <= max(compute, dram) + 1.1 * fill_drain_bytes / bandwidth + 1:
        return "fill-drain"
    if 0.75 <= compute / dram <= 1 / 0.75 and ours["cycles"] <= compute + dram:
        return "balanced"
    return "unexplained"


def compare() -> list[dict]:
    """One dict per reference row with both simulators' figures and the cause of a gap.
    Each layer runs alone, as SCALE-Sim runs it."""
    rows = list(csv.DictReader((DATA / "setA_constrained.csv").open()))
    models = {"conv": simaccel.load_model(DATA / "setA_conv_topology.csv"),
              "gemm": simaccel.load_model(DATA / "setA_gemm_topology.csv")}
    out = []
    for row in rows:
        model = models[row["kind"]]
        index = model.layer_index(row["layer"])
        alone = replace(model, inputs=(model.inputs[index],), layers=(model.layers[index],),
                        outputs=(row["layer"],))
        report = simaccel.simulate(alone, _hardware(row), check=False)
        ours = report.to_dict()["layers"][0]
        tiles = report.results.layers[0].work.tiles
        fill_drain = sum(load.bytes for load in tiles[0].loads) + tiles[-1].store_bytes
        ratio = ours["cycles"] / int(row["total_cycles"])
        cause = _cause(row, ours, fill_drain, float(row["ifmap_dram_bw"])) \
            if abs(ratio - 1) > THRESHOLD else ""
        out.append({"row": row, "ours": ours, "ratio": ratio, "cause": cause})
    return out


def render(results: list[dict]) -> str:
    """The markdown page."""
    counts = Counter(r["cause"] for r in results if r["cause"])
    within = sum(1 for r in results if not r["cause"])
    lines = [
        "# simaccel beside SCALE-Sim 3.0.0 with constrained memory",
        "",
        "Generated by `python scripts/scalesim_validation.py` from "
        "`tests/data/setA_constrained.csv`; do not edit by hand (a test checks it is current).",
        "",
        "Each row is one layer on a 32×32 array, its dataflow and a memory configuration: "
        "`ideal_user` (8 MiB SRAMs, 100 words/cycle), `c64_bw16` (64/64/32 KiB, 16 "
        "words/cycle), `c64_bw4` (same SRAMs, 4 words/cycle), `c8_bw4` (8/8/4 KiB, 4 "
        "words/cycle). simaccel runs the same machine: one-byte words, the same SRAM sizes "
        "(the ofmap buffer given 4× the KiB so that it holds as many 32-bit accumulators as "
        "SCALE-Sim's holds one-word partial sums), one DRAM channel of the given bytes per "
        "cycle, no DRAM latency (SCALE-Sim models none without Ramulator), double-buffered.",
        "",
        "## Summary",
        "",
        f"{len(results)} rows: {within} within ±{THRESHOLD:.0%} of SCALE-Sim's total cycles; "
        "the others, by cause:",
        "",
        "| cause | rows | why the simulators differ |",
        "|---|---|---|",
    ]
    for cause, text in CAUSES.items():
        lines.append(f"| {cause} | {counts.get(cause, 0)} | {text} |")
    if counts.get("unexplained"):
        lines.append(f"| unexplained | {counts['unexplained']} | see the notes below |")
    lines += [
        "",
        "Which model is more realistic: SCALE-Sim's DRAM traffic is the im2col stream its "
        "trace generator produces, several times the tensors' size, which a real DMA engine "
        "with an on-chip im2col unit (as in the TPU) does not fetch; so SCALE-Sim's stalls in "
        "the `im2col-stream` rows overstate what such a chip would see. In the `write-back` "
        "rows SCALE-Sim lets outputs drain without ever stalling the array, while a real chip "
        "shares its DRAM channel between reads and writes; simaccel's figures there sit on "
        "its DRAM roofline, which no schedule can beat. In the `fill-drain` and `balanced` "
        "rows simaccel counts time a real layer also spends (fetching its first operands, "
        "storing its last outputs, and transfers it cannot overlap); they matter on small "
        "layers, where they are a large share of a few thousand cycles. simaccel runs each "
        "layer alone here, as SCALE-Sim does; in a network the next layer's loads overlap "
        "this one's tail.",
        "",
        "## All rows",
        "",
        "| layer | df | memcfg | SCALE-Sim cycles | SCALE-Sim stalls | simaccel cycles | "
        "simaccel stalls | ratio | SCALE-Sim DRAM reads (words) | simaccel DRAM reads (B) | "
        "cause |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        row, ours = r["row"], r["ours"]
        reads = int(row["dram_ifmap_reads"]) + int(row["dram_filter_reads"])
        lines.append(
            f"| {row['layer']} | {row['dataflow']} | {row['memcfg']} | "
            f"{int(row['total_cycles']):,} | {int(row['stall_cycles']):,} | "
            f"{ours['cycles']:,} | {ours['stall_cycles']:,} | {r['ratio']:.2f} | {reads:,} | "
            f"{ours['dram_read_bytes']:,} | {r['cause']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the page is stale")
    args = parser.parse_args()
    text = render(compare())
    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        return 0 if current == text else 1
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
