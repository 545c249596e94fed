"""The labs' graders compute the expected answers the labs' exercises describe: hand-derived
figures for small cases, so a grader that drifts from its exercise fails here, not in class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simaccel.grading import EXERCISES, grade, lookup
from simaccel.grading.lab03 import magnitude_prune

LAB02 = {"bandwidth": 4, "buffers_kib": (8, 8, 4)}


def test_every_lab_registers_its_exercises() -> None:
    for lab, count in {"01": 6, "02": 8, "03": 8, "04": 6, "05": 7, "06": 4, "07": 6}.items():
        lookup(f"{lab}.1")
        assert sorted(k for k in EXERCISES if k.startswith(lab + ".")) == [
            f"{lab}.{i}" for i in range(1, count + 1)]


def test_lab02_bias_and_ridge_by_hand(capsys) -> None:
    """64×256×128 with bias, one tile: 64·256 + 256·128 int8 bytes + 128·4 bias bytes =
    49,664. scalesim_default: 32·32 PEs over 10 bytes/cycle = 102.4 MACs/byte."""
    grade("02.3", 49_664, **LAB02)
    grade("02.5", 102.4)
    assert capsys.readouterr().out.count("correct") == 2


def test_lab02_spill_and_regimes() -> None:
    """24 KiB resident: the image (784 B) and conv1's output (21,632 B) fit; pool1's (5,408 B)
    does not fit beside conv1's while both are live (27,040 > 24,576), later ones do. The
    16384×64×64 GEMM: I = 16384·64·64 / (2·16384·64 + 64·64) ≈ 31.9 MACs/byte, above
    gemmini's ridge 256/16 = 16 and below scalesim_default's 102.4."""
    assert lookup("02.8").expected(**LAB02) == ("pool1",)
    assert lookup("02.6").expected() == ("compute", "bandwidth")


def test_lab03_valid_padding_macs_and_pruning(capsys) -> None:
    """conv2 valid on 450 × 4×4×16: M = 450·2·2 = 1800, K = 3·3·16 = 144, N = 32:
    8,294,400 MACs. Magnitude pruning zeroes round(p·size) smallest entries."""
    from simaccel import load_hardware
    grade("03.4", 8_294_400, hw=load_hardware("gemmini"), batch=450)
    assert capsys.readouterr().out.count("correct") == 1
    w = np.array([[0.5, -0.1], [0.3, -0.05]])
    assert np.array_equal(magnitude_prune(w, 0.5), [[0.5, 0.0], [0.3, 0.0]])


def _frame() -> pd.DataFrame:
    """A hand-made sweep result: ResNet-18 at two bandwidths, MobileNetV2 at one."""
    side, sram, bw = ("array.rows+array.cols", "sram.ifmap_kib+sram.filter_kib+sram.ofmap_kib",
                      "dram.bandwidth_gbps")
    rows = [  # workload, side, KiB, GB/s, latency, energy, DRAM energy, array, area, error
        ("resnet18", 16, 64, 8, 3.0, 10.0, 6.0, 0.3, 1.2, ""),
        ("resnet18", 64, 64, 8, 1.0, 12.0, 6.0, 5.0, 5.9, ""),
        ("resnet18", 64, 256, 8, 1.0, 13.0, 5.0, 5.0, 8.1, ""),    # dominated by the one above
        ("resnet18", 16, 64, 128, 2.0, 9.0, 2.0, 0.3, 1.2, ""),
        ("resnet18", 8, 64, 8, float("nan"), float("nan"), float("nan"), 0.1, 0.5, "too small"),
        ("mobilenet_v2", 16, 64, 8, 2.0, 5.0, 1.0, 0.3, 1.2, ""),
        ("mobilenet_v2", 16, 64, 128, 2.0, 5.0, 1.0, 0.3, 1.2, ""),  # tie: lower bandwidth wins
        ("mobilenet_v2", 64, 64, 8, 1.0, 6.0, 1.0, 5.0, 5.9, ""),    # over half of 10 mm²
    ]
    return pd.DataFrame(rows, columns=["workload", side, sram, bw, "latency_s", "energy_pj",
                                       "energy_dram_pj", "array_mm2", "area_mm2", "error"])


def test_lab04_answers_from_a_hand_made_sweep(capsys) -> None:
    frame = _frame()
    grade("04.2", 2, frame=frame)                       # 8 GB/s: (16, 64) and (64, 64)
    grade("04.3", [5.0, 5.9], frame=frame)
    grade("04.4", (16, 64, 8), frame=frame, budget_mm2=10.0)
    grade("04.6", 2 / 9, frame=frame)    # smallest that ran: 1.2 mm², the faster (2.0 s): 2/9
    assert capsys.readouterr().out.count("correct") == 4


def test_lab04_compute_bound() -> None:
    """ResNet-18's 1,814,073,344 MACs on 16×16 PEs at 1 GHz: 7.0862 ms."""
    from pathlib import Path

    from simaccel import load_hardware, load_model
    model = load_model(Path(__file__).resolve().parent.parent / "workloads" / "resnet18.json")
    bound = lookup("04.1").expected(model=model, base=load_hardware("scalesim_default"), side=16)
    assert bound == pytest.approx(1_814_073_344 / 256e9 * 1e3, rel=1e-12)


LAB07 = {"layer": (16, 16, 16, 32, 3), "array": 8, "buffers_kib": (64, 64, 128)}


