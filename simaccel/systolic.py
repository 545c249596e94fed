"""Systolic-array timing: how a GEMM folds onto a rows × cols array under each dataflow.

Each dataflow pins two GEMM dimensions to the array's rows and columns and streams the third:

==========  ==========  ==========  =========  ==================================
dataflow    array rows  array cols  streamed   cycles per fold
==========  ==========  ==========  =========  ==================================
OS          M           N           K          K + R + C − 2
WS          K           N           M          M + 2R + C − 2
IS          K           M           N          N + 2R + C − 2
==========  ==========  ==========  =========  ==================================

(R, C = array rows, cols.) OS skews operands in from two edges (R − 1 + C − 1 cycles of
fill/drain around the K-long stream); WS and IS first load the stationary operand (R cycles)
and then stream with the same skew. Folds run back to back; one GEMM of F folds takes
F × fold cycles − 1 cycles (SCALE-Sim counts the last fold's final cycle as the end), and a
grouped kernel runs its groups one after another. These are SCALE-Sim 3.0.0's compute cycles,
checked row by row against its output in the tests.

The degenerate-array rule: the − 1 is the last drain cycle overlapping the end, so it is
taken only when a fold has fill or drain cycles to overlap (`end_overlap_cycles`). A 1×1 OS
array has none (R + C − 2 = 0): its fold is exactly its K-long stream, one MAC a cycle, and a
GEMM of F folds takes F × K cycles, never fewer than its MACs (SCALE-Sim's F × K − 1 would do
4 MACs on one PE in 3 cycles). Every other array and dataflow has fill or drain, so
F × fold − 1 ≥ F × stream ≥ ⌈MACs / PEs⌉ holds and SCALE-Sim's count is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simaccel.domain import Dataflow
from simaccel.hardware import ArrayConfig, WeightPreload
from simaccel.kernels import GemmKernel

#: Which GEMM dimension sits on the array rows, which on the columns, which streams.
MAPPING: dict[Dataflow, tuple[str, str, str]] = {
    Dataflow.OS: ("m", "n", "k"),
    Dataflow.WS: ("k", "n", "m"),
    Dataflow.IS: ("k", "m", "n"),
}


def fill_drain_cycles(dataflow: Dataflow, rows: int, cols: int) -> int:
    """Cycles a fold spends outside its steady-state stream (pipeline fill and drain)."""
    preload = 0 if dataflow is Dataflow.OS else rows
    return preload + rows + cols - 2


def end_overlap_cycles(dataflow: Dataflow, rows: int, cols: int) -> int:
    """Cycles the end of a GEMM's folds overlaps (SCALE-Sim's − 1): 1, or 0 on an array with
    no fill or drain to overlap (1×1 OS), so that cycles ≥ MACs / PEs always holds."""
    return 1 if fill_drain_cycles(dataflow, rows, cols) > 0 else 0


def fold_cycles(dataflow: Dataflow, stream: int, rows: int, cols: int) -> int:
    """Cycles for one fold streaming ``stream`` elements: e.g. OS with K=9 on 8×8 is
    9 + 8 + 8 − 2 = 23."""
    return stream + fill_drain_cycles(dataflow, rows, cols)


@dataclass(frozen=True)
class FoldPlan:
    """How one GEMM kernel folds onto the array.

    ``spatial_rows``/``spatial_cols`` are the GEMM extents mapped to array rows/cols and
    ``stream`` the streamed extent; ``row_folds`` × ``col_folds`` folds per group.
    """

    dataflow: Dataflow
    rows: int
    cols: int
    spatial_rows: int
    spatial_cols: int
    stream: int
    groups: int

    @property
    def row_folds(self) -> int:
        return math.ceil(self.spatial_rows / self.rows)

    @property
    def col_folds(self) -> int:
        return math.ceil(self.spatial_cols / self.cols)

    @property
    def folds_per_group(self) -> int:
        return self.row_folds * self.col_folds

    @property
    def folds(self) -> int:
        """Folds over all groups."""
        return self.folds_per_group * self.groups

    @property
    def fold_cycles(self) -> int:
        """Cycles of one fold (fill + stream + drain)."""
        return fold_cycles(self.dataflow, self.stream, self.rows, self.cols)

    @property
    def compute_cycles(self) -> int:
        """Array cycles for the whole kernel with operands always ready."""
        return self.groups * (self.folds_per_group * self.fold_cycles - self.end_overlap)

    @property
    def end_overlap(self) -> int:
        """Cycles each group's last fold overlaps its end (`end_overlap_cycles`)."""
        return end_overlap_cycles(self.dataflow, self.rows, self.cols)

    @property
    def steady_cycles(self) -> int:
        """Cycles the folds spend streaming, fill and drain excluded."""
        return self.folds * self.stream

    @property
    def mapping_efficiency(self) -> float:
        """Mean share of PEs a fold occupies (0..1)."""
        return (self.spatial_rows / (self.row_folds * self.rows)) * (
            self.spatial_cols / (self.col_folds * self.cols))


