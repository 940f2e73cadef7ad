"""V-run prematurity experiment (bench.experiments.v_run_prematurity): synthetic R-R intervals."""

import numpy as np
import pytest

from bench.experiments.v_run_prematurity import _prematurity


def test_a_run_at_the_pacing_interval_is_not_premature_and_an_early_one_is():
    rr = np.full(20, 0.8)
    assert _prematurity(rr, 10, 12, "first") == pytest.approx(1.0)
    rr[9] = 0.5  # the interval into beat 10
    assert _prematurity(rr, 10, 12, "first") == pytest.approx(0.625)


def test_the_shortest_mode_sees_an_early_interval_inside_the_run():
    rr = np.full(20, 0.8)
    rr[11] = 0.4  # between the run's second and third beats
    assert _prematurity(rr, 10, 12, "first") == pytest.approx(1.0)
    assert _prematurity(rr, 10, 12, "shortest") == pytest.approx(0.5)


def test_a_run_without_two_intervals_before_it_has_no_measure():
    assert _prematurity(np.full(5, 0.8), 1, 2, "first") is None
