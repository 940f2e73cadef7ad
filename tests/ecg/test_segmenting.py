import numpy as np
import wfdb

from ecg.processing.segmenting import mean_heart_rate, segment

from ..data import mitdb_dir


def test_a_long_recording_cut_in_chunks_keeps_every_beat_once():
    values = wfdb.rdrecord(str(mitdb_dir() / "100"), channels=[0]).p_signal[:, 0]
    whole, whole_peaks = segment(values, 360.0)
    chunked, chunked_peaks = segment(values, 360.0, chunk=500)
    assert len(chunked_peaks) == len(whole_peaks) and np.array_equal(chunked_peaks, whole_peaks)
    assert len(np.unique(chunked_peaks)) == len(chunked_peaks)
    assert chunked.shape == whole.shape == (len(whole_peaks), 187)
    # Each chunk sets the window from its own median RR; on a steady rhythm the beats barely move.
    assert np.median(np.abs(chunked - whole)) < 0.01
    assert 70 < mean_heart_rate(whole_peaks, 360.0) < 80
