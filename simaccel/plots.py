"""Plots of a report as matplotlib figures, and PNG files of them (matplotlib is imported
here only; the backend is left to the caller: the CLI picks Agg, a notebook keeps inline).

Every function takes the report as the plain dict of report.json (and the trace as the dict
of trace.json), so `simaccel plot` can redraw a saved run without simulating again.
"""

from __future__ import annotations

from pathlib import Path

COMPONENTS = ("mac", "sram", "dram", "vector", "static")
COLORS = {"compute": "#4477aa", "stall": "#ee6677", "mac": "#4477aa", "sram": "#66ccee",
          "dram": "#ee6677", "vector": "#228833", "static": "#bbbbbb", "dram_read": "#ee6677",
          "dram_write": "#aa3377", "array": "#4477aa", "vector_unit": "#228833"}


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _label(name: str, limit: int = 22) -> str:
    return name if len(name) <= limit else "…" + name[-(limit - 1):]


def _bars_figure(report: dict, title: str, ylabel: str):
    plt = _pyplot()
    layers = report["layers"]
    width = min(max(8.0, 0.22 * len(layers) + 2), 40.0)
    fig, ax = plt.subplots(figsize=(width, 4.8), layout="constrained")
    ax.set_title(f"{title}: {report['model']['name']} on {report['hardware']['name']}", pad=22)
    ax.set_ylabel(ylabel)
    ax.set_xticks(range(len(layers)), [_label(r["name"]) for r in layers], rotation=90,
                  fontsize=7 if len(layers) > 30 else 9)
    ax.set_xlim(-0.7, len(layers) - 0.3)
    ax.grid(axis="y", alpha=0.3)
    _eng(ax.yaxis)
    return fig, ax


def _eng(axis) -> None:
    """Tick labels like 200k, 1.5M instead of an offset multiplier."""
    from matplotlib.ticker import EngFormatter

    axis.set_major_formatter(EngFormatter(sep=""))


def _legend_above(ax, columns: int) -> None:
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=columns, frameon=False,
              fontsize=9)


def cycles_per_layer(report: dict):
    """Per-layer cycles, compute and stall stacked."""
    fig, ax = _bars_figure(report, "Cycles per layer", "cycles")
    layers = report["layers"]
    x = range(len(layers))
    compute = [r["compute_cycles"] for r in layers]
    ax.bar(x, compute, color=COLORS["compute"], label="compute")
    ax.bar(x, [r["stall_cycles"] for r in layers], bottom=compute, color=COLORS["stall"],
           label="stall (waiting for DRAM or room)")
    _legend_above(ax, 2)
    return fig


def utilization_per_layer(report: dict):
    """Per-layer utilization and mapping efficiency, in percent."""
    fig, ax = _bars_figure(report, "Utilization per layer", "% of PE-cycles")
    layers = report["layers"]
    x = list(range(len(layers)))
    ax.bar(x, [100 * r["utilization"] for r in layers], color=COLORS["compute"],
           label="utilization (useful MACs / PE-cycles)")
    ax.plot(x, [100 * r["mapping_efficiency"] if r["mapping_efficiency"] is not None
                else float("nan") for r in layers], "o", color="black", markersize=3,
            label="mapping efficiency (PEs a fold fills)")
    ax.set_ylim(0, 105)
    ax.yaxis.set_major_formatter("{x:.0f}")
    _legend_above(ax, 2)
    return fig


def energy_per_layer(report: dict):
    """Per-layer energy stacked by component, and the run's breakdown."""
    plt = _pyplot()
    layers = report["layers"]
    width = min(max(10.0, 0.22 * len(layers) + 5), 44.0)
    fig, (ax, side) = plt.subplots(1, 2, figsize=(width, 4.8), layout="constrained",
                                   gridspec_kw={"width_ratios": [max(len(layers), 8), 7]})
    x = range(len(layers))
    bottom = [0.0] * len(layers)
    for part in COMPONENTS:
        values = [r["energy_pj"][part] * 1e-6 for r in layers]
        ax.bar(x, values, bottom=bottom, color=COLORS[part], label=part)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(f"Energy per layer: {report['model']['name']} on {report['hardware']['name']}",
                 pad=22)
    ax.set_ylabel("energy (µJ)")
    ax.set_xticks(list(x), [_label(r["name"]) for r in layers], rotation=90,
                  fontsize=7 if len(layers) > 30 else 9)
    ax.grid(axis="y", alpha=0.3)
    _eng(ax.yaxis)
    _legend_above(ax, len(COMPONENTS))
    total = report["total"]["energy_pj"]
    parts = [total[p] * 1e-6 for p in COMPONENTS]
    rows = list(range(len(COMPONENTS)))[::-1]
    side.barh(rows, parts, color=[COLORS[p] for p in COMPONENTS])
    side.set_yticks(rows, COMPONENTS)
    side.set_title(f"Whole run\n{total['total'] * 1e-6:,.1f} µJ", pad=14)
    side.set_xlabel("energy (µJ)")
    side.set_xlim(0, max(parts + [1e-9]) * 1.35)
    _eng(side.xaxis)
    for row, value in zip(rows, parts, strict=True):
        share = 100 * value / (total["total"] * 1e-6) if total["total"] else 0
        side.annotate(f" {share:.0f}%", (value, row), va="center", fontsize=9)
    return fig


