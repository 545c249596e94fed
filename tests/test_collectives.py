"""Collectives on the link engine, held exactly to the α–β formulas on uncontended links
(Thakur, Rabenseifner & Gropp 2005), and contention derived by hand.

Every network here runs at 1000 MHz with 64 GB/s links (β⁻¹ = 64 bytes per cycle) and
100 ns per hop (α = 100 cycles), so each formula is a whole number of cycles."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import simaccel
from simaccel import link_engine
from simaccel.collectives import Algorithm, Collective, plan
from simaccel.hardware import Topology
from simaccel.network import build, chip_network, system_network

ROOT = Path(__file__).resolve().parent.parent

ALPHA, BYTES_PER_CYCLE = 100, 64


def _time(topology: Topology, p: int, collective: Collective, algorithm: Algorithm,
          nbytes: int) -> int:
    network = build(topology, p, BYTES_PER_CYCLE, ALPHA, 1000)
    return link_engine.run(network, plan(collective, algorithm, p, nbytes)).cycles


@pytest.mark.parametrize("topology", list(Topology))
@pytest.mark.parametrize("p", [2, 4, 8])
def test_ring_all_reduce_is_2_p_minus_1_steps_of_alpha_plus_a_chunk(topology, p) -> None:
    nbytes = p * BYTES_PER_CYCLE * 1000  # a chunk of 1000 cycles
    expected = 2 * (p - 1) * (ALPHA + nbytes // p // BYTES_PER_CYCLE)
    assert _time(topology, p, Collective.ALL_REDUCE, Algorithm.RING, nbytes) == expected


@pytest.mark.parametrize("collective", [Collective.ALL_GATHER, Collective.REDUCE_SCATTER])
@pytest.mark.parametrize("p", [3, 4, 8])
def test_ring_all_gather_and_reduce_scatter_take_p_minus_1_steps(collective, p) -> None:
    nbytes = p * BYTES_PER_CYCLE * 500
    assert _time(Topology.RING, p, collective, Algorithm.RING, nbytes) == (p - 1) * (
        ALPHA + 500)


@pytest.mark.parametrize("p", [2, 4, 8, 5])
def test_tree_all_reduce_on_a_switch_is_2_log_p_full_messages(p) -> None:
    nbytes = BYTES_PER_CYCLE * 300
    expected = 2 * math.ceil(math.log2(p)) * (ALPHA + 300)
    assert _time(Topology.SWITCH, p, Collective.ALL_REDUCE, Algorithm.TREE, nbytes) == expected


@pytest.mark.parametrize("collective", [Collective.ALL_GATHER, Collective.REDUCE_SCATTER])
@pytest.mark.parametrize("p", [2, 4, 8])
def test_recursive_doubling_on_a_switch_is_log_p_alpha_plus_p_minus_1_chunks(
        collective, p) -> None:
    nbytes = p * BYTES_PER_CYCLE * 200
    expected = int(math.log2(p)) * ALPHA + (p - 1) * 200
    assert _time(Topology.SWITCH, p, collective, Algorithm.TREE, nbytes) == expected


def test_pairwise_all_to_all_on_a_switch_is_p_minus_1_chunks() -> None:
    assert _time(Topology.SWITCH, 8, Collective.ALL_TO_ALL, Algorithm.RING,
                 8 * BYTES_PER_CYCLE * 100) == 7 * (ALPHA + 100)


def test_messages_sharing_a_ring_link_take_turns() -> None:
    """Recursive-doubling all-gather on a ring of 4, chunks of 1000 cycles. Round 0: 0↔1
    and 2↔3 on their own links, 1000 + α. Round 1 (2000-cycle messages, partner two hops
    away, clockwise on the tie): 0→2 and 1→3 both need link 1→2, 2→0 and 3→1 both need
    3→0, so each pair runs one after the other: 2 × 2000 + 2α. Total 5300 cycles, not the
    3300 of the uncontended formula (a switch)."""
    nbytes = 4 * BYTES_PER_CYCLE * 1000
    assert _time(Topology.RING, 4, Collective.ALL_GATHER, Algorithm.TREE, nbytes) == (
        1000 + ALPHA + 2 * 2000 + 2 * ALPHA)
    assert _time(Topology.SWITCH, 4, Collective.ALL_GATHER, Algorithm.TREE, nbytes) == (
        2 * ALPHA + 3 * 1000)


def test_ring_all_reduce_moves_2_p_minus_1_chunks_over_each_forward_link() -> None:
    p, chunk = 4, BYTES_PER_CYCLE * 10
    network = build(Topology.RING, p, BYTES_PER_CYCLE, ALPHA, 1000)
    run = link_engine.run(network, plan(Collective.ALL_REDUCE, Algorithm.RING, p, p * chunk))
    carried = dict(zip(network.links, run.link_bytes, strict=True))
    assert all(carried[(i, (i + 1) % p)] == 2 * (p - 1) * chunk for i in range(p))
    assert all(carried[((i + 1) % p, i)] == 0 for i in range(p))
    assert {e.unit for e in run.trace} == {f"link.{i}-{(i + 1) % p}" for i in range(p)}


def test_mesh_routes_x_then_y_and_rings_snake() -> None:
    mesh = build(Topology.MESH2D, 8, BYTES_PER_CYCLE, ALPHA, 1000)  # 2 rows × 4 columns
    assert mesh.rows == 2 and mesh.ring_order() == (0, 1, 2, 3, 7, 6, 5, 4)
    route, hops = mesh.route(0, 7)
    assert hops == 4 and [mesh.links[i] for i in route] == [(0, 1), (1, 2), (2, 3), (3, 7)]


@pytest.mark.parametrize(("collective", "algorithm", "p", "phrase"), [
    (Collective.ALL_TO_ALL, Algorithm.TREE, 4, "no tree algorithm"),
    (Collective.ALL_GATHER, Algorithm.TREE, 6, "power-of-two"),
])
def test_unsupported_plans_are_refused(collective, algorithm, p, phrase) -> None:
    with pytest.raises(ValueError, match=phrase):
        plan(collective, algorithm, p, 1024)


def test_shipped_networks_come_from_the_configs() -> None:
    system = system_network(simaccel.load_hardware("tpu_v4_like_x8"))
    assert system.nodes == 8 and len(system.links) == 16
    assert system.bytes_per_cycle == pytest.approx(50e9 / 1050e6)
    assert system.latency_cycles == 1050  # 1000 ns at 1050 MHz
    chip = chip_network(simaccel.load_hardware("edge_4core"))
    assert chip.nodes == 4 and chip.latency_cycles == 2  # 4 ns at 480 MHz, rounded up


def test_collective_verb_times_the_system_links_or_the_chips_cores(capsys, tmp_path) -> None:
    """16 MiB ring all-reduce on tpu_v4_like_x8: 14 steps of 1050 cycles of latency and a
    2 MiB chunk at 50 GB/s (⌈2,097,152 / 47.62⌉ = 44,041 cycles at 1050 MHz). On
    edge_4core's on-chip ring (32 GB/s, 2 cycles a hop at 480 MHz): 6 steps of 2 + ⌈1024 /
    66.67⌉ = 16 cycles."""
    from simaccel.cli import main

    trace = tmp_path / "links.json"
    assert main(["collective", "all_reduce", "--bytes", str(16 << 20), "--hw",
                 "tpu_v4_like_x8", "--trace", str(trace)]) == 0
    assert f"{14 * (1050 + 44041):,} cycles" in capsys.readouterr().out
    events = json.loads(trace.read_text())["traceEvents"]
    tracks = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert tracks == {f"link.{i}-{(i + 1) % 8}" for i in range(8)}
    assert main(["collective", "all_reduce", "--bytes", "4096", "--hw", "edge_4core",
                 "--level", "chip"]) == 0
    assert f"{6 * (2 + 16):,} cycles" in capsys.readouterr().out
    assert main(["collective", "all_to_all", "--bytes", "64", "--algorithm", "tree"]) == 2
    assert capsys.readouterr().err.startswith("simaccel: --algorithm: all_to_all has no tree")


@pytest.mark.parametrize("p", [2, 3, 5, 8, 16])
def test_message_count_is_what_plan_builds(p: int) -> None:
    """The closed forms `plan` checks its bound with: ring all-reduce 2(p − 1)·p, ring
    half-collectives and pairwise all-to-all (p − 1)·p, tree all-reduce 2(p − 1),
    recursive doubling/halving p·log₂p (powers of two only)."""
    from simaccel.collectives import message_count

    for collective in Collective:
        for algorithm in Algorithm:
            try:
                messages = plan(collective, algorithm, p, 1000)
            except ValueError:
                continue
            assert len(messages) == message_count(collective, algorithm, p)


def test_a_collective_over_the_message_bound_is_refused_naming_the_chips(
        capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    """A ring all-reduce among 257 chips is 2·256·257 = 131,584 link messages, over the
    2**17 = 131,072 the link engine times one by one (a 4096-chip system, which the config
    allows, would be 33.5 M and exhaust memory): refused as one line naming the config's
    ``[system] chips``, exit 2; the tree all-reduce (512 messages) still runs."""
    from simaccel.cli import main
    from simaccel.collectives import MAX_MESSAGES, TooManyMessages

    assert 2 * 256 * 257 > MAX_MESSAGES >= 2 * 255 * 256
    with pytest.raises(TooManyMessages, match="131,584 link messages"):
        plan(Collective.ALL_REDUCE, Algorithm.RING, 257, 1 << 20)
    assert len(plan(Collective.ALL_REDUCE, Algorithm.TREE, 257, 1 << 20)) == 512
    text = (ROOT / "simaccel" / "hw_configs" / "tpu_v4_like_x8.toml").read_text()
    big = tmp_path / "pod.toml"
    big.write_text(text.replace("chips = 8", "chips = 257"))
    assert main(["collective", "all_reduce", "--bytes", "4096", "--hw", str(big)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pod.toml: system.chips" in err and "tree" in err
    assert main(["collective", "all_reduce", "--bytes", "4096", "--hw", str(big),
                 "--algorithm", "tree"]) == 0


def test_a_run_crossing_too_many_links_is_refused_before_it_starts() -> None:
    """Recursive doubling among 1024 chips on a ring is only 10,240 messages, but round r's
    partners are 2**r hops apart: 1024 · (1 + 2 + … + 512) = 1,047,552 link crossings, over
    the 2**18 the link engine holds and traces one by one (4096 chips: 16.8 M, minutes and
    gigabytes). It is refused up front; an LLM on such a system says which field."""
    from simaccel.collectives import TooManyMessages
    from simaccel.link_engine import MAX_LINK_TRANSFERS

    hw = simaccel.vary(simaccel.load_hardware("tpu_v4_like_x8"), {"system.chips": 1024})
    messages = plan(Collective.ALL_GATHER, Algorithm.TREE, 1024, 1 << 20)
    assert len(messages) == 10_240 and MAX_LINK_TRANSFERS < 1_047_552
    with pytest.raises(TooManyMessages, match="1,047,552 links"):
        link_engine.run(system_network(hw), messages)


def test_a_message_waiting_on_the_second_link_of_a_route_starts_when_it_frees() -> None:
    """On a ring of 5, 0→2 holds links 0→1 and 1→2 for c = ⌈1 MiB / 47.62 B⌉ = 22,021
    cycles; 1→2, ready at the same time, waits for 1→2 (the second link of that route) and
    starts when it frees: it arrives at 2c + α = 45,092 cycles (α = 1050). The engine tries
    only the messages waiting on a freed link; one that looked at a route's first link only
    would leave it waiting for ever."""
    from simaccel.collectives import Message

    hw = simaccel.vary(simaccel.load_hardware("tpu_v4_like_x8"),
                       {"system.chips": 5, "system.topology": "ring"})
    run = link_engine.run(system_network(hw), [Message(0, 0, 2, 1 << 20),
                                              Message(1, 1, 2, 1 << 20)])
    assert run.cycles == 2 * 22_021 + 1050
