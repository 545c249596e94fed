"""The link engine: a simpy simulation of messages crossing a `Network` (part of the engine
layer, beside `simaccel.engine`; docs/architecture.md, "Collectives").

Each message is a process: once the messages it depends on have arrived it waits until
every link on its route is free, holds them all for ⌈bytes / bytes per cycle⌉ cycles
(cut-through: the links of a route stream the message together), releases them and arrives
``hops × latency`` cycles later. Messages that share a link take turns, in the order they
became ready (contention); one whose links are free may pass one still waiting. Events are
per message, never per cycle.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import simpy

from simaccel.collectives import Message
from simaccel.engine import TraceEvent
from simaccel.network import Network

Process = Generator[simpy.Event, object, None]


@dataclass(frozen=True)
class LinkRun:
    """What the link engine observed: the cycles until the last message arrived, per link
    (in `Network.links` order) the cycles it was held and the bytes it carried, and one
    trace event per message per link (unit ``link.SRC-DST``, ``tile`` the message)."""

    cycles: int
    link_busy_cycles: tuple[int, ...]
    link_bytes: tuple[int, ...]
    trace: tuple[TraceEvent, ...]


def link_name(link: tuple[int, int]) -> str:
    """``link.0-1``; the switch is ``sw``."""
    return "link." + "-".join("sw" if n == Network.SWITCH else str(n) for n in link)


def transfer_cycles(network: Network, nbytes: int) -> int:
    """Cycles a message of ``nbytes`` holds its links."""
    return math.ceil(nbytes / network.bytes_per_cycle) if nbytes else 0


class _Links:
    """Which links are held, and the messages waiting for theirs, in the order they became
    ready. A message starts only when every link of its route is free at once (never
    holding one while it waits for another); on every release the queue is scanned in
    order and each message whose links are all free starts (a later message may pass one
    that is still blocked)."""

    def __init__(self, env: simpy.Environment, network: Network) -> None:
        self.env = env
        self.held = [False] * len(network.links)
        self.waiting: list[tuple[tuple[int, ...], simpy.Event]] = []

    def acquire(self, route: tuple[int, ...]) -> simpy.Event:
        granted = self.env.event()
        self.waiting.append((route, granted))
        self._grant()
        return granted

    def release(self, route: tuple[int, ...]) -> None:
        for i in route:
            self.held[i] = False
        self._grant()

    def _grant(self) -> None:
        still = []
        for route, granted in self.waiting:
            if any(self.held[i] for i in route):
                still.append((route, granted))
                continue
            for i in route:
                self.held[i] = True
            granted.succeed()
        self.waiting = still


def run(network: Network, messages: Sequence[Message], order: Sequence[int] | None = None,
        layer: int = 0) -> LinkRun:
    """Time ``messages`` on ``network``; logical position i is node ``order[i]`` (default
    `Network.ring_order`). ``layer`` tags the trace events. Raises ValueError for a message
    between positions the network does not have."""
    order = tuple(order if order is not None else network.ring_order())
    for m in messages:
        if not (0 <= m.src < len(order) and 0 <= m.dst < len(order)):
            raise ValueError(f"message {m.index}: positions {m.src}→{m.dst} outside a "
                             f"network of {len(order)} nodes")
    env = simpy.Environment()
    links = _Links(env, network)
    done = {m.index: env.event() for m in messages}
    busy = [0] * len(network.links)
    carried = [0] * len(network.links)
    trace: list[TraceEvent] = []

    def send(message: Message) -> Process:
        for dep in message.deps:
            yield done[dep]
        route, hops = network.route(order[message.src], order[message.dst])
        yield links.acquire(route)
        start = env.now
        cycles = transfer_cycles(network, message.nbytes)
        if cycles:
            yield env.timeout(cycles)
        links.release(route)
        for i in route:
            busy[i] += cycles
            carried[i] += message.nbytes
            trace.append(TraceEvent(link_name(network.links[i]), int(start), int(env.now),
                                    layer, message.index, message.nbytes))
        if hops * network.latency_cycles:
            yield env.timeout(hops * network.latency_cycles)
        done[message.index].succeed()

    for message in messages:
        env.process(send(message))
    env.run()
    trace.sort(key=lambda e: (e.start, e.unit, e.tile))
    return LinkRun(cycles=int(env.now), link_busy_cycles=tuple(busy),
                   link_bytes=tuple(carried), trace=tuple(trace))