def test_lab07_reuse_reads_and_partial_sums_by_hand(capsys) -> None:
    """16×16×16 input, 32 filters of 3×3: M = 256, K = 144, N = 32, 1,179,648 MACs. On 8×8:
    a weight serves 256 pixels, an interior input 3·3·32 = 288 MACs, an output 144. OS reads
    the filter buffer once per row fold: ⌈256/8⌉·144·32 = 147,456 bytes (the ifmap the same,
    ⌈32/8⌉·256·144); forwarded: 2·1,179,648 − 2·147,456 = 2,064,384. WS writes and reads back
    ⌈144/8⌉ = 18 partial sums per output where OS writes and drains one: 18× the ofmap energy.
    On 16×16: ⌈32/16⌉·256·144 + ⌈256/16⌉·144·32 = 147,456."""
    grade("07.1", (256, 288, 144), **LAB07)
    grade("07.2", 147_456, **LAB07)
    grade("07.3", 2_064_384, **LAB07)
    grade("07.4", 18, **LAB07)
    grade("07.5", "OS", **LAB07)
    grade("07.6", 147_456, **LAB07)
    # 20 filters do not fill the last column fold: the weights' reads, not the inputs'
    # (⌈20/8⌉·256·144 = 110,592), are ⌈256/8⌉·144·20 = 92,160
    grade("07.2", 92_160, **(LAB07 | {"layer": (16, 16, 16, 20, 3)}))
    assert capsys.readouterr().out.count("correct") == 7


def test_lab07_wrong_answers_say_which_way() -> None:
    with pytest.raises(AssertionError, match="too low"):
        grade("07.4", 1, **LAB07)        # as if WS kept its partial sums in the PEs
    with pytest.raises(AssertionError, match="not right"):
        grade("07.5", "ws", **LAB07)


def test_lab05_collectives_bubble_and_chips_by_hand(capsys) -> None:
    """tpu_v4_like_x8: 8 chips on a ring, 50 GB/s links at 1050 MHz (47.62 bytes a cycle),
    1050 cycles a hop. Ring all-reduce of 8 MiB: 14 steps of 1050 + ⌈1,048,576 / 47.62⌉ =
    22,021 cycles: 322,994. 1 KiB: both algorithms pay 14 latencies on the ring (the tree's
    partners are 1, 2, 4 hops away) and the ring sends less; behind a switch the tree pays 6.
    ResNet-18 in 8 stages, 32 micro-batches: bubble 7/39. Llama 2 70B's 138 GB of bf16
    weights need more than 4 chips of 32 GiB."""
    from pathlib import Path

    from simaccel import load_model
    grade("05.1", 322_994, vector_bytes=8 << 20)
    grade("05.2", ("ring", "tree"), vector_bytes=1 << 10)
    resnet = load_model(Path(__file__).resolve().parent.parent / "workloads" / "resnet18.json")
    grade("05.3", 7 / 39, model=resnet, micro_batches=32)
    grade("05.6", 5, sequences=8, context=1024)
    # links twice as fast: 95.24 bytes a cycle, chunks of ⌈1,048,576 / 95.24⌉ = 11,011 cycles
    grade("05.7", 14 * (1050 + 11_011), vector_bytes=8 << 20, link_factor=2)
    assert capsys.readouterr().out.count("correct") == 5
    with pytest.raises(AssertionError, match="too low"):
        grade("05.1", 14 * 22_021, vector_bytes=8 << 20)     # the hop latencies forgotten


def test_lab06_state_macs_and_gradient_reduce_by_hand(capsys) -> None:
    """The digits CNN: fc1 (128 → 64 with bias) keeps (8,192 + 64) · 3 fp32 tensors = 99,072
    bytes under Adam; at batch 32 its forward is 2,936,832 MACs and a step 3× that less
    conv1's dX (32·8·8·16·9 = 294,912): 8,515,584. The MNIST CNN's fc1 gradient (1,600·64
    bf16 = 204,800 bytes) on 4 chips: 6 ring steps of 1,050 + ⌈51,200 / 47.62⌉ = 1,076 cycles:
    12,756."""
    from pathlib import Path

    from simaccel import load_model
    workloads = Path(__file__).resolve().parent.parent / "workloads"
    digits, mnist = (load_model(workloads / f"{name}.json") for name in ("digits_cnn", "mnist_cnn"))
    grade("06.1", 99_072, model=digits, layer="fc1")
    grade("06.2", 8_515_584, model=digits, batch=32)
    grade("06.3", 12_756, model=mnist, chips=4, batch=64)
    # the same gradient all-reduces behind twice the compute per chip
    grade("06.4", "rises", model=mnist, batch=64)
    assert capsys.readouterr().out.count("correct") == 4
    with pytest.raises(AssertionError, match="too high"):
        grade("06.2", 3 * 2_936_832, model=digits, batch=32)   # conv1's dX counted


def test_lab03_nm_storage_by_hand(capsys) -> None:
    """conv2 of the digits CNN, 2:4-pruned, on an N:M array: 3·3·16·32 = 4,608 weights, half
    kept as int8 (2,304 B) plus a 2-bit index for each kept value (576 B) = 2,880 B."""
    import dataclasses

    import simaccel
    from simaccel.graph import build_graph
    from simaccel.pruning import Pruning, prune_params

    model = simaccel.load_model(Path(__file__).resolve().parent.parent / "workloads"
                                / "digits_cnn.json")
    pruned = dataclasses.replace(model, weights=prune_params(build_graph(model),
                                                             Pruning("nm", pattern=(2, 4))))
    hw = simaccel.vary(simaccel.load_hardware("gemmini"),
                       {"sparsity.support": "nm", "sparsity.pattern": "2:4"})
    grade("03.7", 2_880, model=pruned, hw=hw)
    assert capsys.readouterr().out.count("correct") == 1
    with pytest.raises(AssertionError, match="too high"):
        grade("03.7", 4_608, model=pruned, hw=hw)  # the dense bytes
