"""Collectives as sequences of point-to-point messages: all-reduce, all-gather,
reduce-scatter and all-to-all among ``p`` nodes, by a ring or a tree algorithm.

A `Message` goes from one node to another (positions in a logical order that
`Network.ring_order` maps to nodes) after the messages it depends on have arrived; the link
engine (`simaccel.link_engine`) routes each over the links and times it with contention.
Sizes: ``nbytes`` is each node's whole buffer — the vector reduced (all-reduce), the
gathered result (all-gather), the input scattered (reduce-scatter), the data a node sends
in all (all-to-all). On uncontended links of bandwidth β⁻¹ and per-hop latency α the
algorithms take (Thakur, Rabenseifner & Gropp, IJHPCA 2005; Patarasuk & Yuan, JPDC 2009):

=================  ==========================================  ============================
collective         ring                                        tree
=================  ==========================================  ============================
all-reduce         2(p−1)·(α + nbytes/p·β)                      2⌈log₂p⌉·(α + nbytes·β)
all-gather         (p−1)·(α + nbytes/p·β)                       log₂p·α + (p−1)/p·nbytes·β
reduce-scatter     (p−1)·(α + nbytes/p·β)                       log₂p·α + (p−1)/p·nbytes·β
all-to-all         (p−1)·(α·hops + nbytes/p·β), pairwise        refused
=================  ==========================================  ============================

(tree all-reduce: binomial reduce then broadcast; tree all-gather / reduce-scatter:
recursive doubling / halving, ``p`` a power of two; the reduction's arithmetic is not
timed.) Chunks are ⌈nbytes / p⌉ bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Collective(StrEnum):
    """The collective operations."""

    ALL_REDUCE = "all_reduce"
    ALL_GATHER = "all_gather"
    REDUCE_SCATTER = "reduce_scatter"
    ALL_TO_ALL = "all_to_all"


class Algorithm(StrEnum):
    """``ring``: neighbours in a logical ring pass chunks round; ``tree``: binomial tree or
    recursive doubling/halving."""

    RING = "ring"
    TREE = "tree"


#: Most link messages one collective may have. The link engine times every message as a
#: simpy event (measured here: ~30 µs and ~1.3 KB a message), so a ring all-reduce among p
#: nodes, 2(p − 1)·p messages, grows as p²: 2**17 covers the ring up to 256 nodes (~4 s,
#: ~170 MB); a 4096-chip ring all-reduce would be 33.5 M messages (~17 min, ~44 GB).
MAX_MESSAGES = 1 << 17


class TooManyMessages(ValueError):
    """A collective with more link messages than `MAX_MESSAGES`."""


@dataclass(frozen=True)
class Message:
    """``nbytes`` from logical position ``src`` to ``dst`` once ``deps`` (message indices)
    have arrived."""

    index: int
    src: int
    dst: int
    nbytes: int
    deps: tuple[int, ...] = ()


def plan(collective: Collective, algorithm: Algorithm, p: int, nbytes: int
         ) -> tuple[Message, ...]:
    """The messages of ``collective`` by ``algorithm`` among ``p`` nodes, each holding an
    ``nbytes`` buffer (see the module docstring). Raises ValueError for a tree all-to-all
    and for a recursive-doubling tree on a ``p`` that is not a power of two."""
    if p < 1 or nbytes < 0:
        raise ValueError(f"need p ≥ 1 and nbytes ≥ 0 (got p={p}, nbytes={nbytes})")
    if p == 1 or nbytes == 0:
        return ()
    builder = _BUILDERS.get((collective, algorithm))
    if builder is None:
        raise ValueError(f"{collective.value} has no {algorithm.value} algorithm here "
                         "(all-to-all is pairwise: use ring)")
    if algorithm is Algorithm.TREE and collective is not Collective.ALL_REDUCE:
        _power_of_two(p)
    count = message_count(collective, algorithm, p)
    if count > MAX_MESSAGES:
        raise TooManyMessages(
            f"a {algorithm.value} {collective.value} among {p} nodes is {count:,} link "
            f"messages, over the {MAX_MESSAGES:,} simaccel times one by one; use fewer "
            "chips")
    return builder(p, nbytes)


def message_count(collective: Collective, algorithm: Algorithm, p: int) -> int:
    """How many link messages `plan` builds for ``collective`` by ``algorithm`` among
    ``p`` ≥ 2 nodes: ring all-reduce 2(p − 1)·p; ring all-gather, reduce-scatter and the
    pairwise all-to-all (p − 1)·p; tree all-reduce 2(p − 1); recursive doubling or halving
    p·log₂p."""
    if algorithm is Algorithm.RING:
        return (2 if collective is Collective.ALL_REDUCE else 1) * (p - 1) * p
    if collective is Collective.ALL_REDUCE:
        return 2 * (p - 1)
    return p * (p.bit_length() - 1)


def _ring_steps(p: int, chunk: int, steps: int) -> tuple[Message, ...]:
    """``steps`` rounds in which every position sends ``chunk`` bytes to the next; a send
    waits for what the sender received in the round before."""
    out: list[Message] = []
    for step in range(steps):
        for i in range(p):
            deps = () if step == 0 else ((step - 1) * p + (i - 1) % p,)
            out.append(Message(len(out), i, (i + 1) % p, chunk, deps))
    return tuple(out)


def _ring_all_reduce(p: int, nbytes: int) -> tuple[Message, ...]:
    return _ring_steps(p, math.ceil(nbytes / p), 2 * (p - 1))


def _ring_half(p: int, nbytes: int) -> tuple[Message, ...]:
    return _ring_steps(p, math.ceil(nbytes / p), p - 1)


def _tree_all_reduce(p: int, nbytes: int) -> tuple[Message, ...]:
    """Binomial reduce to position 0, then the mirror broadcast from it."""
    out: list[Message] = []
    last: dict[int, int] = {}  # position → its latest message in or out
    rounds = math.ceil(math.log2(p))
    reduce_pairs = [(i, i - (1 << r)) for r in range(rounds) for i in range(p)
                    if i % (1 << (r + 1)) == (1 << r)]
    for src, dst in reduce_pairs + [(d, s) for s, d in reversed(reduce_pairs)]:
        deps = tuple(sorted({last[n] for n in (src, dst) if n in last}))
        out.append(Message(len(out), src, dst, nbytes, deps))
        last[src] = last[dst] = len(out) - 1
    return tuple(out)


def _power_of_two(p: int) -> int:
    rounds = p.bit_length() - 1
    if 1 << rounds != p:
        raise ValueError(f"recursive doubling needs a power-of-two node count, not {p}")
    return rounds


def _recursive(p: int, nbytes: int, doubling: bool) -> tuple[Message, ...]:
    """Recursive doubling (all-gather: round r exchanges 2^r chunks with the partner
    2^r away) or halving (reduce-scatter: the same rounds reversed)."""
    rounds = _power_of_two(p)
    chunk = math.ceil(nbytes / p)
    order = range(rounds) if doubling else reversed(range(rounds))
    out: list[Message] = []
    received: dict[int, int] = {}  # position → the message it received last round
    for r in order:
        now: dict[int, int] = {}
        for i in range(p):
            partner = i ^ (1 << r)
            deps = (received[i],) if i in received else ()
            out.append(Message(len(out), i, partner, chunk << r, deps))
            now[partner] = len(out) - 1
        received = now
    return tuple(out)


def _pairwise(p: int, nbytes: int) -> tuple[Message, ...]:
    """Round r (1..p−1): position i sends its chunk for i+r; one send at a time a node."""
    chunk = math.ceil(nbytes / p)
    out: list[Message] = []
    for r in range(1, p):
        for i in range(p):
            deps = () if r == 1 else ((r - 2) * p + i,)
            out.append(Message(len(out), i, (i + r) % p, chunk, deps))
    return tuple(out)


_BUILDERS = {
    (Collective.ALL_REDUCE, Algorithm.RING): _ring_all_reduce,
    (Collective.ALL_GATHER, Algorithm.RING): _ring_half,
    (Collective.REDUCE_SCATTER, Algorithm.RING): _ring_half,
    (Collective.ALL_TO_ALL, Algorithm.RING): _pairwise,
    (Collective.ALL_REDUCE, Algorithm.TREE): _tree_all_reduce,
    (Collective.ALL_GATHER, Algorithm.TREE): lambda p, n: _recursive(p, n, True),
    (Collective.REDUCE_SCATTER, Algorithm.TREE): lambda p, n: _recursive(p, n, False),
}
