"""What EC57's run comparison reads of a rhythm report (ecg.evaluation.runs.report_stream): a test annotation file."""

import numpy as np

from ecg.evaluation.runs import compare, report_stream
from ecg.rhythm.events import Event

FS = 250.0


def test_the_reports_runs_are_v_and_a_ventricular_pair_it_left_out_ends_runs():
    r_peaks = np.arange(1, 15) * 150
    classes = np.array(list("NVVNNVNNVVNVNN"))
    events = [Event("v_couplet", int(r_peaks[1]), int(r_peaks[2]), 2, 100.0)]  # the pair at 8-9 is not reported
    stream = report_stream(r_peaks, classes, events)
    assert "".join(label for _, label in stream) == "NVVNNVNNQQNVNN"
    reference = [(int(t), c) for t, c in zip(r_peaks, classes, strict=True)]
    result = compare(reference, stream, FS)
    # the reference's second couplet is missed: the report holds no run there
    assert (result["couplet"]["ref"], result["couplet"]["ref_detected"]) == (2, 1)
    assert (result["couplet"]["test"], result["couplet"]["test_true"]) == (1, 1)


def test_a_reported_vf_episode_is_an_episode_and_its_detections_are_left_out():
    r_peaks = np.arange(1, 21) * 150
    classes = np.array(list("N" * 20))
    events = [Event("vf", int(r_peaks[5]) + 10, int(r_peaks[14]) - 10, 0, None)]
    stream = report_stream(r_peaks, classes, events)
    labels = [label for _, label in stream]
    assert labels.count("[") == 1 and labels.count("]") == 1 and labels.count("N") == 12
