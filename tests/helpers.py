import io

from ecg.datasets.synthetic import beat_csv, beat_rows  # noqa: F401 - the tests' upload material


def upload(name: str, data: bytes) -> io.BytesIO:
    fh = io.BytesIO(data)
    fh.name = name
    return fh
