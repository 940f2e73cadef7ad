"""Dataset loaders: the Kaggle CSV reader and the MIT-BIH record lists, leads and cache."""

import numpy as np
import pytest

from ecg.datasets.kaggle import read_kaggle_csv
from ecg.datasets.mitdb import ALL_RECORDS, DS1, DS2, PACED, load_mitdb, read_record
from tests.data import mitdb_dir


def _write_rows(path, rows):
    path.write_text("\n".join(",".join(f"{v:.18e}" for v in row) for row in rows) + "\n")


def test_kaggle_csv_reader_keeps_the_first_row(tmp_path):
    rng = np.random.default_rng(0)
    beats = rng.random((6, 187)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 4, 0])
    path = tmp_path / "mitbih_train.csv"
    _write_rows(path, np.column_stack([beats, labels]))
    x, y = read_kaggle_csv(path)
    assert x.shape == (6, 187) and x.dtype == np.float32
    assert y.tolist() == labels.tolist()  # no row lost to a header
    assert np.allclose(x, beats)


def test_kaggle_csv_reader_rejects_malformed_files(tmp_path):
    wrong_width = tmp_path / "wide.csv"
    _write_rows(wrong_width, np.zeros((2, 190)))
    with pytest.raises(ValueError, match="188 columns"):
        read_kaggle_csv(wrong_width)
    bad_label = tmp_path / "label.csv"
    _write_rows(bad_label, np.column_stack([np.zeros((2, 187)), [0, 7]]))
    with pytest.raises(ValueError, match="labels"):
        read_kaggle_csv(bad_label)


def test_record_lists():
    assert len(DS1) == len(DS2) == 22 and len(PACED) == 4
    assert not set(DS1) & set(DS2) and not (set(DS1) | set(DS2)) & set(PACED)
    assert len(ALL_RECORDS) == 48
    assert sorted(ALL_RECORDS) == sorted((mitdb_dir() / "RECORDS").read_text().split())


def test_lead_choice():
    assert read_record(mitdb_dir(), "100")[2] == "MLII"
    assert read_record(mitdb_dir(), "114")[2] == "MLII"  # MLII is 114's second signal
    assert read_record(mitdb_dir(), "102")[2] == "V5"  # no MLII at all


def test_cache_round_trip(tmp_path):
    fresh = load_mitdb(mitdb_dir(), ["101", "232"], cache_dir=tmp_path)
    assert list(tmp_path.glob("mitdb-*/101.npz"))
    cached = load_mitdb(mitdb_dir(), ["101", "232"], cache_dir=tmp_path)
    for field in ("beats", "labels", "records", "r_peaks"):
        assert np.array_equal(getattr(fresh, field), getattr(cached, field))
    assert set(fresh.records.tolist()) == {"101", "232"}
    assert fresh.class_counts()[1] == 3 + 1382 - 1  # S beats of 101 and 232; 232 ends on an S beat
