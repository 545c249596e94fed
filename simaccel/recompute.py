"""Recomputation (gradient checkpointing) of a training step: MACs traded for bytes.

Chen et al., "Training Deep Nets with Sublinear Memory Cost" (2016): the forward kernels are
cut into segments of about √n kernels; only each segment's last output (its checkpoint) and
the model inputs stay live for the backward pass. Just before the first backward kernel that
reads a dropped activation, its segment's forward kernels run again (phase ``recompute``,
outputs renamed ``<tensor>.re``), and the backward reads the recomputed tensors instead.
"""

from __future__ import annotations

import math
from dataclasses import replace

from simaccel.kernels import Kernel
from simaccel.training import StepOp

#: Suffix of a recomputed tensor's name.
RECOMPUTED = ".re"


def segments(count: int) -> int:
    """Kernels per segment for ``count`` forward kernels: ⌈√count⌉ (Chen et al.)."""
    return max(1, math.isqrt(count - 1) + 1) if count > 1 else 1


def checkpoint(kernels: tuple[Kernel, ...], ops: tuple[StepOp, ...]
               ) -> tuple[tuple[Kernel, ...], tuple[StepOp, ...]]:
    """The step ``kernels``/``ops`` with every non-checkpoint forward activation dropped
    after its forward use and recomputed, segment by segment, for the backward pass."""
    forward = [i for i, op in enumerate(ops) if op.phase == "forward"]
    is_forward = set(forward)
    size = segments(len(forward))
    segment_of = {ops[i].writes: pos // size for pos, i in enumerate(forward)}
    members: dict[int, list[int]] = {}
    for pos, i in enumerate(forward):
        members.setdefault(pos // size, []).append(i)
    kept = {ops[group[-1]].writes for group in members.values()}
    dropped = {t for t in segment_of if t not in kept}
    out_k = [kernels[i] for i in forward]
    out_o = [ops[i] for i in forward]
    done: set[int] = set()

    def renamed(reads: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t + RECOMPUTED if t in dropped else t for t in reads)

    def ensure(segment: int) -> None:
        if segment in done:
            return
        done.add(segment)
        for i in members[segment]:
            if ops[i].writes not in dropped:  # a checkpoint: kept, not recomputed
                continue
            for t in ops[i].reads:
                if t in dropped and segment_of[t] != segment:
                    ensure(segment_of[t])
            reads = renamed(ops[i].reads)
            out_k.append(replace(kernels[i], name=kernels[i].name + RECOMPUTED, inputs=reads,
                                 output=ops[i].writes + RECOMPUTED))
            out_o.append(replace(ops[i], phase="recompute", reads=reads,
                                 writes=ops[i].writes + RECOMPUTED))

    for i, (kernel, op) in enumerate(zip(kernels, ops, strict=True)):
        if i in is_forward:
            continue
        for t in op.reads:
            if t in dropped:
                ensure(segment_of[t])
        reads = renamed(op.reads)
        out_k.append(replace(kernel, inputs=reads))
        out_o.append(replace(op, reads=reads))
    return tuple(out_k), tuple(out_o)
