"""RR-interval features (bench.experiments.rr): synthetic R-peaks, no data, no training."""

import numpy as np
import pytest

from bench.experiments.rr import N_RR_FEATURES, RR_FEATURES, features_at, rr_available, rr_features, rr_input

FS = 360.0
COL = {name: i for i, name in enumerate(RR_FEATURES)}


def regular(n=30, rr_s=0.8, fs=FS):
    return (np.arange(n) * rr_s * fs).astype(np.int64) + 100


def test_shape_and_regular_rhythm():
    peaks = regular()
    f = rr_features(peaks, FS)
    assert f.shape == (len(peaks), N_RR_FEATURES) and f.dtype == np.float32
    assert np.allclose(f[:, COL["pre_rr"]], 0.8, atol=0.01)
    for name in ("pre_local", "post_local", "pre_post", "pre_median", "post_median", "local_median"):
        assert np.allclose(f[:, COL[name]], 1.0, atol=0.01), name


def test_premature_beat_short_pre_long_post():
    peaks = regular().astype(np.float64)
    k = 15
    peaks[k] -= 0.3 * FS  # 300 ms early: short pre-RR, compensatory pause after
    f = rr_features(peaks.astype(np.int64), FS)
    assert f[k, COL["pre_rr"]] == pytest.approx(0.5, abs=0.01)
    assert f[k, COL["post_rr"]] == pytest.approx(1.1, abs=0.01)
    assert f[k, COL["pre_local"]] < 0.7
    assert f[k, COL["post_local"]] > 1.3
    assert f[k, COL["pre_median"]] < 0.7 and f[k, COL["pre_post"]] < 0.5
    # its neighbours: the next beat has the long pre-RR, beats far away are unaffected
    assert f[k + 1, COL["pre_local"]] > 1.3
    assert f[k - 8, COL["pre_local"]] == pytest.approx(1.0, abs=0.01)


def test_edge_beats_are_neutral_and_finite():
    f = rr_features(regular(5), FS)
    assert np.isfinite(f).all()
    assert f[0, COL["pre_local"]] == pytest.approx(1.0)  # no previous interval: taken as local mean
    assert f[-1, COL["post_local"]] == pytest.approx(1.0)  # no next interval
    assert f[0, COL["pre_rr"]] == pytest.approx(0.8, abs=0.01)


def test_two_peaks_and_fewer():
    f = rr_features(np.array([0, 288]), FS)
    assert f.shape == (2, N_RR_FEATURES) and np.isfinite(f).all()
    assert rr_features(np.array([5]), FS).shape == (1, N_RR_FEATURES)
    assert rr_features(np.array([], dtype=np.int64), FS).shape == (0, N_RR_FEATURES)
    assert not rr_available(np.array([5])) and rr_available(np.array([5, 300]))


def test_long_gap_is_clipped():
    peaks = np.r_[regular(10), regular(10)[-1] + int(20 * FS) + regular(10) - 100]
    f = rr_features(peaks, FS)
    assert f.max() <= 4.0 and f[:, COL["pre_rr"]].max() <= 3.0


def test_features_at_subset_and_rr_input_mask():
    peaks = regular(10)
    sub = features_at(peaks, FS, peaks[:-1])  # the last peak gives no beat
    assert np.array_equal(sub, rr_features(peaks, FS)[:-1])
    with pytest.raises(ValueError):
        features_at(peaks, FS, peaks[:2] + 1)
    x = rr_input(sub, True)
    assert x.shape == (9, N_RR_FEATURES + 1) and (x[:, -1] == 1).all()
    masked = rr_input(sub, False)
    assert (masked == 0).all()
    mixed = rr_input(sub, np.arange(9) % 2 == 0)
    assert (mixed[1] == 0).all() and mixed[0, -1] == 1
