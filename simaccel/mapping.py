"""Mapping: a tiled `Schedule` → a `Program` (docs/architecture.md, "Mapping").

Three decisions, each in its own function:

1. **Cores** (`assign_cores`): each kernel goes to the core where it can start and finish
   first, given the kernels it reads (list scheduling on the kernels' compute cycles); on a
   one-core chip every kernel is on core 0.
2. **Residency** (`simaccel.residency.plan_residency`): which activations stay on chip.
3. **Instructions** (`_Builder`): per tile, the loads it needs (none for an operand read in
   place from a resident tensor), its matmul or vector instruction, and the store of its
   finished output block (or an on-chip move when the output stays resident). Input loads go
   to the ``dma_in`` queue and wait for the tensor to be written; weight loads go to ``dma_w``
   and wait for nothing but space, so they prefetch as far ahead as the weight partition
   allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from simaccel.domain import Operand
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel, Kernel, VectorKernel
from simaccel.kernels import producers as kernel_producers
from simaccel.program import Block, Instruction, Opcode, Placement, Program, Unit
from simaccel.residency import is_alias, plan_residency
from simaccel.schedule import LayerSchedule, Rep, Schedule, Skip, Tile, Traffic


def weights_name(kernel: Kernel) -> str:
    """The name a kernel's weights go by in the Program."""
    return f"{kernel.name}.weights"


def assign_cores(schedule: Schedule, spread: bool = True) -> tuple[int, ...]:
    """Each kernel's core: the one where it would finish first, given when its producers
    finish and when the core is free (estimated by compute cycles alone); ties go to the
    core of its first producer, then to the lowest core. ``spread=False``: all on core 0."""
    count = schedule.hardware.chip.cores
    if count == 1 or not spread:
        return (0,) * len(schedule.layers)
    kernels = [w.kernel for w in schedule.layers]
    free = [0] * count
    finish: list[int] = []
    cores: list[int] = []
    for i, producers in enumerate(kernel_producers(kernels)):
        ready = max((finish[p] for p in producers), default=0)
        home = cores[producers[0]] if producers else 0
        best = min(range(count), key=lambda c: (max(free[c], ready), c != home, c))
        end = max(free[best], ready) + schedule.layers[i].compute_cycles
        free[best] = end
        finish.append(end)
        cores.append(best)
    return tuple(cores)


