"""The labs' answer checker."""

from __future__ import annotations

import pytest

from simaccel.teaching import check


def test_right_answers_pass(capsys) -> None:
    check(54, 54)
    check(0.9209, 0.92090001, rel=1e-6)
    check("ws", "ws")
    check(True, True)
    assert capsys.readouterr().out.count("correct") == 4


@pytest.mark.parametrize(("answer", "expected", "rel", "words"), [
    (53, 54, 0.0, "53 is not it: the simulator says 54"),
    (0.92, 0.93, 1e-3, "not it"),
    ("os", "ws", 0.0, "'os' is not it"),
    (None, 54, 0.0, "no answer yet"),
    (..., 54, 0.0, "no answer yet"),
])
def test_wrong_or_missing_answers_raise(answer, expected, rel, words) -> None:
    with pytest.raises(AssertionError, match=words.replace("(", r"\(")):
        check(answer, expected, rel=rel, hint="folds = ceil(M/R)·ceil(N/C)")