def roofline(report: dict):
    """The hardware's roofline and every GEMM layer as a point: MACs per DRAM byte against
    achieved MACs per cycle."""
    plt = _pyplot()
    hw = report["hardware"]
    peak = hw["derived"]["pes"]
    bandwidth = hw["derived"]["dram_bytes_per_cycle"]
    points = [(r["macs"] / max(r["dram_read_bytes"] + r["dram_write_bytes"], 1),
               r["macs"] / max(r["cycles"], 1), r["name"]) for r in report["layers"]
              if r["macs"]]
    fig, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
    lo = min([p[0] for p in points] + [0.1]) / 2
    hi = max([p[0] for p in points] + [peak / bandwidth if bandwidth else 10]) * 2
    xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    roof = [min(peak, x * bandwidth) if bandwidth else peak for x in xs]
    ax.plot(xs, roof, color="black", label=f"roof: {peak} MACs/cycle, "
            f"{bandwidth:g} B/cycle" if bandwidth else f"roof: {peak} MACs/cycle")
    ax.scatter([p[0] for p in points], [p[1] for p in points], s=18, color=COLORS["compute"],
               label="layers", zorder=3)
    # name the layers furthest below their roof: where the time goes
    def gap(p: tuple) -> float:
        bound = min(peak, p[0] * bandwidth) if bandwidth else peak
        return p[1] / bound
    # in a column at the top left, which lies above the slanted roof and so holds no point:
    # names never collide, however close their points are
    worst = sorted(sorted(points, key=gap)[:4], key=lambda p: -p[1])  # top label, top point
    for i, p in enumerate(worst):
        ax.annotate(_label(p[2], 24), (p[0], p[1]), fontsize=8, xytext=(0.03, 0.96 - 0.06 * i),
                    textcoords="axes fraction", ha="left", va="top",
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "grey"})
    if bandwidth:
        ridge = peak / bandwidth
        ax.axvline(ridge, color="grey", ls=":", lw=1)
        ax.plot([], [], color="grey", ls=":", lw=1, label=f"ridge: {ridge:.3g} MACs/B")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (MACs per DRAM byte)")
    ax.set_ylabel("achieved MACs per cycle")
    ax.set_title(f"Roofline: {report['model']['name']} on {hw['name']}")
    ax.grid(which="both", alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def timeline(report: dict, trace: dict, first: int = 0, last: int | None = None):
    """DRAM, array and vector activity over layers ``first``..``last`` (inclusive)."""
    plt = _pyplot()
    layers = report["layers"]
    last = len(layers) - 1 if last is None else min(last, len(layers) - 1)
    names = {r["name"] for r in layers[first:last + 1]}
    start, end = layers[first]["start_cycle"], layers[last]["end_cycle"]
    tracks = {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
              if e["ph"] == "M" and e["name"] == "thread_name"}
    order = sorted(tracks)
    fig, ax = plt.subplots(figsize=(12, 1.2 + 0.7 * len(order)), layout="constrained")
    palette = [COLORS["dram_read"], COLORS["dram_write"], COLORS["array"], COLORS["vector_unit"]]
    for row, tid in enumerate(order):
        spans = [(e["args"]["start_cycle"], e["args"]["cycles"]) for e in trace["traceEvents"]
                 if e["ph"] == "X" and e["tid"] == tid and e["args"]["layer"] in names]
        ax.broken_barh(spans, (row - 0.35, 0.7), color=palette[row % len(palette)])
    for r in layers[first:last + 1]:
        ax.axvline(r["start_cycle"], color="grey", lw=0.5, alpha=0.6)
    if last - first < 16:
        for i, r in enumerate(layers[first:last + 1]):  # staggered so neighbours don't collide
            height = len(order) - 0.45 + 0.3 * (i % 3)
            ax.annotate(_label(r["name"], 18), (r["start_cycle"], height), fontsize=7)
    ax.set_yticks(range(len(order)), [tracks[t] for t in order])
    ax.set_xlim(start, end)
    ax.set_ylim(-0.6, len(order) + 0.6)
    ax.set_xlabel("cycle")
    _eng(ax.xaxis)
    ax.set_title(f"Timeline, layers {first}–{last}: {report['model']['name']} on "
                 f"{report['hardware']['name']}")
    return fig


def write_plots(report: dict, trace: dict | None, out_dir: str | Path,
                layers: tuple[int, int | None] = (0, None)) -> list[Path]:
    """Render every plot into ``out_dir`` as PNG; returns the paths written."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    figures = {"cycles.png": cycles_per_layer(report),
               "utilization.png": utilization_per_layer(report),
               "energy.png": energy_per_layer(report), "roofline.png": roofline(report)}
    if trace is not None:
        figures["timeline.png"] = timeline(report, trace, *layers)
    plt = _pyplot()
    paths = []
    for name, fig in figures.items():
        path = folder / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
