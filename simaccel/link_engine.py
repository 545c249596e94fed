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

from simaccel.collectives import Message, TooManyMessages
from simaccel.engine import TraceEvent
from simaccel.network import Network

Process = Generator[simpy.Event, object, None]

#: Most link transfers (a message crossing one link) one run may have: each is held,
#: accounted and traced on its link (a trace event of ~0.2 KB). Recursive doubling among
#: 4096 chips on a ring crosses 16.8 M links (~5 GB and minutes); a ring all-reduce among
#: 256 chips crosses 130,560.
MAX_LINK_TRANSFERS = 1 << 18


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
    holding one while it waits for another); on every release the waiting messages are
    tried in that order and each whose links are all free starts (a later message may pass
    one that is still blocked).

    Only a release frees links, so only the waiting messages that cross a link just freed
    can start then: each link indexes the messages waiting for it, and a release tries those
    alone — the same grants as scanning the whole queue, without its cost growing with
    every waiting message at every release (a ring of 2048 chips had thousands waiting)."""

    def __init__(self, env: simpy.Environment, network: Network) -> None:
        self.env = env
        self.held = [False] * len(network.links)
        self.waiting: dict[int, tuple[tuple[int, ...], simpy.Event]] = {}  # by ready order
        self.waiting_on: list[set[int]] = [set() for _ in network.links]
        self.ready = 0

    def acquire(self, route: tuple[int, ...]) -> simpy.Event:
        granted = self.env.event()
        if not any(self.held[i] for i in route):
            self._hold(route, granted)
            return granted
        seq, self.ready = self.ready, self.ready + 1
        self.waiting[seq] = (route, granted)
        for i in route:
            self.waiting_on[i].add(seq)
        return granted

    def release(self, route: tuple[int, ...]) -> None:
        for i in route:
            self.held[i] = False
        for seq in sorted(set().union(*(self.waiting_on[i] for i in route))):
            waiting_route, granted = self.waiting[seq]
            if any(self.held[i] for i in waiting_route):
                continue
            del self.waiting[seq]
            for i in waiting_route:
                self.waiting_on[i].discard(seq)
            self._hold(waiting_route, granted)

    def _hold(self, route: tuple[int, ...], granted: simpy.Event) -> None:
        for i in route:
            self.held[i] = True
        granted.succeed()


def run(network: Network, messages: Sequence[Message], order: Sequence[int] | None = None,
        layer: int = 0) -> LinkRun:
    """Time ``messages`` on ``network``; logical position i is node ``order[i]`` (default
    `Network.ring_order`). ``layer`` tags the trace events. Raises ValueError for a message
    between positions the network does not have, `TooManyMessages` for more than
    `MAX_LINK_TRANSFERS` link crossings in all."""
    order = tuple(order if order is not None else network.ring_order())
    for m in messages:
        if not (0 <= m.src < len(order) and 0 <= m.dst < len(order)):
            raise ValueError(f"message {m.index}: positions {m.src}→{m.dst} outside a "
                             f"network of {len(order)} nodes")
    routes = {m.index: network.route(order[m.src], order[m.dst]) for m in messages}
    transfers = sum(len(route) for route, _ in routes.values())
    if transfers > MAX_LINK_TRANSFERS:
        raise TooManyMessages(
            f"{len(messages):,} messages crossing {transfers:,} links in all, over the "
            f"{MAX_LINK_TRANSFERS:,} link transfers simaccel times one by one; use fewer "
            "chips or a topology with shorter routes")
    env = simpy.Environment()
    links = _Links(env, network)
    done = {m.index: env.event() for m in messages}
    busy = [0] * len(network.links)
    carried = [0] * len(network.links)
    trace: list[TraceEvent] = []

    def send(message: Message) -> Process:
        for dep in message.deps:
            yield done[dep]
        route, hops = routes[message.index]
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
