"""The Program: what the accelerator is told to do, as plain frozen data.

Per core, one ordered instruction queue per unit (docs/architecture.md, "Program"):

* ``dma_in`` loads activation blocks from DRAM into an on-chip memory,
* ``dma_w`` loads weight blocks (a separate queue, so coming kernels' weights prefetch while
  this kernel waits for its inputs) and a matmul's second activation operand,
* ``dma_out`` stores the array's finished output blocks to DRAM, or moves them on chip into
  the resident memory; ``dma_vout`` does the same for the vector unit's,
* ``array`` runs ``matmul`` tiles, ``vector`` runs ``vector`` tiles.

Each instruction names the instructions it waits for (``deps``: a DAG, not a total order),
the bytes it takes in a memory partition when it starts (``takes`` in ``partition``), and
the instructions whose space it gives back when it ends (``frees``). Loads, matmuls and
stores also name *what* they move or compute (``tensor``, ``block``, ``reads``), so the
numerics execute the same Program the engine times (`simaccel.numerics.execute`).

Each memory partition is taken by one queue only (ifmap by ``dma_in``, filter by ``dma_w``)
or by compute units whose blocks are given back by stores that depend on nothing else
(``dma_out``, ``dma_vout``), so space taken is always given back: the queues cannot deadlock.

Coordinates: a GEMM block is ``[g0, g1) × [r0, r1) × [c0, c1)`` of one operand matrix,
A = ifmap (M × K), B = filter (K × N), C = ofmap (M × N); a matmul's ``block`` is its
``m``, ``k`` and ``n`` ranges, stored as rows = M, cols = N and ``k`` = K.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from simaccel.domain import Operand
from simaccel.hardware import Hardware
from simaccel.kernels import Kernel


class Unit(StrEnum):
    """The units of a core; each runs its own queue in order."""

    DMA_IN = "dma_in"
    DMA_WEIGHTS = "dma_w"
    DMA_OUT = "dma_out"
    DMA_VECTOR_OUT = "dma_vout"
    ARRAY = "array"
    VECTOR = "vector"


class Opcode(StrEnum):
    """What an instruction does."""

    LOAD = "load"      #: DRAM → a memory partition (``bytes`` over the DRAM channel)
    STORE = "store"    #: accumulators → DRAM
    MOVE = "move"      #: accumulators → the resident memory, on chip (no DRAM bytes)
    MATMUL = "matmul"  #: one GEMM tile on the array
    VECTOR = "vector"  #: one vector tile (elementwise, pool, reduce, ...) on the vector unit
    SKIP = "skip"      #: fast-forward: ``repeat`` more iterations like the last one listed


@dataclass(frozen=True, slots=True)
class Block:
    """A block of a GEMM operand or of a matmul: groups, rows and columns (half-open), and
    for a matmul the reduction range ``k``."""

    g: tuple[int, int]
    rows: tuple[int, int]
    cols: tuple[int, int]
    k: tuple[int, int] = (0, 0)

    def __str__(self) -> str:
        def r(span: tuple[int, int]) -> str:
            return f"{span[0]}:{span[1]}"
        text = f"g[{r(self.g)}] r[{r(self.rows)}] c[{r(self.cols)}]"
        return text + (f" k[{r(self.k)}]" if self.k != (0, 0) else "")


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction of one unit's queue.

    ``bytes`` are DRAM bytes (loads and stores); ``cycles`` the unit's busy time for a
    matmul or vector tile (a transfer's time follows from its bytes and the shared DRAM
    channel). ``takes`` bytes of ``partition`` are held from the instruction's start until
    an instruction that lists it in ``frees`` ends. ``reads`` are a matmul's sources: the
    index of the load that filled each operand's region, or ``-1`` for an operand read in
    place from a resident tensor. ``accumulate``: the matmul adds to the partial sums of its
    output block instead of starting from the bias.

    A ``skip``, on a kernel's compute unit, stands for ``repeat`` iterations of a loop
    elided from every queue (`simaccel.schedule`, "Fast-forward"): ``probes`` are the compute
    instructions that end the last three listed iterations (the period is the mean of the
    last two); ``bytes`` and ``cycles`` are what the elided iterations move and compute.
    """

    index: int
    op: Opcode
    unit: Unit
    core: int
    kernel: int
    tile: int
    deps: tuple[int, ...] = ()
    operand: Operand | None = None
    tensor: str = ""
    block: Block | None = None
    bytes: int = 0
    cycles: int = 0
    partition: Operand | None = None
    takes: int = 0
    frees: tuple[int, ...] = ()
    reads: tuple[int, ...] = ()
    accumulate: bool = False
    repeat: int = 0
    probes: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a tensor lives between the kernel that writes it and the last that reads it:
    ``resident`` on chip (in the resident memory of ``core``) or in DRAM."""

    tensor: str
    bytes: int
    producer: int  #: kernel index, −1 for a model input
    last_use: int  #: kernel index of the last reader
    resident: bool
    core: int = 0


@dataclass(frozen=True)
class Program:
    """A whole model compiled for one hardware config.

    ``instructions`` in program order; ``queues`` maps (core, unit) to the indices of its
    queue, in order; ``capacity`` the bytes of each (core, partition) that streamed blocks
    share; ``placements`` where every activation tensor lives; ``kernel_cores`` the core of
    each kernel.
    """

    hardware: Hardware
    kernels: tuple[Kernel, ...]
    instructions: tuple[Instruction, ...]
    queues: tuple[tuple[tuple[int, Unit], tuple[int, ...]], ...]
    capacity: tuple[tuple[tuple[int, Operand], int], ...]
    placements: tuple[Placement, ...] = field(default=())
    kernel_cores: tuple[int, ...] = ()

    def queue(self, core: int, unit: Unit) -> tuple[int, ...]:
        """Instruction indices of one unit's queue."""
        return dict(self.queues).get((core, unit), ())

    def listing(self, first: int = 0, last: int | None = None) -> str:
        """A readable listing of kernels ``first`` to ``last`` (exclusive): one line per
        instruction, ``#index core.unit op what  bytes/cycles  ← deps``. Raises
        `InputError` naming ``Program.listing`` and ``first`` or ``last`` for a value that
        is not a kernel index (0 ≤ first ≤ last ≤ the kernels)."""
        _index(first, "first", 0, len(self.kernels))
        last = len(self.kernels) if last is None else _index(last, "last", first,
                                                              len(self.kernels))
        placed = {p.tensor: p for p in self.placements}
        lines: list[str] = []
        current: int | None = None
        for ins in self.instructions:
            inputs = ins.kernel < 0 and first == 0  # loads of resident model inputs
            if not (first <= ins.kernel < last or inputs):
                continue
            if ins.kernel != current:
                current = ins.kernel
                if inputs:
                    lines.append("; model inputs kept on chip")
                    lines.append(format_instruction(ins))
                    continue
                kernel = self.kernels[current]
                where = placed.get(kernel.output)
                home = "resident" if where and where.resident else "DRAM"
                lines.append(f"; kernel {current} {kernel.name} ({kernel.op}) → "
                             f"{kernel.output} [{home}]")
            lines.append(format_instruction(ins))
        return "\n".join(lines)