def plan_folds(kernel: GemmKernel, array: ArrayConfig) -> FoldPlan:
    """Fold ``kernel`` onto ``array`` under the array's dataflow."""
    row_dim, col_dim, stream_dim = MAPPING[array.dataflow]
    return FoldPlan(
        dataflow=array.dataflow, rows=array.rows, cols=array.cols,
        spatial_rows=getattr(kernel, row_dim), spatial_cols=getattr(kernel, col_dim),
        stream=getattr(kernel, stream_dim), groups=kernel.groups)


def preload_hidden_cycles(plan: FoldPlan, preload: WeightPreload, first: bool) -> int:
    """Cycles an overlapped preload saves over a tile of ``plan.folds`` folds.

    Serial (SCALE-Sim) preloading shifts R rows of the stationary operand in before every
    fold's stream: a fold is S + R + (R + C − 2). Overlapped (TPU v1's double-buffered
    weights), the next fold's R-cycle shift runs during this fold's S-cycle stream, so a fold
    after the first takes max(S, R) + R + C − 2: it saves min(S, R). Only a kernel's first
    tile (``first``) pays its first fold's shift; later tiles' first folds shift in behind the
    previous tile. Output stationary has no preload: 0.
    """
    if preload is WeightPreload.SERIAL or plan.dataflow is Dataflow.OS:
        return 0
    return (plan.folds - (1 if first else 0)) * min(plan.stream, plan.rows)


def end_overlap_under(plan: FoldPlan, preload: WeightPreload) -> int:
    """`FoldPlan.end_overlap` under ``preload``: overlapped, the stationary operand's shift
    is hidden behind the stream, so only R + C − 2 cycles of fill and drain remain for a
    group's end to overlap — none on a 1×1 array, whose folds are then exactly their
    stream (else a grouped GEMM on one PE would do more MACs than cycles)."""
    if preload is WeightPreload.SERIAL or plan.dataflow is Dataflow.OS:
        return plan.end_overlap
    return end_overlap_cycles(Dataflow.OS, plan.rows, plan.cols)


@dataclass(frozen=True)
class SramAccesses:
    """Element accesses the array makes to its SRAM buffers while running a kernel."""

    ifmap_reads: int
    filter_reads: int
    ofmap_writes: int
    ofmap_reads: int


def sram_accesses(kernel: GemmKernel, plan: FoldPlan) -> SramAccesses:
    """Elements read from the ifmap and filter buffers and written to (and read back from)
    the ofmap buffer, over all groups.

    Every fold reads its streamed operand in full; the stationary operand is read once. OS
    keeps partial sums in the PEs and writes each output once; WS and IS write a partial sum
    per K-fold and read it back to accumulate the next (``ofmap_reads``).
    """
    m, k, n = kernel.m, kernel.k, kernel.n
    if plan.dataflow is Dataflow.OS:
        ifmap, filt, writes = plan.col_folds * m * k, plan.row_folds * k * n, m * n
    elif plan.dataflow is Dataflow.WS:
        ifmap, filt, writes = plan.col_folds * m * k, k * n, plan.row_folds * m * n
    else:
        ifmap, filt, writes = m * k, plan.col_folds * k * n, plan.row_folds * m * n
    reads_back = writes - m * n
    g = kernel.groups
    return SramAccesses(ifmap * g, filt * g, writes * g, reads_back * g)
