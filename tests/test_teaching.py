"""The labs' answer checker and grader: right or wrong with a direction, never the value."""

from __future__ import annotations

import numpy as np
import pytest

from simaccel.grading import grade, lookup
from simaccel.teaching import Tolerance, check, verdict


def test_right_answers_pass(capsys) -> None:
    check(54, 54)
    check(0.9209, 0.92092465, abs=5e-4)        # four decimals of a utilization
    check("WS", "ws")                          # case and spaces do not matter
    check(" ws ", "WS")
    check(True, True)
    check(np.int64(54), 54)                    # numpy scalars are numbers
    check(np.float64(1.0005), 1.0, rel=1e-3)   # ... and take the tolerance
    check(np.int64(100), 101, rel=0.01)        # an integer answer obeys rel too
    check([1, "os"], (1, "OS"))                # a list is the tuple it holds
    check(np.array([3, 4]), (3, 4))
    check(np.bool_(True), True)
    assert capsys.readouterr().out.count("correct") == 11


@pytest.mark.parametrize(("answer", "expected", "words"), [
    (53, 54, "too low, within 10%"),
    (60, 54, "too high, off by 10–50%"),
    (100, 54, "too high, off by 50–100%"),
    (27, 54, "too low, off by 50–100%"),      # half: the factor is 2
    (5, 54, "too low, off by a factor of 2–10"),
    (1000, 54, "too high, off by more than a factor of 10"),
    (-54, 54, "too low, and the sign is wrong"),
    (1, 0, "too high"),
    (float("nan"), 54, "not a finite number"),
    ("os", "ws", "not right"),
    ((1, 2, 3), (1, 2, 4), "1 of 3 entries are wrong"),
    ((1, 2), (1, 2, 4), "has 2 entries"),
])
def test_wrong_answers_say_how_never_the_value(answer, expected, words) -> None:
    with pytest.raises(AssertionError) as info:
        check(answer, expected, hint="folds = ceil(M/R)·ceil(N/C)")
    message = str(info.value)
    assert words in message and "folds = ceil" in message
    assert repr(expected) not in message and str(expected) not in message.split("hint")[0]


@pytest.mark.parametrize("answer", [None, ...])
def test_no_answer_yet(answer) -> None:
    with pytest.raises(AssertionError, match="no answer yet"):
        check(answer, 54)


def test_tolerance_is_explicit() -> None:
    assert verdict(0.92, 0.9209) is not None                    # exact by default
    assert verdict(0.92, 0.9209, Tolerance(abs=1e-3)) is None
    assert verdict(99, 100, Tolerance(rel=0.01)) is None
    assert verdict(98, 100, Tolerance(rel=0.01)) is not None


def test_grade_computes_the_expected_answer_out_of_sight(capsys) -> None:
    """Lab 01's exercise 3 on an 8×8 ideal array: the exercise layer (16×16×16, 24 filters
    3×3, 'same') is M = 256, K = 144, N = 24; OS folds ⌈256/8⌉·⌈24/8⌉ = 96, each K + 8 + 8 − 2
    = 158 cycles, so 96 · 158 − 1 = 15167. On 16×16: 16 · 2 folds of 144 + 30: 32·174 − 1."""
    grade("01.3", 15167, rows=8, cols=8)
    grade("01.3", np.int64(16 * 2 * 174 - 1), rows=16, cols=16)
    assert capsys.readouterr().out.count("correct") == 2
    with pytest.raises(AssertionError, match="too high, within 10%") as info:
        grade("01.3", 15168, rows=8, cols=8)
    assert "15167" not in str(info.value)
    with pytest.raises(AssertionError, match="no answer yet"):
        grade("01.3", ..., rows=8, cols=8)


def test_graded_strings_and_tuples_are_type_robust(capsys) -> None:
    """Section 1's layer (8×8×4, 8 filters 3×3): M = 64, K = 36, N = 8; on 8×8 OS folds
    ⌈64/8⌉·⌈8/8⌉ = 8, WS ⌈36/8⌉·1 = 5, IS ⌈36/8⌉·⌈64/8⌉ = 40. The pointwise layer streams
    M = 1024 under WS: the fewest cycles."""
    grade("01.1", [8, 5, 40], rows=8, cols=8)
    grade("01.5", "WS", rows=8, cols=8)
    assert capsys.readouterr().out.count("correct") == 2


def test_unknown_exercise_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="01.1"):
        lookup("01.99")
    with pytest.raises(KeyError, match="no lab"):
        lookup("99.1")


def test_memory_traffic_per_level_by_hand() -> None:
    """A 16×16×16 conv with 32 3×3 filters on an 8×8 OS array whose buffers hold it: the array
    reads ⌈32/8⌉·256·144 = 147,456 input bytes and ⌈256/8⌉·144·32 = 147,456 weight bytes;
    256·32 int32 outputs are written once and read once to drain (32,768 bytes each); DRAM
    writes the 256·32 int8 outputs once (8,192) and reads at least the input, the weights and
    the int32 bias once (4,096 + 4,608 + 32·4 = 8,832)."""
    import simaccel
    from simaccel.teaching import conv_model, memory_traffic
    hw = simaccel.vary(simaccel.load_hardware("teaching_8x8"), {
        "sram.ifmap_kib": 64, "sram.filter_kib": 64, "sram.ofmap_kib": 128})
    levels = memory_traffic(conv_model(16, 16, 16, 32, 3), hw)
    assert levels["ifmap"]["read"] == levels["filter"]["read"] == 147_456
    assert levels["ofmap"] == {"read": 32_768, "write": 32_768}
    assert levels["dram"]["write"] == 8_192
    assert levels["dram"]["read"] >= 8_832


def test_grade_refuses_a_bad_key_or_context_naming_it() -> None:
    """Found by a tester: ``grade(5, 5)`` raised AttributeError and a missing or unknown
    keyword a TypeError from inside the grader; both are bad input naming the parameter and
    saying what the exercise takes."""
    from simaccel.errors import InputError

    with pytest.raises(InputError, match="grade: key: expected an exercise name"):
        grade(5, 5)
    with pytest.raises(InputError, match=r"context: exercise 01\.1 takes rows=\.\.\., "
                                         r"cols=\.\.\.: missing"):
        grade("01.1", 5)
    with pytest.raises(InputError, match="unexpected keyword argument 'bogus'"):
        grade("01.1", 5, rows=4, cols=4, bogus=1)