def _index(value: object, name: str, low: int, high: int) -> int:
    """``value`` as a kernel index in ``low..high`` (an int; a bool or float is refused)."""
    import numbers

    from simaccel.errors import InputError

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError("Program.listing", name, f"expected a kernel index, got {value!r}")
    if not low <= value <= high:
        raise InputError("Program.listing", name, f"{value} is outside {low}..{high} "
                         f"(the program has {high} kernels)")
    return int(value)


def format_instruction(ins: Instruction) -> str:
    """One listing line."""
    what = f"{ins.operand.value} " if ins.operand is not None else ""
    if ins.tensor:
        what += f"{ins.tensor} "
    if ins.block is not None:
        what += str(ins.block)
    if ins.op is Opcode.MATMUL:
        what += " +=" if ins.accumulate else " ="
        what += " " + ",".join("resident" if r < 0 else f"#{r}" for r in ins.reads)
    if ins.op is Opcode.SKIP:
        what = (f"×{ins.repeat} iterations like the last (period: ends of "
                f"#{ins.probes[0]} → #{ins.probes[-1]}, over {len(ins.probes) - 1})")
    cost = f"{ins.bytes} B" if ins.op in (Opcode.LOAD, Opcode.STORE) else f"{ins.cycles} cyc"
    extra = ""
    if ins.takes:
        extra += f" takes {ins.takes} B {ins.partition.value if ins.partition else ''}"
    if ins.frees:
        extra += " frees " + ",".join(f"#{f}" for f in ins.frees)
    deps = (" ← " + ",".join(f"#{d}" for d in ins.deps)) if ins.deps else ""
    return (f"#{ins.index:<6} c{ins.core}.{ins.unit.value:<7} {ins.op.value:<6} "
            f"{what.strip():<44} {cost:>10}{extra}{deps}")
