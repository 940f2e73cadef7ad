import io

from ecg.datasets.hostile import csv_wide, xlsx_far_cells, xlsx_wide_row  # noqa: F401 - the upload-limit tests' bombs
from ecg.datasets.synthetic import beat_csv, beat_rows  # noqa: F401 - the tests' upload material


def upload(name: str, data: bytes) -> io.BytesIO:
    fh = io.BytesIO(data)
    fh.name = name
    return fh


def beat_recording(user, patient, *, beats: int = 3, classify: bool = True):
    """A beat-file recording of ``beats`` rows, submitted through the service and classified unless told not."""
    from diagnostics import ingestion, services

    data = beat_csv(beats)
    parsed = ingestion.parse_beats(filename="b.csv", data=data)
    recording = services.recording_submit(user=user, patient=patient, parsed=parsed, data=data, filename="b.csv")
    if classify:
        services.recording_classify(recording_id=recording.pk, claim_token=f"t{recording.pk}")
        recording.refresh_from_db()
    return recording
