"""Where activations live: on chip from producer to last consumer when they fit, else DRAM.

The memory plan of docs/architecture.md ("On-chip memories"). Kernels that only re-label
their input (``reshape``, ``flatten``: no vector ops) or that lay inputs side by side
(``concat``) move no data, so their output *is* their inputs: such tensors form one group
that lives in one place, and the group is live from its first producer to its last reader.

Groups are placed in the order they are produced (greedy, first fit): a group is resident
when, over its whole live range, the bytes of the groups already resident plus its own fit
the resident memory's `~simaccel.hardware.MemoryConfig.resident_bytes` on its core. A model
output is always written to DRAM (the host reads it there); a tensor read on another core
than the one that writes it goes through DRAM too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from simaccel.hardware import Hardware
from simaccel.kernels import Kernel, VectorKernel
from simaccel.program import Placement


def is_alias(kernel: Kernel) -> bool:
    """True for a kernel whose output is its inputs, unmoved (a view or a concat)."""
    return isinstance(kernel, VectorKernel) and kernel.ops_per_element == 0


def _output_elements(kernel: Kernel) -> int:
    return kernel.elements if isinstance(kernel, VectorKernel) else kernel.ofmap_elements


class _Groups:
    """Union-find over tensor names."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        self.parent.setdefault(name, name)
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def plan_residency(kernels: Sequence[Kernel], cores: Sequence[int], hw: Hardware,
                   input_elements: Mapping[str, int], outputs: Sequence[str]
                   ) -> dict[str, Placement]:
    """A `Placement` for every model input and kernel output, by tensor name.

    ``cores`` is each kernel's core; ``input_elements`` the model inputs' sizes; ``outputs``
    the model's outputs. Bytes are elements × the input datatype's size.
    """
    act = hw.dtypes.input.bytes
    groups = _Groups()
    size: dict[str, int] = {name: n * act for name, n in input_elements.items()}
    producer: dict[str, int] = {name: -1 for name in input_elements}
    last_use: dict[str, int] = dict.fromkeys(input_elements, -1)
    core_of: dict[str, set[int]] = {name: set() for name in input_elements}
    for i, kernel in enumerate(kernels):
        out = kernel.output
        groups.find(out)
        producer[out] = i
        last_use[out] = i
        size[out] = 0 if is_alias(kernel) else _output_elements(kernel) * act
        core_of[out] = {cores[i]}
        for name in kernel.inputs:
            if name not in producer:
                continue
            last_use[name] = i
            core_of[name].add(cores[i])
            if is_alias(kernel):
                groups.join(out, name)
    members: dict[str, list[str]] = {}
    for name in producer:
        members.setdefault(groups.find(name), []).append(name)
    keep_in_dram = {groups.find(name) for name in outputs if name in producer}
    capacity = hw.resident_memory.resident_bytes if hw.resident_memory else 0
    used = np.zeros((max(cores, default=0) + 1, len(kernels) + 1), dtype=np.int64)
    resident_roots: dict[str, int] = {}
    order = sorted(members, key=lambda root: (min(producer[m] for m in members[root]), root))
    for root in order:
        names = members[root]
        start = max(min(producer[m] for m in names), 0)
        end = max(max(last_use[m] for m in names), start)
        where = set().union(*(core_of[m] for m in names))
        need = sum(size[m] for m in names)
        if root in keep_in_dram or len(where) != 1 or capacity == 0 or need == 0:
            continue
        core = where.pop()
        if used[core, start:end + 1].max() + need <= capacity:
            used[core, start:end + 1] += need
            resident_roots[root] = core
    placements = {}
    for name in producer:
        root = groups.find(name)
        placements[name] = Placement(
            tensor=name, bytes=size[name], producer=producer[name],
            last_use=max(last_use[m] for m in members[root]),
            resident=root in resident_roots,
            core=resident_roots.get(root, cores[producer[name]] if producer[name] >= 0 else 0))
    return placements
