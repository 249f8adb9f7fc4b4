"""The one Wilson interval: plain, with fractional successes, and with a finite population."""

from __future__ import annotations

import pytest

from core.tasks.intervals import wilson_interval


def test_the_plain_interval_matches_the_formula_by_hand() -> None:
    low, high = wilson_interval(8, 10, z=1.96)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_half_wins_and_a_finite_population_narrow_or_close_the_interval() -> None:
    tie = wilson_interval(2.5, 5)
    assert tie[0] < 0.5 < tie[1]
    wide, narrow = wilson_interval(50, 500), wilson_interval(50, 500, population=600)
    assert narrow[0] > wide[0] and narrow[1] < wide[1]
    assert wilson_interval(50, 500, population=500) == (pytest.approx(0.1), pytest.approx(0.1))
