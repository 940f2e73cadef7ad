import io

from ecg.datasets.hostile import csv_wide, xlsx_far_cells, xlsx_wide_row  # noqa: F401 - the upload-limit tests' bombs
from ecg.datasets.synthetic import beat_csv, beat_rows  # noqa: F401 - the tests' upload material


def upload(name: str, data: bytes) -> io.BytesIO:
    fh = io.BytesIO(data)
    fh.name = name
    return fh
