"""Any model over a system's chips: data and pipeline parallelism (`simaccel.partition`)."""

from __future__ import annotations

import itertools
import math

import pytest

import simaccel
from simaccel.cli import main
from simaccel.hardware import vary
from simaccel.partition import (
    batch_cycles,
    choose,
    layer_partition,
    pipeline_parallel,
    split_points,
)
from tests.helpers import model


def _brute(costs: list[int], stages: int) -> int:
    n, best = len(costs), math.inf
    for k in range(1, stages + 1):
        for cuts in itertools.combinations(range(1, n), k - 1):
            bounds = (0, *cuts, n)
            best = min(best, max(sum(costs[a:b]) for a, b in itertools.pairwise(bounds)))
    return best


@pytest.mark.parametrize(("costs", "stages"), [
    ([4, 1, 1, 4], 2), ([1, 2, 3, 4, 5, 6, 7, 8, 9], 3), ([9, 1, 1, 1, 1, 1, 1], 3),
    ([5, 5, 5], 5), ([3, 8, 2, 7, 1, 9, 4, 6], 4)])
def test_split_points_give_the_least_slowest_stage(costs: list[int], stages: int) -> None:
    ranges = split_points(costs, stages)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(costs) - 1
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ranges))
    assert max(sum(costs[a:b + 1]) for a, b in ranges) == _brute(costs, stages)


def _chain(layers: int):
    return model([{"name": f"d{i}", "op": "dense", "inputs": [f"d{i - 1}" if i else "x"],
                   "units": 1024} for i in range(layers)],
                 inputs=[{"name": "x", "shape": [1, 1024]}])


def test_pipeline_stages_send_the_crossing_activation_over_one_link() -> None:
    """Four equal dense layers on four chips of a 50 GB/s, 1 µs ring at 1050 MHz: a layer a
    stage, each cut sending the 1024 bf16 activations (2048 bytes) in 1050 + ⌈2048 /
    47.6⌉ = 1094 cycles; latency is the stages plus three sends, the interval the slowest
    stage plus its send."""
    hw = vary(simaccel.load_hardware("tpu_v4_like_x8"), {"system.chips": 4})
    report = simaccel.simulate(_chain(4), hw, check=False)
    part = pipeline_parallel(report, 4, micro_batches=8)
    assert [(s.first, s.last) for s in part.stages] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert [s.send_bytes for s in part.stages] == [2048, 2048, 2048, 0]
    assert [s.send_cycles for s in part.stages] == [1094, 1094, 1094, 0]
    windows = [r.cycles for r in report.results.layers]
    assert part.latency_cycles == sum(windows) + 3 * 1094
    assert part.interval_cycles == max(w + (1094 if i < 3 else 0)
                                       for i, w in enumerate(windows))
    assert part.bubble == pytest.approx(3 / 11)
    assert batch_cycles(part, 8) == part.latency_cycles + 7 * part.interval_cycles


def test_auto_takes_whichever_finishes_the_batch_first() -> None:
    hw = vary(simaccel.load_hardware("tpu_v4_like_x8"), {"system.chips": 4})
    report = simaccel.simulate(_chain(4), hw, check=False)
    for batch in (1, 64):
        chosen, why = choose(report, "auto", batch)
        others = [choose(report, kind, batch)[0] for kind in ("data", "pipeline", "tensor")]
        others.append(layer_partition(report, "per_layer", batch))
        assert batch_cycles(chosen, batch) == min(batch_cycles(p, batch) for p in others)
        assert why.startswith(f"fastest for the batch of {batch}: {chosen.parallel}")
    data, _ = choose(report, "data", 9)
    assert batch_cycles(data, 9) == 3 * report.results.total.cycles  # ⌈9 / 4⌉ rounds


def test_partition_verb_prints_stages_and_refuses_an_unknown_kind(capsys, root) -> None:
    mnist = str(root / "workloads" / "mnist_cnn.json")
    assert main(["partition", mnist, "--parallel", "pipeline", "--batch", "4"]) == 0
    out = capsys.readouterr().out
    assert "pipeline over" in out and "stage 0: conv1" in out
    assert main(["partition", mnist, "--parallel", "sequence"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("simaccel: --parallel: 'sequence'")
