"""Times and durations as every page, the report and the viewer write them (static/js/ecg-viewer.js's clock and
duration do the same): the second a moment falls in, a duration cut to a tenth."""

import math

import pytest

from ecg.clock import clock, seconds_cut


@pytest.mark.parametrize(
    "seconds, written",
    [(0, "0:00:00"), (42.5, "0:00:42"), (42.999, "0:00:42"), (43.5, "0:00:43"), (3599.9, "0:59:59"), (3600, "1:00:00")],
)
def test_a_moment_is_the_second_it_falls_in(seconds, written):
    assert clock(seconds) == written


def test_no_time_is_a_dash():
    assert clock(None) == clock(math.nan) == "—"


def test_a_duration_never_reads_longer_than_it_is():
    assert seconds_cut(18.99) == 18.9 and seconds_cut(3.997) == 3.9 and seconds_cut(4.0) == 4.0
    assert seconds_cut(292.99, 2) == 292.99 and seconds_cut(0.3 * 3) == 0.9  # 0.8999999999999999