class _Builder:
    """Appends instructions to the Program being built."""

    def __init__(self, hw: Hardware, placements: Mapping[str, Placement],
                 cores: Sequence[int]) -> None:
        self.hw = hw
        self.placements = placements
        self.cores = cores
        self.instructions: list[Instruction] = []
        self.queues: dict[tuple[int, Unit], list[int]] = {}
        self.written: dict[str, tuple[int, ...]] = {}
        # A block occupies one buffer slot: half its partition when double-buffered, else
        # (or for a kernel the tiler had to single-buffer) all of it; the tiler sized every
        # block to fit one (a GEMM's bias travels with its weights but initialises the
        # accumulators instead).
        self.slots = 2 if hw.sram.double_buffered else 1
        self.slot: dict[Operand, int] = {}

    def emit(self, **fields) -> int:
        index = len(self.instructions)
        ins = Instruction(index=index, **fields)
        self.instructions.append(ins)
        self.queues.setdefault((ins.core, ins.unit), []).append(index)
        return index

    def resident(self, tensor: str) -> bool:
        placed = self.placements.get(tensor)
        return placed is not None and placed.resident

    def load_inputs(self, input_elements: Mapping[str, int]) -> dict[str, int]:
        """Resident model inputs are loaded whole, once, before anything reads them; DRAM
        bytes per tensor."""
        loaded = {}
        act = self.hw.dtypes.input.bytes
        for name, elements in input_elements.items():
            self.written.setdefault(name, ())
            if self.resident(name):
                core = self.placements[name].core
                self.written[name] = (self.emit(
                    op=Opcode.LOAD, unit=Unit.DMA_IN, core=core, kernel=-1, tile=0,
                    operand=Operand.IFMAP, tensor=name, bytes=elements * act,
                    block=Block((0, 1), (0, elements), (0, 1))),)
                loaded[name] = elements * act
        return loaded

    def kernel(self, index: int, work: LayerSchedule) -> Traffic:
        """Emit one kernel's instructions; returns its traffic as the Program moves it. The
        kernel's output counts as written when its last tile's store (or, with none, its
        compute) is done: a unit runs its queue in order."""
        kernel = work.kernel
        if is_alias(kernel):
            self.written[kernel.output] = tuple(sorted(
                {d for name in kernel.inputs for d in self.written.get(name, ())}))
            return work.traffic
        single = work.tiling is not None and work.tiling.single
        slots = 1 if single else self.slots
        self.slot = {op: _partition_bytes(self.hw, op) // slots for op in Operand}
        last: tuple[int, ...] = ()
        state = _KernelState()
        reps: dict[int, list[int]] = {}
        for step in work.steps:
            if isinstance(step, Tile):
                last = self._tile(index, kernel, step, state)
                state.tile = step.index
            elif isinstance(step, Rep):
                reps.setdefault(step.level, []).append(len(self.instructions))
            else:
                self._skip(index, step, reps.pop(step.level), state)
        self.written[kernel.output] = last
        return self._traffic(kernel, work.traffic)

    def _traffic(self, kernel: Kernel, traffic: Traffic) -> Traffic:
        """The kernel's traffic as the Program moves it: no DRAM bytes for what it reads in
        place from a resident tensor, on-chip writes instead of stores for a resident
        output."""
        for operand, (tensor, activation) in self._sources(kernel).items():
            if not activation:
                continue
            names = tensor.split(",") if isinstance(kernel, VectorKernel) else [tensor]
            kept = sum(1 for n in names if not self.resident(n))
            loaded = traffic.sram_bytes(operand)[1]
            saved = loaded - loaded * kept // len(names)
            if saved:
                traffic = traffic + _moved(operand, -saved, read=True)
        if self.resident(kernel.output) and traffic.dram_write_bytes:
            traffic = traffic + _moved(Operand.IFMAP, traffic.dram_write_bytes, read=False)
        return traffic

    def _skip(self, index: int, step: Skip, reps: list[int], state: _KernelState) -> None:
        """A fast-forward mark for ``step`` on the kernel's compute unit, after the last
        listed iteration: the engine takes the period from the ends of the compute of the
        last three listed iterations (``probes``: the mean of the last two, so that a
        pipeline whose iterations alternate — double buffering with a DRAM latency longer
        than a tile's compute — is measured over a whole cycle of it) and moves everything
        of the kernel still to happen ``count`` periods later."""
        first, before, start = reps[-3], reps[-2], reps[-1]
        last = self.instructions[start:]
        compute = [i for i in last if i.op in (Opcode.MATMUL, Opcode.VECTOR, Opcode.SKIP)]
        unit = compute[0].unit
        probes = tuple(max(i.index for i in iteration if i.unit is unit)
                       for iteration in (self.instructions[first:before],
                                         self.instructions[before:start], last))
        self.emit(op=Opcode.SKIP, unit=unit, core=self.cores[index], kernel=index,
                  tile=state.tile + 1, repeat=step.count, probes=probes,
                  bytes=step.count * sum(i.bytes for i in last),
                  cycles=step.count * sum(i.cycles for i in compute))

    def _sources(self, kernel: Kernel) -> dict[Operand, tuple[str, bool]]:
        """Each loaded operand's tensor and whether it is an activation."""
        if isinstance(kernel, GemmKernel):
            second = kernel.inputs[1] if kernel.filter_is_activation else weights_name(kernel)
            return {Operand.IFMAP: (kernel.inputs[0] if kernel.inputs else "", True),
                    Operand.FILTER: (second, kernel.filter_is_activation)}
        return {Operand.IFMAP: (",".join(kernel.inputs), True)}

    def _tile(self, index: int, kernel: Kernel, tile: Tile, state: _KernelState
              ) -> tuple[int, ...]:
        """One tile's loads, compute and store; returns the instruction after which its
        output is written."""
        loads, waits = self._loads(index, kernel, tile, state)
        if tile.index == 0:  # whatever the loads do not wait for, the compute does
            waits += [d for name in (*kernel.inputs, *kernel.after)
                      for d in self.written.get(name, ())]
        gemm = isinstance(kernel, GemmKernel)
        compute = self.emit(
            op=Opcode.MATMUL if gemm else Opcode.VECTOR,
            unit=Unit.ARRAY if gemm else Unit.VECTOR, core=self.cores[index], kernel=index,
            tile=tile.index, deps=tuple(loads) + tuple(sorted(set(waits))),
            tensor=kernel.output, block=_block(tile, "compute"), cycles=tile.compute_cycles,
            partition=Operand.OFMAP if tile.opens_output else None,
            takes=self.slot[Operand.OFMAP] if tile.opens_output else 0,
            frees=tuple(state.source[op] for op in tile.frees
                        if state.source.get(op, -1) >= 0),
            reads=tuple(state.source.get(op, -1) for op in self._sources(kernel)),
            accumulate=gemm and len(tile.span) == 4 and tile.span[2][0] > 0)
        if tile.opens_output:
            state.output = compute
        if not tile.store_bytes:
            return (compute,)
        stays = self.resident(kernel.output)  # written into the resident memory, not DRAM
        store = self.emit(
            op=Opcode.MOVE if stays else Opcode.STORE,
            unit=Unit.DMA_OUT if gemm else Unit.DMA_VECTOR_OUT, core=self.cores[index],
            kernel=index, tile=tile.index, deps=(compute,), operand=Operand.OFMAP,
            tensor=kernel.output, block=_block(tile, "output"),
            bytes=0 if stays else tile.store_bytes, frees=(state.output,))
        return (store,)

    def _loads(self, index: int, kernel: Kernel, tile: Tile, state: _KernelState
               ) -> tuple[list[int], list[int]]:
        """The tile's loads, none for what is resident (the compute waits for its writer
        instead): (load instructions, instructions the compute must wait for)."""
        gemm = isinstance(kernel, GemmKernel)
        loads, waits = [], []
        for load in tile.loads:
            tensor, activation = self._sources(kernel)[load.operand]
            names = tensor.split(",") if activation and not gemm else [tensor]
            kept = [n for n in names if not (activation and self.resident(n))]
            if activation:
                waits += [d for n in names if n not in kept for d in self.written.get(n, ())]
            if not kept:
                state.source[load.operand] = -1
                continue
            deps = tuple(d for n in kept for d in self.written.get(n, ())) if activation else ()
            state.source[load.operand] = self.emit(
                op=Opcode.LOAD,
                unit=Unit.DMA_IN if load.operand is Operand.IFMAP else Unit.DMA_WEIGHTS,
                core=self.cores[index], kernel=index, tile=tile.index, deps=deps,
                operand=load.operand, tensor=tensor, block=_block(tile, load.operand.value),
                bytes=load.bytes * len(kept) // len(names), partition=load.operand,
                takes=self.slot[load.operand])
            loads.append(state.source[load.operand])
        return loads, waits


class _KernelState:
    """Per kernel while building: the instruction that filled each operand's region and
    the one that opened the output block being accumulated."""

    def __init__(self) -> None:
        self.source: dict[Operand, int] = {}
        self.output = -1
        self.tile = -1  #: the index of the last tile listed


def _moved(operand: Operand, nbytes: int, read: bool) -> Traffic:
    """Traffic of ``nbytes`` more (or fewer) moved between DRAM and ``operand``'s memory:
    a load (``read``: DRAM read + SRAM write) or an on-chip write of a resident output."""
    if read:
        return Traffic(dram_read_bytes=nbytes, **{f"{operand.value}_write_bytes": nbytes})
    return Traffic(dram_write_bytes=-nbytes, ifmap_write_bytes=nbytes)


def _block(tile: Tile, role: str) -> Block | None:
    """The tile's block as ``role`` sees it: ``ifmap`` (g, m, k), ``filter`` (g, k, n),
    ``compute`` (g, m, n and k) or ``output`` (g, m, n); a vector tile's element range for
    every role; None for a hand-built tile that says nothing of its coordinates."""
    if not tile.span:
        return None
    if len(tile.span) == 1:
        return Block((0, 1), tile.span[0], (0, 1))
    g, m, k, n = tile.span
    if role == "ifmap":
        return Block(g, m, k)
    if role == "filter":
        return Block(g, k, n)
    return Block(g, m, n, k) if role == "compute" else Block(g, m, n)


def compile_program(schedule: Schedule, input_elements: Mapping[str, int],
                    outputs: Sequence[str], spread: bool = True
                    ) -> tuple[Program, tuple[Traffic, ...]]:
    """The Program for ``schedule``, and each kernel's traffic as the Program moves it
    (DRAM bytes that residency saves taken off, on-chip writes of resident outputs added).

    ``input_elements``: the model inputs' sizes; ``outputs``: the model's output tensors;
    ``spread``: spread kernels over the cores (`assign_cores`), or keep them all on core 0.
    """
    hw = schedule.hardware
    kernels = tuple(w.kernel for w in schedule.layers)
    cores = assign_cores(schedule, spread)
    placements = plan_residency(kernels, cores, hw, input_elements, outputs)
    builder = _Builder(hw, placements, cores)
    loaded = builder.load_inputs(input_elements)
    traffic = [builder.kernel(i, work) for i, work in enumerate(schedule.layers)]
    for name, nbytes in loaded.items():  # charged to the first kernel that reads it
        first = next((i for i, k in enumerate(kernels) if name in k.inputs), None)
        if first is not None:
            traffic[first] = traffic[first] + _moved(Operand.IFMAP, nbytes, read=True)
    capacity = {(c, op): _partition_bytes(hw, op)
                for c in range(hw.chip.cores) for op in Operand}
    program = Program(
        hardware=hw, kernels=kernels, instructions=tuple(builder.instructions),
        queues=tuple((key, tuple(q)) for key, q in sorted(builder.queues.items())),
        capacity=tuple(sorted(capacity.items())), placements=tuple(placements.values()),
        kernel_cores=cores)
    return program, tuple(traffic)


def _partition_bytes(hw: Hardware, operand: Operand) -> int:
    """Bytes that streamed blocks of ``operand`` share on one core."""
    return hw.sram.size_bytes(operand)
