"""trace.json: Chrome trace events, one track per unit, slices that never overlap."""

from __future__ import annotations

from pathlib import Path

from simaccel.cli import main
from tests.helpers import strict_json

WORKLOADS = Path(__file__).resolve().parent.parent / "workloads"


def test_trace_tracks_never_overlap_and_cover_the_run(tmp_path: Path) -> None:
    assert main(["simulate", str(WORKLOADS / "resnet18.json"), "--hw", "gemmini", "--no-check",
                 "--out", str(tmp_path)]) == 0
    trace = strict_json((tmp_path / "trace.json").read_text())
    report = strict_json((tmp_path / "report.json").read_text())
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    names = {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert set(names.values()) == {"DRAM read", "DRAM write", "systolic array", "vector unit"}
    for tid in names:
        track = sorted((e["args"]["start_cycle"], e["args"]["start_cycle"] + e["args"]["cycles"])
                       for e in slices if e["tid"] == tid)
        assert track, names[tid]
        assert all(a[1] <= b[0] for a, b in zip(track, track[1:], strict=False)), names[tid]
    start = min(e["args"]["start_cycle"] for e in slices)
    end = max(e["args"]["start_cycle"] + e["args"]["cycles"] for e in slices)
    assert (start, end) == (0, report["total"]["cycles"])
    assert {e["args"]["layer"] for e in slices} >= {"conv1", "fc"}
    assert all(e["args"]["bytes"] >= 0 and e["dur"] >= 0 for e in slices)
    gemmini_mhz = 1000
    first = min(slices, key=lambda e: e["ts"] + e["dur"])
    assert first["dur"] == first["args"]["cycles"] / gemmini_mhz  # µs at the clock
