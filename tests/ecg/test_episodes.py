"""EC57 episode matching (ecg.evaluation.episodes, used by bench.rhythm_eval): every sample counted once."""

from ecg.evaluation.episodes import episode_match, rates


def test_two_reference_pauses_sharing_a_beat_found_as_one_read_100_percent_not_more():
    # beats at 0, 1000 and 2000: two pauses share the beat at 1000; the product reports one span over both
    m = episode_match([(0, 1000), (1000, 2000)], [(0, 2000)])
    assert (m["ref"], m["ref_detected"], m["test"], m["test_true"]) == (2, 2, 1, 1)
    assert m["ref_samples"] == m["test_samples"] == m["overlap_samples"] == 2001
    figures = rates(m)
    assert figures["duration_se"] == figures["duration_ppv"] == 100.0


def test_overlapping_detections_count_their_shared_time_once():
    m = episode_match([(100, 199)], [(0, 149), (120, 300)])
    assert m["test_samples"] == 301  # 0..300, not 150 + 181
    assert m["overlap_samples"] == 100
    assert rates(m)["duration_ppv"] == round(100 * 100 / 301, 2)


def test_disjoint_spans_keep_their_plain_sums():
    m = episode_match([(0, 9), (20, 29)], [(5, 24), (100, 109)])
    assert (m["ref_samples"], m["test_samples"], m["overlap_samples"]) == (20, 30, 10)
    assert (m["ref_detected"], m["test_true"]) == (2, 1)
