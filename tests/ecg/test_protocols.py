"""Scoring beats EC57 style: matching within 0.15 s, per-class Se/+P, intervals over records."""

import numpy as np

from ecg.evaluation.protocols import class_stats, confusion, match_beats, report


def test_each_detection_matches_the_nearest_reference_beat_once():
    matched = match_beats(np.array([10, 100, 205, 207, 400]), np.array([0, 95, 206, 300]), 360.0)
    assert matched.tolist() == [0, 1, 2, -1, -1]


def test_beats_without_a_reference_label_are_not_scored():
    m = confusion(np.array([0, 1, -1, 2]), np.array([0, 0, 1, 2]))
    assert m.sum() == 3 and m[1, 0] == 1


def test_sensitivity_and_positive_predictivity_per_class():
    stats = class_stats(confusion(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 0, 2])))
    assert stats["S"] == {"se": 0.5, "ppv": 0.5, "n": 2}
    assert stats["F"]["se"] is None


def test_the_report_pools_records_and_brackets_the_figure():
    a = confusion(np.array([1, 1, 0]), np.array([1, 1, 0]))
    b = confusion(np.array([1, 1, 0]), np.array([0, 0, 0]))
    rep = report({"a": a, "b": b}, draws=200)
    assert rep["classes"]["S"]["se"] == 0.5
    low, high = rep["classes"]["S"]["ci95"]["se"]
    assert low <= 0.5 <= high and high - low > 0.2
    assert set(rep["records"]) == {"a", "b"}
